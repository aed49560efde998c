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
    import videogen.loading.pipelines

    real = videogen.loading.pipelines.load_pipeline

    def refuse(card: Any, *args: Any, **kwargs: Any) -> Any:
        if not card.tiny:
            raise AssertionError("plan loaded weights")
        return real(card, *args, **kwargs)

    monkeypatch.setattr(videogen.loading.pipelines, "load_pipeline", refuse)


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
                admitted = {taken.get(name)} | _union_members(cls, name)  # LTX-2.3's vocoder: the union's second
                admitted_base = _is_subclass(part["class"], part["library"], taken[name])  # SANA's Gemma2Model
                assert part["class"] in admitted or admitted_base, (card.name, cls, name, part["class"], taken[name])


def _is_subclass(class_name: str, library: str, annotated: str) -> bool:
    """Whether the stored class is a subclass of the annotated one: an annotation may name a base class
    (SanaVideoPipeline's Gemma2PreTrainedModel), which has no layers to count; the checkpoint holds a subclass."""
    from videogen.memory.components import component_class

    stored = component_class(class_name, library)
    return any(base.__name__ == annotated for base in stored.__mro__[1:])


def _union_members(pipeline_class: str, name: str) -> set[str]:
    """The classes a pipeline's `__init__` annotation of `name` admits when it is a union (else none)."""
    import typing

    from videogen.runtime.lock import diffusers_attr

    hint = typing.get_type_hints(diffusers_attr(pipeline_class).__init__).get(name)
    return {c.__name__ for c in typing.get_args(hint) if isinstance(c, type)}


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
    from videogen.cli.command import main

    assert main(["plan", "--model", "wan2.1-t2v-1.3b", "--memory", "low"]) == 0
    out = capsys.readouterr().out
    assert "group offload" in out and "choice: low" in out
    assert main(["plan", "--model", "tiny-svd", "--memory", "balanced"]) == 2  # a GPU-only preset on a CPU


def test_plan_cli_uses_formulas_unless_asked_to_simulate(capsys: pytest.CaptureFixture) -> None:
    from videogen.cli.command import main

    for flags in ([], ["--no-simulate"]):  # --no-simulate: the default, still accepted
        assert main(["plan", "--model", "tiny-wan", *flags]) == 0
        out = capsys.readouterr().out
        assert "(formula)" in out and "(simulated)" not in out
    assert main(["plan", "--model", "tiny-wan", "--simulate"]) == 0
    assert "(simulated)" in capsys.readouterr().out


ASSUME = {"VIDEOGEN_ASSUME_RAM_GIB": "256"}  # so the choice doesn't depend on this machine's free RAM


@pytest.mark.parametrize(("gib", "expected"), [("80", "none"), ("24", "block")])
def test_auto_plans_for_an_assumed_gpu(gib: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """VIDEOGEN_ASSUME_GPU_GIB (tests, benchmarks): auto decides as on an empty GPU of that size, from formulas."""
    for key, value in {**ASSUME, "VIDEOGEN_ASSUME_GPU_GIB": gib}.items():
        monkeypatch.setenv(key, value)
    prepared = videogen.prepare(model="wan2.1-t2v-1.3b" if expected == "none" else "wan2.1-t2v-14b", prompt="x")
    assert prepared.plan.name == expected and prepared.plan.oom_retry
    assert any("assumed: VIDEOGEN_ASSUME_GPU_GIB" in note for note in prepared.plan.notes)
    report = videogen.plan(model="wan2.1-t2v-14b", height=480, width=832, num_frames=81)
    assert report.device.startswith("cuda (assumed") and report.total_gpu_bytes == int(gib) * 1024**3
    assert {c.activation_source for c in report.components} == {"formula"}
    assert not any(r.refused and "needs a GPU" in r.refused for r in report.presets)


def test_an_assumed_gpu_size_that_is_not_a_number_is_a_spec_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEOGEN_ASSUME_GPU_GIB", "lots")
    with pytest.raises(videogen.SpecError, match="VIDEOGEN_ASSUME_GPU_GIB") as info:
        videogen.prepare(model="tiny-wan", prompt="x")
    assert info.value.field == "VIDEOGEN_ASSUME_GPU_GIB"


def test_auto_decides_without_simulating() -> None:
    """memory="auto" on a (assumed) GPU: weights and formulas only; the simulation module is never imported."""
    import os
    import subprocess
    import sys

    code = (
        "import sys, videogen\n"
        "p = videogen.prepare(model='hunyuanvideo', prompt='x')\n"
        "assert p.plan.name == 'low', p.plan.notes\n"
        "assert 'videogen.memory.simulate' not in sys.modules\n"
        "assert 'videogen.generation.plan_report' not in sys.modules\n"
    )
    env = {**os.environ, **ASSUME, "VIDEOGEN_ASSUME_GPU_GIB": "24"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def test_plan_lives_beside_generate() -> None:
    import videogen.generation.plan_report

    assert videogen.plan is videogen.generation.plan_report.plan
    assert not hasattr(videogen.memory, "plan")  # out of memory, which imports nothing of generation


def test_memory_imports_nothing_of_generation() -> None:
    """generation uses memory, never the reverse: no chain of imports (lazy ones included) from any memory
    module to generation or planning."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("videogen", cache_dir=None)
    memory = sorted(m for m in graph.modules if m == "videogen.memory" or m.startswith("videogen.memory."))
    assert len(memory) > 5
    chains = {
        (m, target): graph.find_shortest_chain(importer=m, imported=target)
        for m in memory
        for target in ("videogen.generation.flow", "videogen.generation.plan_report")
    }
    assert not {k: v for k, v in chains.items() if v}
    simulate_importers = graph.find_modules_that_directly_import("videogen.memory.simulate")
    assert simulate_importers <= {"videogen.generation.plan_report", "videogen.cli.bench.memory"}, simulate_importers
