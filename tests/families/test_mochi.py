"""Mochi: the catalog card, the step caches that run on it (cache-dit's and FasterCache's guidance branch
included), LoRA, context parallelism refused before load. The task against the direct diffusers call:
tests/test_matrix.py; the rules: tests/checks/test_spec_errors.py."""

from __future__ import annotations

import numpy as np
import pytest

import videogen
from videogen.families.mochi import FAMILY
from videogen.loading.pipelines import CACHE

PROMPT = "a white ferret leaps into a stream"
FIELDS = {"model": "tiny-mochi", "prompt": PROMPT, "seed": 3, "progress": False}


def test_catalog_card() -> None:
    card = videogen.resolve("mochi-1-preview")
    assert card.repo == "genmo/mochi-1-preview" and card.variant == "bf16" and card.tasks == ("t2v",)
    assert (card.height, card.width, card.num_frames, card.fps, card.steps) == (480, 848, 163, 30, 64)
    assert card.frame_rule == (6, 1) and card.size_multiple == 16 and card.arch == "mochi-10b"
    assert FAMILY.scheduler_config(card)["invert_sigmas"] is True  # as the checkpoint's scheduler counts time


@pytest.mark.parametrize(
    "cache",
    [
        {"method": "fastercache"},  # its guidance-skipping branch: the pipeline batches both passes
        {"method": "dbcache", "Fn": 1, "Bn": 0, "warmup": 2, "threshold": 0.5},  # cache-dit's Mochi adapter
    ],
)
def test_step_caches_skip_work(cache: dict) -> None:
    result = videogen.generate(steps=8, cache=cache, **FIELDS)
    assert result.metadata["cache"]["method"] == cache["method"]
    assert result.metadata["cache"]["skipped"] > 0.05


def test_lora_changes_the_video() -> None:
    lora = videogen.testing.tiny_lora("mochi")
    plain = videogen.generate(**FIELDS).frames
    with_lora = videogen.generate(loras=[(str(lora), 1.0)], **FIELDS).frames
    assert np.abs(plain.astype(int) - with_lora.astype(int)).max() > 0


def test_context_parallelism_is_refused_before_load(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    loads = CACHE.loads
    with pytest.raises(videogen.SpecError, match="mochi model, whose transformer declares no context-parallel plan"):
        videogen.prepare(model="tiny-mochi", prompt=PROMPT, parallel="ulysses=2")
    assert CACHE.loads == loads
