"""Latte: the catalog card, a step cache in the cache context videogen sets, one frame (the temporal table skipped).
Text-to-video against the direct diffusers call: tests/test_matrix.py; the rules (the frame count the transformer
was made for, sizes, refused caches): tests/checks/test_spec_errors.py."""

from __future__ import annotations

import pytest

import videogen

PROMPT = "a white ferret leaps into a stream"


def test_catalog_card() -> None:
    card = videogen.resolve("latte-1")
    assert card.repo == "maxin-cn/Latte-1" and card.tasks == ("t2v",)
    assert (card.height, card.width, card.num_frames, card.steps, card.guidance_scale) == (512, 512, 16, 50, 7.5)
    assert card.call_defaults == {"clean_caption": False}


def test_taylorseer_skips_work_in_the_cache_context() -> None:
    cache = {"method": "taylorseer", "interval": 2, "warmup": 2}
    result = videogen.generate(model="tiny-latte", prompt=PROMPT, steps=6, cache=cache, seed=3, progress=False)
    assert result.metadata["cache"]["method"] == "taylorseer" and result.metadata["cache"]["skipped"] > 0.2
    assert result.frames.shape == (4, 32, 32, 3)


def test_one_frame_skips_the_temporal_table() -> None:
    result = videogen.generate(model="tiny-latte", prompt=PROMPT, num_frames=1, seed=3, progress=False)
    assert result.frames.shape == (1, 32, 32, 3) and result.metadata["call"]["video_length"] == 1


def test_snap_rounds_frames_to_the_transformer_s() -> None:
    with pytest.warns(videogen.SnapWarning, match="video_length"):
        prepared = videogen.prepare(model="tiny-latte", prompt=PROMPT, num_frames=7, snap=True)
    assert prepared.spec.num_frames == 4


def test_a_folder_outside_the_catalog_takes_its_transformer_s_frame_count() -> None:
    from videogen.families.tiny import tiny_folder

    card = videogen.resolve(str(tiny_folder("latte", "t2v")))  # a Latte folder: video_length 4, not Latte-1's 16
    assert card.family == "latte" and card.num_frames == 4
    with pytest.raises(videogen.SpecError, match="num_frames=4") as info:
        videogen.prepare(model=card.name, prompt=PROMPT, height=32, width=32, num_frames=16)
    assert info.value.field == "num_frames"
