"""The opt-in simulated activations (memory/simulate.py) against real execution, replay, caching, and
`videogen.plan(..., simulate=True)`; `memory="auto"` never simulates."""

from __future__ import annotations

from typing import Any

import pytest

import videogen
from videogen.generation.plan_report import prepare_for_plan
from videogen.memory import simulate as sim_module

TINY_CARDS = [c for c in videogen.list_models() if c.tiny]
#: tiny models only: measured 2026-12-06 on every tiny model, simulation and real run at most 24,592 bytes apart (two
#: tensors of a 32x32 RGB image in float32 that the simulation holds at first-last-frame-to-video's transformer and VAE
#: entry); every other model within 12,304 bytes. Far below the 2 % that rules full sizes
ABS_SLACK = 32 * 1024
#: values that depend on what full-size weights compute, so no simulation can know them. HunyuanVideo 1.5's
#: transformer asks `torch.all(image_embeds == 0)` (its text-to-video switch) of the image encoder's output:
#: guessed False, which is what a real image gives; the figures are still checked
UNKNOWABLE = {"tiny-hunyuanvideo15-i2v": {"aten._local_scalar_dense.default"}}


@pytest.fixture
def no_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulate for real: no cached simulation read or written."""
    monkeypatch.setattr(sim_module, "_read", lambda key: None)
    monkeypatch.setattr(sim_module, "_write", lambda key, sim: None)
    sim_module._MEMO.clear()


def _float32(prepared: Any) -> Any:
    # what the tiny model runs in on a CPU: every component float32 (a card's own entries win over "default")
    return prepared.plan.replace(dtypes={**{name: "float32" for name in prepared.card.dtypes}, "default": "float32"})


@pytest.mark.parametrize("card", TINY_CARDS, ids=[c.name for c in TINY_CARDS])
def test_simulation_on_fake_weights_matches_the_real_run(card: Any, no_disk: None) -> None:
    """Per component, the bytes alive when it starts plus the most it adds: fake full weights vs the real call."""
    import torch

    from videogen.loading.pipelines import load_pipeline, pipeline_class

    prepared = prepare_for_plan(None, {"model": card.name, "memory": "none"})
    plan = _float32(prepared)
    simulated = sim_module.simulate(prepared, plan)
    pipe, _ = load_pipeline(
        prepared.card, prepared.family, pipeline_class(prepared.class_name), {"dtype": torch.float32}, False
    )
    real = sim_module.measure_call(prepared, pipe, plan)
    assert set(simulated.phases) == set(real.phases) and real.phases
    for name, phase in real.phases.items():
        mine = simulated.phases[name]
        assert abs(mine.total_bytes - phase.total_bytes) <= max(0.02 * phase.total_bytes, ABS_SLACK), (
            name,
            mine,
            phase,
        )
        assert mine.calls == phase.calls, name  # replayed calls are still counted
    assert abs(simulated.peak_bytes - real.peak_bytes) <= max(0.02 * real.peak_bytes, ABS_SLACK)
    assert set(simulated.guessed) <= UNKNOWABLE.get(card.name, set())  # every other value read back was known


def test_replaying_repeated_vae_calls_changes_no_figure(no_disk: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Wan decodes frame by frame with a causal cache: replayed decoder calls give the same figures."""
    from diffusers.models.autoencoders import autoencoder_kl_wan

    calls = {"n": 0}
    forward = autoencoder_kl_wan.WanDecoder3d.forward

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(autoencoder_kl_wan.WanDecoder3d, "forward", counted)
    prepared = prepare_for_plan(None, {"model": "tiny-wan", "num_frames": 33, "memory": "none"})
    figures = {}
    for replay in (True, False):
        monkeypatch.setattr(sim_module, "REPLAY_INNER", replay)
        sim_module._MEMO.clear()
        calls["n"] = 0
        result = sim_module.simulate(prepared)
        figures[replay] = ({k: v.total_bytes for k, v in result.phases.items()}, calls["n"])
    replayed, run = figures[True][0], figures[False][0]
    assert replayed["vae"] == run["vae"]
    for name in run:  # the other phases don't depend on the VAE's replay (a few bytes of run-to-run noise)
        assert abs(replayed[name] - run[name]) <= 64, name
    assert figures[True][1] < figures[False][1] == 9  # 9 latent frames decoded one by one; most replayed


