"""Helios: the frame counts its windows make, TaylorSeer on its blocks, the catalog card. Every task against the
direct diffusers call: tests/test_matrix.py; the rules: tests/checks/test_spec_errors.py."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import videogen
from videogen.families.helios import FAMILY, frames_made, valid_frames


@pytest.mark.parametrize(
    ("asked", "chunk", "made"), [(132, 9, 129), (129, 9, 129), (33, 9, 33), (9, 9, 33), (10, 2, 9)]
)
def test_the_frames_the_windows_make(asked: int, chunk: int, made: int) -> None:
    """As the pipeline counts them: ceil(asked / window) windows, cut to 4k+1 (its own default 132 makes 129)."""
    assert frames_made(asked, chunk) == made
    assert frames_made(valid_frames(asked, chunk), chunk) == valid_frames(asked, chunk)


def test_windows_of_another_chunk_size_and_taylorseer_skips() -> None:
    fields = {"model": "tiny-helios", "prompt": "a cat", "seed": 3, "progress": False}
    long = videogen.generate(num_frames=17, extra={"num_latent_frames_per_chunk": 3}, **fields)
    assert long.frames.shape[0] == 17  # two windows of 9 frames, cut to 17
    cached = videogen.generate(steps=6, cache={"method": "taylorseer", "interval": 2, "warmup": 1}, **fields)
    assert cached.metadata["cache"]["skipped"] > 0.04


def test_catalog_card() -> None:
    card = FAMILY.card_named("helios-base")
    assert card.repo == "BestWishYsh/Helios-Base" and card.tasks == ("t2v", "i2v", "extend")
    assert card.pipeline_class("i2v", FAMILY) == "HeliosPipeline"
    assert (card.height, card.width, card.num_frames, card.fps) == (384, 640, 129, 24)


def test_progress_counts_every_chunks_schedule() -> None:
    """Each chunk runs the whole schedule: 65 frames in windows of 5 are 13 chunks, so 2 steps are 26 calls, and
    the step callback's total says so (it said 2 and counted to 26)."""
    seen: list[tuple[int, int]] = []
    videogen.generate(
        model="tiny-helios",
        prompt="a ferret",
        steps=2,
        num_frames=65,
        progress=False,
        on_step=lambda i, n: seen.append((i, n)),
    )
    assert seen == [(i, 26) for i in range(1, 27)]


def test_an_extension_continues_from_the_video_and_returns_the_new_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """task="extend": the pipeline gets the whole video (resized to the output size) and encodes it into the first
    chunk's history; the result is num_frames new frames (the pipeline returns none of the video's), and each
    chunk still runs the whole schedule."""
    from diffusers import HeliosPipeline
    from helpers import video

    seen: list[Any] = []
    encode = HeliosPipeline.prepare_video_latents

    def spy(self: Any, video: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(video.detach().clone())
        return encode(self, video, *args, **kwargs)

    monkeypatch.setattr(HeliosPipeline, "prepare_video_latents", spy)
    clip = video(7, 16, 48)  # another size than the output's: the pipeline resizes it
    steps: list[tuple[int, int]] = []
    result = videogen.generate(
        model="tiny-helios",
        task="extend",
        prompt="a ferret",
        video=clip,
        num_frames=9,
        steps=2,
        seed=4,
        progress=False,
        on_step=lambda i, n: steps.append((i, n)),
    )
    assert result.frames.shape == (9, 32, 32, 3)  # the new frames alone
    assert len(seen) == 1 and tuple(seen[0].shape) == (1, 3, 7, 32, 32)  # every frame, at the output's size
    first = (seen[0][0, :, 0].permute(1, 2, 0).numpy() + 1) * 127.5  # the pipeline's [-1, 1] back to pixels
    assert np.abs(first.mean(axis=(0, 1)) - clip[0].mean(axis=(0, 1))).max() < 4  # the video's own first frame
    assert result.metadata["model"]["pipeline"] == "HeliosPipeline" and result.spec.task == "extend"
    assert steps == [(i, 4) for i in range(1, 5)]  # two windows of 5 frames, two steps each
