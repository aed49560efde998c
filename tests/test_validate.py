"""Validation: generic rules, their messages, the speed of a rejection, snapping arithmetic."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import videogen
from videogen.validate import nearest_frame_count, nearest_multiple


@given(st.integers(1, 1000), st.sampled_from([(4, 1), (8, 1), (16, 1), (2, 0)]))
def test_nearest_frame_count_is_valid_and_nearest(n: int, rule: tuple[int, int]) -> None:
    step, offset = rule
    valid = nearest_frame_count(n, step, offset)
    assert valid >= 1 and (valid - offset) % step == 0
    # no valid count is strictly nearer
    for other in (valid - step, valid + step):
        if other >= 1:
            assert abs(other - n) >= abs(valid - n)


@given(st.integers(1, 4096), st.sampled_from([8, 16, 32]))
def test_nearest_multiple_is_a_multiple_and_nearest(n: int, m: int) -> None:
    v = nearest_multiple(n, m)
    assert v % m == 0 and v >= m
    assert abs(v - n) <= m / 2 or v == m


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"prompt": None}, "prompt", ["prompt is required"]),
        ({"prompt": "  "}, "prompt", ["prompt is required"]),
        ({"steps": 0}, "steps", ["at least 1"]),
        ({"steps": 2.5}, "steps", ["whole number"]),
        ({"seed": -1}, "seed", ["at least 0"]),
        ({"guidance_scale": "high"}, "guidance_scale", ["must be a number"]),
        ({"fps": 0}, "fps", ["at least 1"]),
        ({"model": "wan2.1-t2v-1.3"}, "model", ["wan2.1-t2v-1.3b", "videogen models"]),
        ({"model": None}, "model", ["model is required"]),
        ({"model": "/nonexistent/folder/x"}, "model", ["not a catalog name"]),
        ({"image": "/nonexistent.png", "model": "tiny-wan-i2v"}, "image", ["no file"]),
        ({"extra": {"generator": 1}}, "extra", ["set by videogen"]),
        ({"extra": {"num_inference_steps": 3}}, "extra", ["steps"]),
        ({"scheduler": 42}, "scheduler", ["scheduler class name"]),
    ],
)
def test_generic_rules_raise_spec_errors_with_the_fix(fields: dict, field: str, words: list[str]) -> None:
    spec = {"model": "tiny-wan", "prompt": "a ferret", **fields}
    with pytest.raises(videogen.SpecError) as info:
        videogen.generate(progress=False, **spec)
    assert info.value.field == field
    for word in words:
        assert word in str(info.value), str(info.value)


def test_unknown_keyword_is_a_spec_error_with_a_suggestion() -> None:
    with pytest.raises(videogen.SpecError, match="did you mean 'num_frames'"):
        videogen.generate(model="tiny-wan", prompt="a", num_frame=9)


def test_unknown_scheduler_and_incompatible_scheduler() -> None:
    with pytest.raises(videogen.SpecError, match="did you mean 'UniPCMultistepScheduler'"):
        videogen.generate(model="tiny-wan", prompt="a", scheduler="UniPCMultistepSchedule", progress=False)
    with pytest.raises(videogen.SpecError, match="can't drive tiny-wan") as info:
        videogen.generate(model="tiny-wan", prompt="a", scheduler="DDIMScheduler", progress=False)
    assert "FlowMatchEulerDiscreteScheduler" in str(info.value)


def test_a_bad_spec_is_rejected_without_importing_torch() -> None:
    """Spec errors come back before any heavy import, so in milliseconds."""
    code = (
        "import sys, time, videogen\n"
        "t = time.perf_counter()\n"
        "try:\n"
        "    videogen.generate(model='wan2.1-t2v-14b', prompt='a', num_frames=80)\n"
        "except videogen.SpecError as e:\n"
        "    print('SpecError', round((time.perf_counter() - t) * 1000, 2), 'torch' in sys.modules,"
        " 'diffusers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    kind, _ms, torch_loaded, diffusers_loaded = out.split()
    assert kind == "SpecError"
    assert torch_loaded == "False" and diffusers_loaded == "False"


def test_an_extra_value_the_pipeline_refuses_is_a_spec_error_not_a_deep_traceback() -> None:
    import numpy as np

    clip = np.zeros((5, 32, 32, 3), np.uint8)
    with pytest.raises(videogen.SpecError, match=r"strength.*\(0, 1\]") as info:  # checked before loading
        videogen.generate(model="tiny-wan", prompt="a", video=clip, extra={"strength": "high"}, progress=False)
    assert info.value.field == "extra"
    # a value only the pipeline knows is wrong: its error comes back as a SpecError on extra
    with pytest.raises(videogen.SpecError, match=r"extra: WanPipeline refused.*max_sequence_length='long'") as info:
        videogen.generate(model="tiny-wan", prompt="a", extra={"max_sequence_length": "long"}, progress=False)
    assert info.value.field == "extra"
