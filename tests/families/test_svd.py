"""Stable Video Diffusion: i2v on the tiny model equals the direct diffusers call; no prompt; guidance and
micro-conditioning mapping; the family's rules."""

from __future__ import annotations

import diffusers
import numpy as np
import pytest
from helpers import assert_frames_close, direct_frames, image
from PIL import Image

import videogen
from videogen.catalog import resolve
from videogen.testing import tiny_folder

MODEL = "tiny-svd"
CLASS = "StableVideoDiffusionPipeline"


def direct(seed: int = 7, **kwargs) -> np.ndarray:
    args = {"image": Image.fromarray(image()), "height": 32, "width": 32, "num_frames": 4,
            "num_inference_steps": 2, "max_guidance_scale": 3.0}
    args.update(kwargs)
    return direct_frames(CLASS, tiny_folder("svd", "i2v"), seed=seed, **args)


def generate(**fields) -> videogen.VideoResult:
    return videogen.generate(**{"model": MODEL, "image": image(), "seed": 7, "progress": False, **fields})


CASES = {
    # name: (videogen fields, direct-call arguments besides the defaults above)
    "defaults": ({}, {}),
    "guidance": ({"guidance_scale": 2.0}, {"max_guidance_scale": 2.0}),
    "micro": ({"extra": {"fps": 12, "motion_bucket_id": 40, "noise_aug_strength": 0.1, "decode_chunk_size": 2,
                         "min_guidance_scale": 1.5}},
              {"fps": 12, "motion_bucket_id": 40, "noise_aug_strength": 0.1, "decode_chunk_size": 2,
               "min_guidance_scale": 1.5}),
    "size-frames-steps": ({"height": 40, "width": 48, "num_frames": 3, "steps": 3},
                          {"height": 40, "width": 48, "num_frames": 3, "num_inference_steps": 3}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_svd_matches_direct_diffusers_call(case: str) -> None:
    fields, direct_args = CASES[case]
    result = generate(**fields)
    assert result.metadata["model"]["pipeline"] == CLASS
    assert_frames_close(result.frames, direct(**direct_args))


def test_guidance_and_micro_conditioning_change_the_video() -> None:
    """The mapping tests above are honest: each of these knobs reaches the pipeline."""
    base = generate().frames
    assert (generate(guidance_scale=2.0).frames != base).any()
    assert (generate(extra={"fps": 20}).frames != base).any()
    assert (generate(extra={"motion_bucket_id": 10}).frames != base).any()


def test_playback_fps_is_not_the_conditioning_fps() -> None:
    default = generate()
    assert default.fps == 7 and default.spec.fps == 7
    faster = generate(fps=24)
    assert faster.fps == 24
    assert (faster.frames == default.frames).all()  # playback rate only; conditioning fps stays 7
    conditioned = generate(extra={"fps": 24})
    assert conditioned.fps == 7  # playback stays the card default
    assert_frames_close(conditioned.frames, direct(fps=24))


def test_call_kwargs_map_guidance_and_pass_no_guidance_scale() -> None:
    p = videogen.prepare(model=MODEL, image=image(), guidance_scale=2.5, seed=1, extra={"fps": 9})
    params = set(diffusers.StableVideoDiffusionPipeline.__call__.__code__.co_varnames)
    kwargs = p.family.call_kwargs(p.spec, p.card, p.media, params)
    assert "guidance_scale" not in kwargs and "prompt" not in kwargs
    assert kwargs["max_guidance_scale"] == 2.5 and kwargs["fps"] == 9
    assert "min_guidance_scale" not in kwargs  # the pipeline default (1.0) stays
    # even if a caller's parameter set claims guidance_scale, it is not passed
    kwargs = p.family.call_kwargs(p.spec, p.card, p.media, params | {"guidance_scale"})
    assert "guidance_scale" not in kwargs


def test_on_step_fires_steps_times() -> None:
    calls: list[tuple[int, int]] = []
    generate(steps=3, on_step=lambda i, n: calls.append((i, n)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


# ---- rules ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"prompt": "a cat"}, "prompt", ["no text encoder", "leave prompt out"]),
        ({"negative_prompt": "blurry"}, "negative_prompt", ["no text encoder", "negative_prompt"]),
        ({"image": None}, "image", ["image-to-video", "image="]),
        ({"num_frames": 9}, "num_frames", ["at most 8", "num_frames=8"]),
        ({"height": 36}, "height", ["multiple of 8", "height=40"]),
        ({"width": 20}, "width", ["multiple of 8", "width=24"]),
        ({"guidance_scale": 0.5}, "guidance_scale", ["min_guidance_scale", "guidance_scale=1.0"]),
        ({"guidance_scale": 2.0, "extra": {"min_guidance_scale": 2.5}}, "guidance_scale",
         ["min_guidance_scale (2.5)", "guidance_scale=2.5"]),
        ({"extra": {"max_guidance_scale": 2.0}}, "extra", ["max_guidance_scale", "guidance_scale=2.0"]),
        ({"extra": {"guidance_scale": 2.0}}, "extra", ["guidance_scale", "spec field"]),
        ({"extra": {"fps": 0}}, "extra", ["'fps'", "at least 1"]),
        ({"extra": {"fps": 7.5}}, "extra", ["'fps'", "whole number"]),
        ({"extra": {"motion_bucket_id": -1}}, "extra", ["motion_bucket_id", "at least 0"]),
        ({"extra": {"noise_aug_strength": -0.1}}, "extra", ["noise_aug_strength", "at least 0"]),
        ({"extra": {"decode_chunk_size": 0}}, "extra", ["decode_chunk_size", "at least 1"]),
        ({"extra": {"min_guidance_scale": "low"}}, "extra", ["min_guidance_scale", "a number"]),
        ({"extra": {"motion_bucket": 3}}, "extra", ["motion_bucket", "motion_bucket_id"]),
        ({"video": [image()]}, "task", ["v2v"]),
    ],
)
def test_svd_rules_raise_spec_error(fields: dict, field: str, words: list[str]) -> None:
    with pytest.raises(videogen.SpecError) as info:
        generate(**fields)
    assert info.value.field == field
    for word in words:
        assert word in str(info.value), str(info.value)


def test_fps_is_allowed_in_extra() -> None:
    p = videogen.prepare(model=MODEL, image=image(), seed=1, extra={"fps": 6})
    assert p.spec.extra == {"fps": 6} and p.spec.fps == 7


def test_snap_rounds_frames_size_and_guidance() -> None:
    with pytest.warns(videogen.SnapWarning):
        result = generate(num_frames=12, height=36, guidance_scale=0.5, snap=True)
    assert result.frames.shape == (8, 40, 32, 3)
    assert result.spec.guidance_scale == 1.0
    assert set(result.metadata["snapped"]) == {"num_frames", "height", "guidance_scale"}


# ---- catalog -------------------------------------------------------------------------------------------
def test_catalog_cards() -> None:
    base = resolve("stabilityai/stable-video-diffusion-img2vid")
    xt = resolve("stabilityai/stable-video-diffusion-img2vid-xt")
    assert (base.num_frames, base.max_frames, xt.num_frames, xt.max_frames) == (14, 14, 25, 25)
    for card in (base, xt):
        assert card.family == "svd" and card.tasks == ("i2v",) and card.variant == "fp16"
        assert (card.height, card.width, card.fps, card.steps, card.guidance_scale) == (576, 1024, 7, 25, 3.0)
        assert card.dtypes == {"default": "float16"} and card.size_multiple == 8 and card.frame_rule is None


def test_local_folder_gets_an_svd_card_with_its_frame_count() -> None:
    card = resolve(str(tiny_folder("svd", "i2v")))
    assert card.family == "svd" and card.variant is None
    assert card.num_frames == card.max_frames == 8  # the tiny UNet's num_frames
