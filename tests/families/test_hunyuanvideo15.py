"""HunyuanVideo 1.5: guidance through the guider component (set for the call, put back after), the image-to-video
size buckets, the step caches it takes and refuses, the catalog cards. t2v and i2v against the direct diffusers
call: tests/test_matrix.py; the rules: tests/checks/test_spec_errors.py."""

from __future__ import annotations

import pytest
from helpers import image

import videogen
from videogen.families.hunyuanvideo15 import FAMILY, TARGET_SIZE, buckets
from videogen.loading.pipelines import CACHE

PROMPT = "a white ferret leaps into a stream"


def _cached_pipeline(model: str):
    keys = [k for k in CACHE.keys() if k[0] == model]  # noqa: SIM118 (no __iter__)
    assert keys, f"{model} is not loaded"
    return CACHE.get(keys[-1], lambda: None).base


@pytest.mark.parametrize(("target", "patch"), [(640, 16), (960, 16), (32, 4)])
def test_buckets_are_the_sizes_the_i2v_pipeline_keeps(target: int, patch: int) -> None:
    """The listed sizes are the pipeline's crop sizes that an image of that size comes out at: an image videogen
    fitted to one of them makes a video of exactly that size (the other crop sizes would change it again)."""
    from diffusers.pipelines.hunyuan_video1_5.image_processor import (
        HunyuanVideo15ImageProcessor,
        generate_crop_size_list,
    )

    processor = HunyuanVideo15ImageProcessor(vae_scale_factor=patch)
    kept = [
        hw
        for hw in generate_crop_size_list(target, patch)
        if processor.calculate_default_height_width(*hw, target) == hw
    ]
    assert list(buckets(target, patch)) == kept and len(kept) > 10


def test_guidance_goes_to_the_guider_for_the_call_only() -> None:
    """During the call the guider has the spec's scale (read from the step callback); after it, the checkpoint's."""
    fields = {"model": "tiny-hunyuanvideo15", "prompt": PROMPT, "steps": 1, "seed": 3, "progress": False}
    videogen.generate(**fields)
    pipe = _cached_pipeline("tiny-hunyuanvideo15")
    seen: list[float] = []
    result = videogen.generate(
        **fields, guidance_scale=2.0, on_step=lambda i, n: seen.append(pipe.guider.guidance_scale)
    )
    assert seen == [2.0] and pipe.guider.guidance_scale == 6.0  # the spec's scale for the call, then put back
    assert "guidance_scale" not in result.metadata["call"]  # the pipeline takes none


def test_i2v_size_follows_the_image_to_its_bucket() -> None:
    wide = videogen.generate(
        model="tiny-hunyuanvideo15-i2v", prompt=PROMPT, image=image(30, 60), steps=1, seed=1, progress=False
    )
    assert (wide.height, wide.width) == (20, 40) and wide.frames.shape[1:3] == (20, 40)
    with pytest.raises(videogen.SpecError, match=r"only runs at .*36x28.*height=36") as info:
        videogen.generate(model="tiny-hunyuanvideo15-i2v", prompt=PROMPT, image=image(), height=40, width=28)
    assert info.value.field == "height"


def test_step_caches_skip_or_are_refused_with_the_reason() -> None:
    """The methods it takes skip block computations (settings aggressive enough for random weights, as
    tests/speed/test_step_cache.py uses); First Block Cache is refused before load, saying why."""
    fields = {"model": "tiny-hunyuanvideo15", "prompt": PROMPT, "steps": 4, "guidance_scale": 1.0, "seed": 3}
    fields["progress"] = False
    plain = videogen.generate(**fields).frames
    for value in ({"method": "taylorseer", "interval": 2, "warmup": 1}, "pab", "fastercache"):
        result = videogen.generate(**fields, cache=value)
        assert result.metadata["cache"]["skipped"] > 0.04, value  # the hook found its modules and skipped
        assert result.frames.shape == plain.shape, value  # (random weights: how close says nothing of a real model)
    with pytest.raises(videogen.SpecError, match="'fbc' can't run here: .*block registry.*'taylorseer' or 'pab'"):
        videogen.generate(model="tiny-hunyuanvideo15", prompt=PROMPT, steps=6, cache="fbc")


def test_catalog_cards() -> None:
    cards = {c.name: c for c in videogen.list_models("hunyuanvideo15")}
    real = [c for c in cards.values() if not c.tiny]
    assert len(real) == 7 and all(c.arch == "hunyuanvideo1.5-8.3b" for c in real)
    t2v = cards["hunyuanvideo1.5-480p-t2v"]
    assert t2v.repo == "hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-480p_t2v"
    assert (t2v.height, t2v.width, t2v.num_frames, t2v.guidance_scale) == (480, 848, 121, 6.0)
    assert cards["hunyuanvideo1.5-480p-t2v-distilled"].guidance_scale == 1.0
    assert FAMILY.scheduler_config(cards["hunyuanvideo1.5-720p-t2v"])["shift"] == 9.0
    i2v = cards["hunyuanvideo1.5-720p-i2v"]
    assert i2v.sizes == buckets(TARGET_SIZE["720p"], 16) and (i2v.height, i2v.width) in i2v.sizes
    assert videogen.resolve("hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-720p_i2v").name == i2v.name
