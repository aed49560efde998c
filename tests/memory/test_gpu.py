"""GPU-only memory paths. Skipped without CUDA; run on a GPU machine with `pytest -m gpu tests/memory`."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
import torch
from helpers import in_place
from memtools import cached_pipeline, frame_diff, generate, plain_frames

import videogen
from videogen.catalog.lookup import resolve
from videogen.memory import MemoryPlan

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
CARD = resolve("tiny-wan")


def test_model_offload_in_place_and_frames_close() -> None:
    result = generate(CARD, "balanced")
    assert all(info["accelerate_hook"] for info in in_place(cached_pipeline(CARD)).values())
    assert result.metadata["memory"]["peak_gpu_bytes"] > 0
    assert frame_diff(result.frames, plain_frames(CARD))[1] <= 2.0  # bf16 on a GPU: same placement math


def test_sequential_offload_gets_its_own_load() -> None:
    from videogen.loading.pipelines import CACHE

    generate(CARD, "none")
    loads = CACHE.loads
    generate(CARD, MemoryPlan(placement="sequential"))
    assert CACHE.loads == loads + 1  # diffusers can't undo it in place


def test_streamed_group_offload_low_and_minimal() -> None:
    base = plain_frames(CARD)
    for name in ("low", "minimal"):
        result = generate(CARD, name)
        plan = result.metadata["memory_plan"]
        assert plan.get("use_stream") and plan.get("record_stream")
        assert in_place(cached_pipeline(CARD))["transformer"]["group_offload"]
        assert frame_diff(result.frames, base)[1] <= 2.0


def test_auto_on_a_gpu_chooses_with_a_reason() -> None:
    report = videogen.plan(model="wan2.1-t2v-14b", height=480, width=832, num_frames=81)
    assert report.free_gpu_bytes and report.plan.name in ("none", "balanced", "low", "minimal")
    assert "free GPU memory" in report.reason or "no lossless preset" in report.reason


@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None, reason="needs bitsandbytes")
def test_nf4_quantization() -> None:
    result = generate(CARD, "nf4")
    assert in_place(cached_pipeline(CARD))["transformer"]["quantized"]
    assert frame_diff(result.frames, plain_frames(CARD))[1] <= 8.0


def test_flash_attention_backend_if_installed() -> None:
    if importlib.util.find_spec("flash_attn") is None:
        with pytest.raises(videogen.MissingDependencyError, match="flash"):
            generate(CARD, MemoryPlan(attention_backend="flash"))
        return
    result = generate(CARD, MemoryPlan(attention_backend="flash"))
    assert in_place(cached_pipeline(CARD))["transformer"]["attention_backends"] == ["flash"]
    assert frame_diff(result.frames, plain_frames(CARD))[1] <= 2.0


def test_bench_on_the_gpu_small_size(tmp_path: Any) -> None:
    from videogen.cli.bench import memory as bench

    assert (
        bench.main(
            [
                "memory",
                "--model",
                "wan2.1-t2v-1.3b",
                "--height",
                "240",
                "--width",
                "416",
                "--num-frames",
                "9",
                "--steps",
                "2",
                "--presets",
                "none,low",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
