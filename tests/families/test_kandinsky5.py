"""Kandinsky 5: step caches only without classifier-free guidance (the pipelines set no cache contexts), the
sparse attention's size rule from a folder's transformer config, the catalog cards. t2v and i2v against the direct
diffusers call: tests/test_matrix.py; the rules: tests/checks/test_spec_errors.py."""

from __future__ import annotations

import numpy as np
import pytest

import videogen
from videogen.families.kandinsky5 import FAMILY
from videogen.spec.videospec import VideoSpec

PROMPT = "a white ferret leaps into a stream"


def test_step_caches_run_without_cfg_and_are_refused_with_it() -> None:
    fields = {"model": "tiny-kandinsky5", "prompt": PROMPT, "steps": 6, "guidance_scale": 1.0, "seed": 3}
    plain = videogen.generate(**fields, progress=False).frames
    for value in (
        {"method": "taylorseer", "interval": 2, "warmup": 1},
        {"method": "magcache", "threshold": 0.5, "mag_ratios": [1.0] * 6},
    ):
        result = videogen.generate(**fields, cache=value, progress=False)
        assert result.metadata["cache"]["skipped"] > 0.04, value  # the hook found the blocks and skipped
        assert np.abs(result.frames.astype(int) - plain.astype(int)).max() <= 20, value
    with pytest.raises(videogen.SpecError, match="two passes a step .*guidance_scale=1.0"):
        videogen.generate(**{**fields, "guidance_scale": 5.0}, cache="taylorseer")
    with pytest.raises(videogen.SpecError, match="'pab' can't run here: .*current_timestep"):
        videogen.generate(**fields, cache="pab")


def test_sparse_attention_sides_from_the_transformer_config() -> None:
    """A folder whose transformer uses NABLA attention (the 10 s models) needs sides in multiples of 128."""
    card = videogen.resolve("tiny-kandinsky5")
    spec = VideoSpec(model=card.name, prompt=PROMPT, height=512, width=704, num_frames=9)
    nabla = {"transformer": {"attention_type": "nabla"}}
    with pytest.raises(videogen.SpecError, match="multiple of 128; nearest valid value: width=768") as info:
        FAMILY.check_components(spec, card, nabla)
    assert info.value.field == "width"
    FAMILY.check_components(spec, card, {"transformer": {"attention_type": "regular"}})  # dense: any multiple of 16
    FAMILY.check_components(spec.replace(width=768), card, nabla)


def test_catalog_cards() -> None:
    cards = {c.name: c for c in videogen.list_models("kandinsky5")}
    lite = cards["kandinsky5-t2v-lite-5s"]
    assert lite.repo == "kandinskylab/Kandinsky-5.0-T2V-Lite-sft-5s-Diffusers"
    assert (lite.height, lite.width, lite.num_frames, lite.guidance_scale) == (512, 768, 121, 5.0)
    ten = cards["kandinsky5-t2v-lite-10s"]
    assert (ten.num_frames, ten.size_multiple, ten.arch) == (241, 128, "kandinsky5-lite-2b-nabla")
    assert cards["kandinsky5-t2v-lite-5s-distilled"].steps == 16
    assert all(c.guidance_scale == 1.0 for n, c in cards.items() if "nocfg" in n or "distilled" in n)
    assert cards["kandinsky5-i2v-pro-5s"].tasks == ("i2v",) and cards["tiny-kandinsky5-i2v"].num_frames == 17
    assert all(c.max_frames == 509 for c in cards.values())
