"""`videogen plan` / `videogen.plan(spec)`: every catalog entry, offline, without weights."""

from __future__ import annotations

import json
from typing import Any

import pytest

import videogen
from videogen.memory.components import CONFIG_DIR, Component, annotated_components, arch_config
from videogen.memory.estimate import module_stats

REAL_CARDS = videogen.list_models(include_tiny=False)


@pytest.fixture(autouse=True)
def _no_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Planning must not load a pipeline (a simulation may borrow a tiny model's tokenizers)."""
    import videogen.pipeline

    real = videogen.pipeline.load_pipeline

    def refuse(card: Any, *args: Any, **kwargs: Any) -> Any:
        if not card.tiny:
            raise AssertionError("plan loaded weights")
        return real(card, *args, **kwargs)

    monkeypatch.setattr(videogen.pipeline, "load_pipeline", refuse)


def test_every_catalog_card_has_a_stored_architecture() -> None:
    missing = sorted({c.arch or c.name for c in REAL_CARDS if arch_config(c.arch) is None})
    assert not missing, f"no configs/<arch>.json for {missing}"


@pytest.mark.parametrize("arch", sorted(p.stem for p in CONFIG_DIR.glob("*.json")))
def test_stored_architectures_match_published_parameter_counts(arch: str) -> None:
    config = arch_config(arch)
    for name, expected in config.get("reference_params", {}).items():
        part = config["components"][name]
        stats = module_stats(Component(name, part["class"], part["library"], part["config"] or {"_": 0}))
        assert stats is not None, name
        assert abs(stats.params / expected - 1) < 0.02, (name, stats.params, expected)


def test_stored_classes_are_the_ones_each_pipeline_takes() -> None:
    from videogen.families import get_family

    for card in REAL_CARDS:
        family = get_family(card.family)
        for task in card.tasks:
            cls = card.pipeline_class(task, family)
            taken = {c.name: c.class_name for c in annotated_components(cls)}
            config = arch_config(card.arch)
            parts = {**config["components"], **config.get("by_pipeline", {}).get(cls, {})}
            for name, part in parts.items():
                if name not in taken:  # a component this pipeline does not take (Wan 2.2's second expert in V2V)
                    continue
                assert taken.get(name) == part["class"], (card.name, cls, name, part["class"], taken.get(name))


def test_plan_for_wan_14b_counts_the_transformer_and_estimates_every_preset() -> None:
    report = videogen.plan(model="wan2.1-t2v-14b", height=480, width=832, num_frames=81)
    rows = {c.name: c for c in report.components}
    assert abs(rows["transformer"].params / 14.29e9 - 1) < 0.02
    assert rows["transformer"].dtype == "bfloat16" and rows["vae"].dtype == "float32"
    peaks = {r.name: r.peak_gpu_bytes for r in report.presets}
    assert set(peaks) >= {"none", "balanced", "low", "minimal", "int8", "nf4", "low-fp8"}
    assert peaks["none"] > peaks["balanced"] > peaks["low"] >= peaks["minimal"] * 0.9
    assert peaks["int8"] < peaks["none"] and peaks["nf4"] < peaks["int8"]
    text = str(report)
    for word in ("transformer", "WanTransformer3DModel", "14.29 B", "balanced", "choice:", "reason:"):
        assert word in text, word
    assert json.dumps(report.to_dict())  # structured, JSON-friendly


@pytest.mark.parametrize("card", REAL_CARDS, ids=[c.name for c in REAL_CARDS])
def test_plan_works_for_every_catalog_card_offline(card: Any) -> None:
    report = videogen.plan(model=card.name)
    assert report.components and not report.unknown, report.unknown
    assert all(r.peak_gpu_bytes for r in report.presets)
    assert str(report).startswith(card.name)


def test_plan_for_a_tiny_model_and_an_explicit_plan() -> None:
    report = videogen.plan(model="tiny-wan", memory=videogen.MemoryPlan(placement="group"))
    assert report.plan.placement == "group" and "asked for" in report.reason
    assert {c.name for c in report.components} == {"text_encoder", "transformer", "vae"}


def test_plan_cli(capsys: pytest.CaptureFixture) -> None:
    from videogen.cli import main

    assert main(["plan", "--model", "wan2.1-t2v-1.3b", "--memory", "low"]) == 0
    out = capsys.readouterr().out
    assert "group offload" in out and "choice: low" in out
    assert main(["plan", "--model", "tiny-svd", "--memory", "balanced"]) == 2  # a GPU-only preset on a CPU


def test_plan_cli_simulates_unless_told_not_to(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from videogen.cli import main

    monkeypatch.setenv("VIDEOGEN_SIMULATE", "1")
    assert main(["plan", "--model", "tiny-wan"]) == 0
    assert "(simulated)" in capsys.readouterr().out
    assert main(["plan", "--model", "tiny-wan", "--no-simulate"]) == 0
    out = capsys.readouterr().out
    assert "(formula)" in out and "(simulated)" not in out