def test_full_size_simulation_follows_the_spec_and_is_cached(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("VIDEOGEN_CACHE", str(tmp_path))
    sim_module._MEMO.clear()
    short = prepare_for_plan(
        None, {"model": "wan2.1-t2v-1.3b", "height": 240, "width": 416, "num_frames": 17, "memory": "none"}
    )
    long = prepare_for_plan(
        None, {"model": "wan2.1-t2v-1.3b", "height": 240, "width": 416, "num_frames": 33, "memory": "none"}
    )
    a, b = sim_module.simulate(short), sim_module.simulate(long)
    assert set(a.phases) == {"text_encoder", "transformer", "vae"}
    # twice the latent frames (5 → 9): about twice the transformer's activations; the text encoder's unchanged
    ratio = b.phases["transformer"].activation_bytes / a.phases["transformer"].activation_bytes
    assert 1.5 < ratio < 2.0, ratio
    assert a.phases["text_encoder"] == b.phases["text_encoder"]
    assert len(list((tmp_path / "simulations").glob("*.json"))) == 2
    sim_module._MEMO.clear()
    monkeypatch.setattr(sim_module, "_run", lambda *args: pytest.fail("simulated again instead of reading the cache"))
    assert sim_module.simulate(short) == a


def test_plan_uses_simulated_activations_when_asked_and_says_so() -> None:
    report = videogen.plan(model="tiny-wan", simulate=True)
    assert {c.activation_source for c in report.components} == {"simulated"}, str(report)
    assert "(simulated)" in str(report)
    for formula in (videogen.plan(model="tiny-wan", simulate=False), videogen.plan(model="tiny-wan")):
        assert {c.activation_source for c in formula.components} == {"formula"}  # the default


def test_a_pipeline_that_cant_be_simulated_falls_back_to_formulas_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any) -> Any:
        raise videogen.VideoGenError("could not simulate WanPipeline on fake tensors: RuntimeError: boom")

    monkeypatch.setattr(sim_module, "_run", fail)
    sim_module._MEMO.clear()
    report = videogen.plan(model="tiny-wan", height=48, simulate=True)
    assert {c.activation_source for c in report.components} == {"formula"}
    assert any("not simulated" in u and "boom" in u for u in report.unknown)
    assert all(r.peak_gpu_bytes for r in report.presets)


def test_auto_never_simulates_but_plan_can_choose_with_simulated_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a GPU (assumed here) `memory="auto"` decides from formulas; `plan(simulate=True)` decides from one
    simulation per distinct activation setting of the presets."""
    monkeypatch.setenv("VIDEOGEN_ASSUME_GPU_GIB", "16")
    monkeypatch.setenv("VIDEOGEN_ASSUME_RAM_GIB", "64")
    real = sim_module.simulate_plans
    seen: list[int] = []

    def refuse(*args: Any) -> Any:
        raise AssertionError("auto simulated")

    monkeypatch.setattr(sim_module, "simulate_plans", refuse)
    plan = videogen.generation.flow.prepare(model="tiny-wan", prompt="x", memory="auto").plan
    assert plan.name == "none" and plan.oom_retry, plan.notes  # the notes hold auto's reason

    def spy(subject: Any, plans: list[Any]) -> Any:
        seen.append(len(plans))
        return real(subject, plans)

    monkeypatch.setattr(sim_module, "simulate_plans", spy)
    report = videogen.plan(model="tiny-wan", simulate=True)
    assert seen and report.plan.name == "none" and "(assumed: VIDEOGEN_ASSUME_GPU_GIB)" in report.reason
    assert {c.activation_source for c in report.components} == {"simulated"}
