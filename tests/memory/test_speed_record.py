"""After a run the memory-plan feature records the measured seconds per step beside the plan's prediction
(`metadata["memory_speed"]`): the denoiser's forwards are timed, and the prediction is for the GPU run on."""

from __future__ import annotations

import pytest

import videogen
from videogen.memory.timing import speed_record, timed_denoisers

torch = pytest.importorskip("torch")


class _Pipe:
    def __init__(self) -> None:
        self.transformer = torch.nn.Linear(4, 4)
        self.vae = torch.nn.Linear(4, 4)  # not a denoiser: not timed


def test_the_denoiser_forwards_are_timed_and_the_hooks_removed() -> None:
    pipe = _Pipe()
    with timed_denoisers(pipe, "cpu") as seen:
        for _ in range(3):
            pipe.transformer(torch.zeros(1, 4))
        pipe.vae(torch.zeros(1, 4))
    assert seen["forwards"] == 3 and seen["last"] >= seen["first"]
    pipe.transformer(torch.zeros(1, 4))
    assert seen["forwards"] == 3  # hooks gone after the call
    assert not pipe.transformer._forward_hooks and not pipe.transformer._forward_pre_hooks


def test_a_denoiser_compiled_whole_is_not_hooked_and_the_record_says_so() -> None:
    """Hooks on a module compiled whole run inside its graph, where a clock breaks fullgraph compiles."""
    pipe = _Pipe()
    pipe.transformer.compile()  # marks the module; nothing is traced until it runs
    with timed_denoisers(pipe, "cpu") as seen:
        assert not pipe.transformer._forward_hooks and not pipe.transformer._forward_pre_hooks
    assert seen["forwards"] == 0 and "compiled whole" in seen["untimed"]


def test_predicted_beside_measured_on_a_gpu_of_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEOGEN_ASSUME_GPU_GIB", "24")
    monkeypatch.setenv("VIDEOGEN_ASSUME_RAM_GIB", "64")
    p = videogen.prepare(model="wan2.1-t2v-1.3b", prompt="x")  # guidance 5: two forwards a step
    record = speed_record({"forwards": 100, "first": 0.0, "last": 250.0}, p.card, p.class_name, p.spec, p.plan, "cuda")
    assert record["measured_s_per_step"] == 5.0 and record["prediction"]["forwards_per_step"] == 2
    assert record["prediction"]["gpu"] == "RTX 4090 (24 GB)" and record["prediction"]["flops"] == "counted"
    assert record["measured_over_predicted"] == pytest.approx(5.0 / record["predicted_s_per_step"], rel=1e-3)


def test_off_a_gpu_the_record_says_why_there_is_no_prediction() -> None:
    p = videogen.prepare(model="tiny-wan", prompt="x")
    record = speed_record({"forwards": 4, "first": 1.0, "last": 2.0}, p.card, p.class_name, p.spec, p.plan, "cpu")
    assert record["predicted_s_per_step"] is None and "CUDA GPUs" in record["why"]
    assert record["measured_s_per_step"] == pytest.approx(1.0 / 2)  # 4 forwards, 2 a step (guidance)
