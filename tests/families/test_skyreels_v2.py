"""SkyReels-V2: the diffusion-forcing long-video knobs (windows and step counts as the pipelines run them, the
causal block size put back after the call), the step caches per pipeline, the catalog cards. Every task and the
long videos against the direct diffusers call: tests/test_matrix.py; the rules: tests/checks/test_spec_errors.py."""

from __future__ import annotations

import pytest

import videogen
from videogen.families.skyreels_v2 import FAMILY, _windows
from videogen.loading.pipelines import CACHE

PROMPT = "a white ferret leaps into a stream"


def _cached_pipeline(model: str):
    keys = [k for k in CACHE.keys() if k[0] == model]  # noqa: SIM118 (no __iter__)
    assert keys, f"{model} is not loaded"
    return CACHE.get(keys[-1], lambda: None).base


@pytest.mark.parametrize(("latents", "base", "overlap"), [(7, 3, 2), (25, 25, 5), (40, 25, 5), (60, 25, 10)])
def test_windows_cover_the_video_as_the_pipeline_splits_it(latents: int, base: int, overlap: int) -> None:
    """As many windows as the DF pipelines' n_iter, each at most the base window, adding up to the video."""
    n_iter = 1 + (latents - base - 1) // (base - overlap) + 1
    sizes = _windows(latents, base, overlap)
    assert len(sizes) == n_iter and max(sizes) <= base
    assert sizes[0] + sum(s - overlap for s in sizes[1:]) == latents


def test_a_long_video_runs_in_windows_and_leaves_the_transformer_as_it_was() -> None:
    steps: list[tuple[int, int]] = []
    extra = {"base_num_frames": 13, "overlap_history": 5, "causal_block_size": 2, "ar_step": 1}
    result = videogen.generate(
        model="tiny-skyreels_v2-df",
        prompt=PROMPT,
        num_frames=21,
        extra=extra,
        seed=2,
        progress=False,
        on_step=lambda i, total: steps.append((i, total)),
    )
    assert result.frames.shape[0] == 21  # 6 latent frames: two windows of 4 (base 13 frames) overlapping by 2
    assert steps and steps[-1][0] == steps[-1][1] == len(steps)  # every schedule row counted, the total right
    assert _cached_pipeline("tiny-skyreels_v2-df").transformer.config.num_frame_per_block == 1  # put back


def test_a_long_video_without_an_overlap_gets_the_recommended_one() -> None:
    """The pipelines raise on a long video without overlap_history: videogen passes their recommended 17."""
    result = videogen.generate(
        model="tiny-skyreels_v2-df",
        prompt=PROMPT,
        num_frames=25,
        steps=2,
        extra={"base_num_frames": 21},
        seed=2,
        progress=False,
    )
    assert result.frames.shape[0] == 25 and result.metadata["call"]["overlap_history"] == 17
    with pytest.raises(videogen.SpecError, match="recommended 17 doesn't fit below 9"):
        videogen.prepare(model="tiny-skyreels_v2-df", prompt=PROMPT, num_frames=25, extra={"base_num_frames": 9})


def test_step_caches_per_pipeline() -> None:
    fields = {"prompt": PROMPT, "steps": 6, "seed": 3, "progress": False}
    cached = videogen.generate(
        model="tiny-skyreels_v2-df", cache={"method": "taylorseer", "interval": 2, "warmup": 1}, **fields
    )
    assert cached.metadata["cache"]["skipped"] > 0.04
    with pytest.raises(videogen.SpecError, match="'pab' can't run here: .*diffusion-forcing.*'taylorseer'"):
        videogen.generate(model="tiny-skyreels_v2-df", cache="pab", **fields)
    with pytest.raises(videogen.SpecError, match="'fbc' can't run here: .*block registry"):
        videogen.generate(model="tiny-skyreels_v2", cache="fbc", **fields)


def test_catalog_cards() -> None:
    cards = {c.name: c for c in videogen.list_models("skyreels_v2")}
    df = cards["skyreels-v2-df-14b-540p"]
    assert df.repo == "Skywork/SkyReels-V2-DF-14B-540P-Diffusers" and df.tasks == ("t2v", "i2v", "extend")
    assert df.pipeline_class("t2v", FAMILY) == "SkyReelsV2DiffusionForcingPipeline"
    assert df.pipeline_class("extend", FAMILY) == "SkyReelsV2DiffusionForcingVideoToVideoPipeline"
    assert df.pipeline_class("i2v", FAMILY) == "SkyReelsV2DiffusionForcingImageToVideoPipeline"
    assert (df.height, df.width, df.num_frames, df.fps) == (544, 960, 97, 24)
    assert cards["skyreels-v2-t2v-14b-720p"].pipeline_class("t2v", FAMILY) == "SkyReelsV2Pipeline"
    i2v = cards["skyreels-v2-i2v-14b-540p"]
    assert i2v.guidance_scale == 5.0 and FAMILY.scheduler_config(i2v)["flow_shift"] == 5.0
    assert {c.arch for c in cards.values() if not c.tiny} == {
        "skyreels-v2-t2v-14b",
        "skyreels-v2-i2v-1.3b",
        "skyreels-v2-i2v-14b",
        "skyreels-v2-df-1.3b",
        "skyreels-v2-df-14b",
    }


def test_an_extension_is_the_video_then_the_new_frames_and_counts_its_steps() -> None:
    """task="extend": the input video comes back first, then num_frames frames made from its last overlap_history
    frames onwards (in windows past base_num_frames); the step callback's total counts every schedule row."""
    from helpers import video

    steps: list[tuple[int, int]] = []
    clip = video(9)
    extra = {"base_num_frames": 13, "overlap_history": 5, "causal_block_size": 2, "ar_step": 1}
    result = videogen.generate(
        model="tiny-skyreels_v2-df",
        task="extend",
        prompt=PROMPT,
        video=clip,
        num_frames=21,
        extra=extra,
        seed=2,
        progress=False,
        on_step=lambda i, total: steps.append((i, total)),
    )
    assert result.frames.shape[0] == 9 + 21
    assert (result.frames[:9].astype(int) - clip).__abs__().max() <= 1  # the input video, as it was
    assert steps and steps[-1][0] == steps[-1][1] == len(steps)
    assert result.metadata["model"]["pipeline"] == "SkyReelsV2DiffusionForcingVideoToVideoPipeline"
