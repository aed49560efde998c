"""Wan VACE: the masked video its image tasks become, a control video run on the whole schedule, the catalog cards.
Every task against the direct diffusers call (diffusers' VACE recipe): tests/test_matrix.py; the rules:
tests/checks/test_spec_errors.py."""

from __future__ import annotations

from helpers import image, video
from PIL import Image

import videogen
from videogen.families.wan_vace import FAMILY, masked_video


def test_the_masked_video_keeps_the_given_frames() -> None:
    first, last = Image.fromarray(image()), Image.fromarray(image(seed=1))
    frames, mask = masked_video(first, last, 9, (32, 32))
    assert len(frames) == len(mask) == 9 and frames[0] == first and frames[-1] == last
    assert [m.getextrema() for m in mask] == [(0, 0)] + [(255, 255)] * 7 + [(0, 0)]  # black: kept, white: made
    assert {f.getpixel((3, 3)) for f in frames[1:-1]} == {(128, 128, 128)}
    only_first, mask_first = masked_video(first, None, 5, (32, 32))
    assert mask_first[-1].getextrema() == (255, 255) and only_first[-1] != first
    resized = masked_video(first.convert("L"), None, 5, (48, 16))[0]
    assert {(f.mode, f.size) for f in resized} == {("RGB", (48, 16))}  # every frame in one mode, at the video's size


def test_a_control_video_runs_every_step() -> None:
    steps: list[int] = []
    result = videogen.generate(
        model="tiny-wan_vace",
        prompt="a ferret",
        video=video(9),
        steps=3,
        seed=1,
        progress=False,
        on_step=lambda i, total: steps.append(total),
    )
    assert result.spec.task == "v2v" and result.spec.steps == 3 and steps == [3, 3, 3]
    assert "strength" not in result.metadata["call"] and len(result.metadata["call"]) > 0


def test_catalog_cards() -> None:
    cards = {c.name: c for c in videogen.list_models("wan_vace")}
    assert cards["wan2.1-vace-1.3b"].repo == "Wan-AI/Wan2.1-VACE-1.3B-diffusers"
    assert cards["wan2.1-vace-14b"].tasks == ("t2v", "i2v", "flf2v", "v2v")
    assert FAMILY.scheduler_config(cards["wan2.1-vace-14b"])["flow_shift"] == 5.0
    assert {c.pipeline_class(t, FAMILY) for c in cards.values() for t in c.tasks} == {"WanVACEPipeline"}
