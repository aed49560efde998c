"""Apple Silicon: `mps` is picked when torch has it, and the plans it can't run are refused before load.

No Mac here: torch's answers are mocked (pick_device) or the device is named (VIDEOGEN_DEVICE=mps, a context
on "mps"), which is all the rule table reads.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from memtools import fields_for

import videogen
from videogen.catalog.lookup import resolve
from videogen.memory import MemoryPlan, preset
from videogen.memory.checks import apple_silicon
from videogen.memory.checks import resolve as resolve_plan_rules
from videogen.memory.context import context


@pytest.fixture
def on_mps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEOGEN_DEVICE", "mps")


def prepare(memory: Any) -> Any:
    fields = fields_for(resolve("tiny-wan"), memory=memory)
    fields.pop("progress")
    return videogen.prepare(**fields)


def test_mps_is_picked_when_there_is_no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    from videogen.runtime.devices import pick_device

    monkeypatch.delenv("VIDEOGEN_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device() == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == "cuda"  # CUDA first
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device() == "cpu"


def test_mps_loads_in_the_cards_dtypes() -> None:
    from videogen.runtime.devices import component_dtypes

    card = resolve("wan2.1-t2v-1.3b")
    assert component_dtypes(card, "mps") == component_dtypes(card, "cuda") != component_dtypes(card, "cpu")
    assert component_dtypes(card, "cpu") == {"default": "float32"}


@pytest.mark.parametrize(
    ("plan", "words"),
    [
        (MemoryPlan(quantization="bnb-4bit"), ["bitsandbytes", "CUDA", "Apple Silicon", "quanto-int8"]),
        ("nf4", ["bitsandbytes", "Apple Silicon"]),
        (MemoryPlan(quantization="bnb-8bit"), ["bitsandbytes", "quanto-int8"]),
        (MemoryPlan(quantization="torchao-int8"), ["torchao", "MPS", "quantization='quanto-int8'"]),
        (MemoryPlan(quantization="torchao-int4"), ["torchao", "quantization='quanto-int4'"]),
        (MemoryPlan(quantization="torchao-float8"), ["float8", "quanto-int8"]),
        (MemoryPlan(quantization="quanto-float8"), ["float8", "quanto-int8"]),
        (MemoryPlan(layerwise_casting="float8_e4m3fn"), ["layerwise_casting", "float8", "quanto-int8"]),
        (MemoryPlan(placement="group", use_stream=True), ["CUDA", "use_stream=False"]),
        (MemoryPlan(attention_backend="flash"), ["CUDA", "Apple Silicon", "native"]),
    ],
)
def test_plans_mps_cannot_run_are_refused_before_load(on_mps: None, plan: Any, words: list[str]) -> None:
    with pytest.raises(videogen.SpecError) as info:
        prepare(plan)
    assert info.value.field == "memory"
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_presets_on_mps_are_fixed_where_they_can_be(on_mps: None) -> None:
    low_fp8 = prepare("low-fp8").plan  # group offload with streams, float8 layerwise casting
    assert low_fp8.placement == "group" and not low_fp8.use_stream and low_fp8.layerwise_casting is None
    assert any("MPS has no float8" in note for note in low_fp8.notes)
    balanced = prepare("balanced").plan  # model offload onloads to the MPS device (refused on a CPU)
    assert balanced.placement == "model" and prepare("none").plan.placement == "none"


def test_torchao_presets_become_quanto_on_mps() -> None:
    ctx = context(resolve("tiny-wan"), "WanPipeline", "mps")
    problem = apple_silicon(preset("int8"), ctx)
    assert problem is not None and problem.fix == {"quantization": "quanto-int8"}
    fixed = resolve_plan_rules(preset("int8"), ctx, fix=True, refuse=False)
    assert fixed.quantization == "quanto-int8" and any("no MPS kernels" in n for n in fixed.notes)
    assert apple_silicon(preset("int8"), context(resolve("tiny-wan"), "WanPipeline", "cuda")) is None


def test_auto_on_mps_runs_everything_on_the_gpu_and_says_why(on_mps: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unified memory and no figure for what MPS lets a process hold: none, retried on an out-of-memory error."""
    monkeypatch.delenv("VIDEOGEN_ASSUME_GPU_GIB", raising=False)
    monkeypatch.setenv("VIDEOGEN_ASSUME_RAM_GIB", "64")
    plan = prepare("auto").plan
    (reason,) = [n for n in plan.notes if n.startswith("chosen by auto")]
    assert plan.name == "none" and plan.oom_retry
    assert "Apple GPU (device 'mps')" in reason and "no GPU" not in reason and "free RAM" not in reason
    monkeypatch.setenv("VIDEOGEN_ASSUME_RAM_GIB", "0.001")  # 1 MiB free: less than the tiny model's peak
    (reason,) = [n for n in prepare("auto").plan.notes if n.startswith("chosen by auto")]
    assert "is more than the 0.0 GiB of free RAM" in reason and "memory='int8'" in reason, reason


def test_the_plan_report_on_mps_speaks_of_its_gpu(on_mps: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIDEOGEN_ASSUME_GPU_GIB", raising=False)
    text = str(videogen.plan(model="tiny-wan"))
    assert "device mps" in text and "GPU, resident" in text and "Apple GPU: its memory is the RAM" in text
    assert "CPU run" not in text and "no GPU here" not in text and "no GPU (device" not in text
