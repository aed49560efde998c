"""Wan: every task end to end on tiny models, equal to the direct diffusers call; Wan's rules."""

from __future__ import annotations

import pytest
from helpers import assert_frames_close, direct_frames, image, video
from PIL import Image

import videogen
from videogen.testing import tiny_folder

PROMPT = "a white ferret leaps into a stream"

CASES = {
    # name: (catalog model, pipeline class, inputs, tiny variant)
    "t2v": ("tiny-wan", "WanPipeline", {}, "t2v"),
    "i2v": ("tiny-wan-i2v", "WanImageToVideoPipeline", {"image": image()}, "i2v"),
    "flf2v": ("tiny-wan-flf2v", "WanImageToVideoPipeline",
              {"image": image(), "last_image": image(seed=1)}, "flf2v"),
    "v2v": ("tiny-wan", "WanVideoToVideoPipeline", {"video": video()}, "t2v"),
    "2.2-a14b": ("tiny-wan2.2", "WanPipeline", {}, "a14b"),
    "2.2-ti2v-t2v": ("tiny-wan2.2-ti2v", "WanPipeline", {}, "ti2v"),
    "2.2-ti2v-i2v": ("tiny-wan2.2-ti2v", "WanImageToVideoPipeline", {"image": image()}, "ti2v"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_wan_task_matches_direct_diffusers_call(case: str) -> None:
    model, cls, inputs, variant = CASES[case]
    result = videogen.generate(model=model, prompt=PROMPT, seed=7, progress=False, **inputs)
    spec = result.spec
    assert result.frames.dtype.name == "uint8" and result.frames.shape[1:] == (32, 32, 3)
    assert result.metadata["model"]["pipeline"] == cls

    direct_inputs = {k: ([Image.fromarray(f) for f in v] if k == "video" else Image.fromarray(v))
                     for k, v in inputs.items()}
    kwargs = dict(prompt=PROMPT, height=32, width=32, num_inference_steps=spec.steps,
                  guidance_scale=spec.guidance_scale, **direct_inputs)
    if case != "v2v":
        kwargs["num_frames"] = spec.num_frames
    if model == "tiny-wan2.2":
        kwargs["guidance_scale_2"] = 3.0
    expected = direct_frames(cls, tiny_folder("wan", variant), seed=7, **kwargs)
    assert_frames_close(result.frames, expected)


def test_same_seed_same_video_other_seed_other_video() -> None:
    a = videogen.generate(model="tiny-wan", prompt=PROMPT, seed=3, progress=False).frames
    b = videogen.generate(model="tiny-wan", prompt=PROMPT, seed=3, progress=False).frames
    c = videogen.generate(model="tiny-wan", prompt=PROMPT, seed=4, progress=False).frames
    assert (a == b).all()
    assert (a != c).any()


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"num_frames": 8}, "num_frames", ["4k+1", "num_frames=9"]),
        ({"height": 40}, "height", ["multiple of 16", "height=48"]),
        ({"width": 20}, "width", ["multiple of 16", "width=16"]),
        ({"model": "tiny-wan2.2-ti2v", "height": 48}, "height", ["multiple of 32", "height=64"]),
        ({"model": "tiny-wan-i2v"}, "image", ["image-to-video", "image="]),
        ({"model": "tiny-wan-flf2v", "task": "flf2v", "image": image()}, "last_image", ["last_image"]),
        ({"task": "v2v"}, "video", ["video"]),
        ({"extra": {"strenght": 0.5}}, "extra", ["strenght", "not a parameter"]),
        ({"extra": {"height": 64}}, "extra", ["height", "spec field"]),
        ({"image": image()}, "task", ["i2v", "tiny-wan-i2v"]),
        ({"model": "tiny-wan2.2", "video": video()}, "task", ["video-to-video", "tiny-wan"]),
    ],
)
def test_wan_rules_raise_spec_error(fields: dict, field: str, words: list[str]) -> None:
    spec = {"model": "tiny-wan", "prompt": PROMPT, "progress": False, **fields}
    progress = spec.pop("progress")
    with pytest.raises(videogen.SpecError) as info:
        videogen.generate(progress=progress, **spec)
    assert info.value.field == field
    for word in words:
        assert word in str(info.value)


def test_snap_rounds_with_a_warning_and_records_it() -> None:
    with pytest.warns(videogen.SnapWarning, match="num_frames"):
        result = videogen.generate(model="tiny-wan", prompt=PROMPT, num_frames=7, height=40, snap=True,
                                   seed=1, progress=False)
    assert result.num_frames == 5 or result.num_frames == 9
    assert result.spec.num_frames == result.num_frames
    assert result.height == 48 and result.spec.height == 48
    assert result.metadata["snapped"]["num_frames"]["requested"] == 7
    assert result.metadata["snapped"]["height"] == {"requested": 40, "used": 48,
                                                    "rule": "height must be a multiple of 16"}


def test_v2v_step_callback_counts_the_strength_share_of_the_schedule() -> None:
    calls: list[tuple[int, int]] = []
    videogen.generate(model="tiny-wan", prompt=PROMPT, video=video(), steps=5, seed=1, progress=False,
                      extra={"strength": 0.6}, on_step=lambda s, t: calls.append((s, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
