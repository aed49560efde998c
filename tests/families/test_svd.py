"""Stable Video Diffusion: no prompt; guidance and micro-conditioning reach the pipeline; playback fps; snapping;
catalog and local cards. i2v (guidance, micro-conditioning, size) against the direct diffusers call:
tests/test_matrix.py; the rules: tests/checks/test_spec_errors.py."""

from __future__ import annotations

import diffusers
import pytest
from helpers import image

import videogen
from videogen.catalog.lookup import resolve
from videogen.testing import tiny_folder

MODEL = "tiny-svd"


def generate(**fields) -> videogen.VideoResult:
    return videogen.generate(**{"model": MODEL, "image": image(), "seed": 7, "progress": False, **fields})


def test_guidance_and_micro_conditioning_change_the_video() -> None:
    """The mapping tests (tests/test_matrix.py) are honest: each of these knobs reaches the pipeline."""
    base = generate().frames
    assert (generate(guidance_scale=2.0).frames != base).any()
    assert (generate(extra={"fps": 20}).frames != base).any()
    assert (generate(extra={"motion_bucket_id": 10}).frames != base).any()


def test_playback_fps_is_not_the_conditioning_fps() -> None:
    """spec.fps is the playback rate only; extra's fps conditions, playback stays the card's (and its frames
    equal the direct call's): tests/test_matrix.py."""
    default = generate()
    assert default.fps == 7 and default.spec.fps == 7
    faster = generate(fps=24)
    assert faster.fps == 24
    assert (faster.frames == default.frames).all()  # playback rate only; conditioning fps stays 7


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
