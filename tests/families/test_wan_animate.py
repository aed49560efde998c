"""Wan 2.2 Animate: the tasks its inputs imply, the segments' steps, the step caches it takes and refuses, the card.
Both tasks against the direct diffusers call (diffusers' Wan Animate docs): tests/test_matrix.py; the rules:
tests/checks/test_spec_errors.py."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import image, video

import videogen
from videogen.families.wan_animate import FAMILY

DRIVING = {"image": image(), "pose_video": video(5), "face_video": video(5, 8, 8)}
STEPS = 6


def _fields(**more: object) -> dict:
    return {"model": "tiny-wan_animate", "prompt": "a ferret", "seed": 3, **DRIVING, **more}


def test_the_inputs_imply_the_task_and_the_pose_video_the_length() -> None:
    animate = videogen.prepare(**_fields(pose_video=video(7), face_video=video(7, 8, 8)))
    assert animate.spec.task == "animate" and animate.spec.num_frames == 7
    replace = videogen.prepare(**_fields(video=video(5), mask=image()))
    assert replace.spec.task == "replace" and replace.class_name == "WanAnimatePipeline"


def test_each_segment_runs_the_whole_schedule() -> None:
    totals: list[int] = []
    result = videogen.generate(
        **_fields(pose_video=video(9), face_video=video(9, 8, 8), steps=2),
        progress=False,
        on_step=lambda i, n: totals.append(n),
    )
    assert result.frames.shape[0] == 9 and totals == [4, 4, 4, 4]  # 9 frames in 5-frame segments: two


@pytest.fixture(scope="module")
def uncached() -> np.ndarray:
    return videogen.generate(**_fields(steps=STEPS), progress=False).frames


@pytest.mark.parametrize(
    "cache",
    [{"method": "taylorseer", "interval": 3, "warmup": 2}, "pab", "fastercache"],
    ids=["taylorseer", "pab", "fastercache"],
)
def test_the_step_caches_it_takes_skip_and_stay_close(cache: object, uncached: np.ndarray) -> None:
    result = videogen.generate(**_fields(steps=STEPS, cache=cache), progress=False)
    assert result.metadata["cache"]["skipped"] > 0.04, result.metadata["cache"]
    assert int(np.abs(result.frames.astype(int) - uncached.astype(int)).max()) <= 20


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"cache": "fbc"}, ["face adapters"]),
        ({"cache": "magcache"}, ["face adapters"]),
        ({"cache": "taylorseer", "pose_video": video(9), "face_video": video(9, 8, 8)}, ["2 Wan Animate segments"]),
    ],
)
def test_the_step_caches_it_refuses_say_why(fields: dict, words: list[str]) -> None:
    with pytest.raises(videogen.SpecError) as info:
        videogen.prepare(**_fields(**fields))
    assert info.value.field == "cache" and all(w in str(info.value) for w in words), str(info.value)


def test_catalog_card() -> None:
    (card,) = [c for c in videogen.list_models("wan_animate") if not c.tiny]
    assert card.repo == "Wan-AI/Wan2.2-Animate-14B-Diffusers" and card.tasks == ("animate", "replace")
    assert {card.pipeline_class(t, FAMILY) for t in card.tasks} == {"WanAnimatePipeline"}
    assert (card.height, card.width, card.steps, card.guidance_scale) == (720, 1280, 20, 1.0)
    assert not FAMILY.context_parallel  # WanAnimateTransformer3DModel declares no _cp_plan in diffusers 0.42.1


def test_the_planner_counts_one_segment_of_activations_whatever_the_length() -> None:
    """A forward denoises one segment (77 frames: 20 latent frames, and the reference frame): a longer video adds
    segments, not activations. Wan 2.1 image-to-video, which denoises every frame at once, grows with the length."""

    def transformer_activation(model: str, frames: int) -> int:
        report = videogen.plan(model=model, num_frames=frames)
        return next(c.activation_bytes for c in report.components if c.name == "transformer")

    animate = [transformer_activation("wan2.2-animate-14b", n) for n in (77, 153, 305)]
    assert animate[0] == animate[1] == animate[2] > 0
    i2v = [transformer_activation("wan2.1-i2v-14b-480p", n) for n in (77, 153)]
    assert i2v[1] > 1.8 * i2v[0]
