"""Wan: seeds, snapping, v2v step counting. Every task against the direct diffusers call (Wan 2.2's two
experts and guidance_scale_2 included): tests/test_matrix.py; the rules: tests/checks/test_spec_errors.py."""

from __future__ import annotations

import pytest
from helpers import video

import videogen

PROMPT = "a white ferret leaps into a stream"


def test_same_seed_same_video_other_seed_other_video() -> None:
    a = videogen.generate(model="tiny-wan", prompt=PROMPT, seed=3, progress=False).frames
    b = videogen.generate(model="tiny-wan", prompt=PROMPT, seed=3, progress=False).frames
    c = videogen.generate(model="tiny-wan", prompt=PROMPT, seed=4, progress=False).frames
    assert (a == b).all()
    assert (a != c).any()


def test_snap_rounds_with_a_warning_and_records_it() -> None:
    with pytest.warns(videogen.SnapWarning, match="num_frames"):
        result = videogen.generate(
            model="tiny-wan", prompt=PROMPT, num_frames=7, height=40, snap=True, seed=1, progress=False
        )
    assert result.num_frames == 5 or result.num_frames == 9
    assert result.spec.num_frames == result.num_frames
    assert result.height == 48 and result.spec.height == 48
    assert result.metadata["snapped"]["num_frames"]["requested"] == 7
    assert result.metadata["snapped"]["height"] == {
        "requested": 40,
        "used": 48,
        "rule": "height must be a multiple of 16",
    }


def test_v2v_step_callback_counts_the_strength_share_of_the_schedule() -> None:
    calls: list[tuple[int, int]] = []
    videogen.generate(
        model="tiny-wan",
        prompt=PROMPT,
        video=video(),
        steps=5,
        seed=1,
        progress=False,
        extra={"strength": 0.6},
        on_step=lambda s, t: calls.append((s, t)),
    )
    assert calls == [(1, 3), (2, 3), (3, 3)]
