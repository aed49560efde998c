"""VideoSpec: frozen, inferred tasks, LoRA parsing, field errors."""

from __future__ import annotations

import dataclasses

import pytest

import videogen
from videogen.spec import LoRA, VideoSpec


def test_spec_is_frozen_and_replace_makes_a_copy() -> None:
    spec = VideoSpec(model="tiny-wan", prompt="a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.prompt = "b"  # type: ignore[misc]
    other = spec.replace(prompt="b")
    assert spec.prompt == "a" and other.prompt == "b"


def test_extra_is_copied_so_the_callers_dict_cannot_change_the_spec() -> None:
    extra = {"strength": 0.5}
    spec = VideoSpec(model="tiny-wan", extra=extra)
    extra["strength"] = 0.9
    assert spec.extra == {"strength": 0.5}


@pytest.mark.parametrize(
    ("inputs", "task"),
    [({}, "t2v"), ({"image": "a.png"}, "i2v"), ({"image": "a.png", "last_image": "b.png"}, "flf2v"),
     ({"video": "v.mp4"}, "v2v"), ({"task": "conditioned", "image": "a.png"}, "conditioned")],
)
def test_task_is_inferred_from_inputs(inputs: dict, task: str) -> None:
    assert VideoSpec(**inputs).inferred_task() == task


def test_unknown_task_is_a_spec_error_listing_the_tasks() -> None:
    with pytest.raises(videogen.SpecError, match="t2v, i2v, flf2v, v2v") as info:
        VideoSpec(task="img2vid")  # type: ignore[arg-type]
    assert info.value.field == "task"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("a.safetensors", LoRA("a.safetensors")), (("a", 0.5), LoRA("a", 0.5)),
     (("a", 0.5, "style"), LoRA("a", 0.5, "style")), ({"source": "a", "weight": 2.0}, LoRA("a", 2.0))],
)
def test_lora_entries_are_normalised(given: object, expected: LoRA) -> None:
    assert VideoSpec(loras=[given]).loras == (expected,)


def test_bad_lora_entry_is_a_spec_error() -> None:
    with pytest.raises(videogen.SpecError, match="not a LoRA"):
        VideoSpec(loras=[42])


def test_spec_error_is_a_value_error_and_a_videogen_error() -> None:
    assert issubclass(videogen.SpecError, ValueError)
    assert issubclass(videogen.SpecError, videogen.VideoGenError)
    assert issubclass(videogen.Cancelled, videogen.VideoGenError)
