"""VideoSpec: frozen, inferred tasks, LoRA parsing, field errors."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pytest

import videogen
from videogen.spec.videospec import FILLED, CompleteSpec, LoRA, VideoSpec


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
    [
        ({}, "t2v"),
        ({"image": "a.png"}, "i2v"),
        ({"image": "a.png", "last_image": "b.png"}, "flf2v"),
        ({"video": "v.mp4"}, "v2v"),
        ({"task": "conditioned", "image": "a.png"}, "conditioned"),
    ],
)
def test_task_is_inferred_from_inputs(inputs: dict, task: str) -> None:
    assert VideoSpec(**inputs).inferred_task() == task


def test_unknown_task_is_a_spec_error_listing_the_tasks() -> None:
    with pytest.raises(videogen.SpecError, match="t2v, i2v, flf2v, v2v") as info:
        VideoSpec(task="img2vid")  # type: ignore[arg-type]
    assert info.value.field == "task"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("a.safetensors", LoRA("a.safetensors")),
        (("a", 0.5), LoRA("a", 0.5)),
        (("a", 0.5, "style"), LoRA("a", 0.5, "style")),
        ({"source": "a", "weight": 2.0}, LoRA("a", 2.0)),
    ],
)
def test_lora_entries_are_normalised(given: object, expected: LoRA) -> None:
    assert VideoSpec(loras=[given]).loras == (expected,)


def test_bad_lora_entry_is_a_spec_error() -> None:
    with pytest.raises(videogen.SpecError, match="not a LoRA"):
        VideoSpec(loras=[42])


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("x.safetensors", (LoRA("x.safetensors"),)),  # one string is one LoRA, not one per character
        (Path("x.safetensors"), (LoRA("x.safetensors"),)),
        (LoRA("a", 0.5), (LoRA("a", 0.5),)),
        ({"source": "a", "weight": 0.5}, (LoRA("a", 0.5),)),  # one dict is one LoRA, not one per key
        (("a", 0.5), (LoRA("a", 0.5),)),  # (source, weight): a number is never a LoRA of its own
        (("a", 0.5, "style"), (LoRA("a", 0.5, "style"),)),
        (["a", "b"], (LoRA("a"), LoRA("b"))),
        (None, ()),
        ([], ()),
    ],
)
def test_one_lora_or_a_list_of_them(given: object, expected: tuple) -> None:
    assert VideoSpec(loras=given).loras == expected


@pytest.mark.parametrize(
    ("loras", "words"),
    [
        (5, "loras=5 is not a LoRA"),
        ([{}], "has no 'source'"),
        ([{"source": "a", "scale": 1}], "unknown key 'scale'"),
        ([(42,)], "source 42"),
        ([("",)], "non-empty string"),
        ([b"x.safetensors"], "not a LoRA"),
        ({"a", "b"}, "not a LoRA or a list"),
        ([("a", math.nan)], "finite"),
        ([("a", math.inf)], "finite"),
        ([("a", True)], "finite number"),
        ([("a", -101)], "between -100.0 and 100.0"),
        ([("a", 1.0, "my style")], "no dots or spaces"),
        ([("a", 1.0, 7)], "name 7"),
        ([{"source": "a", "weight_name": 3}], "weight_name 3"),
    ],
)
def test_bad_loras_are_spec_errors_on_loras(loras: object, words: str) -> None:
    with pytest.raises(videogen.SpecError, match=re.escape(words)) as info:
        VideoSpec(loras=loras)
    assert info.value.field == "loras"


def test_a_lora_made_directly_is_checked_too() -> None:
    assert LoRA("a", 2).weight == 2.0 and isinstance(LoRA("a", 2).weight, float)
    assert LoRA(Path("/x/a.safetensors")).source == "/x/a.safetensors"
    with pytest.raises(videogen.SpecError, match="finite") as info:
        LoRA("a", math.nan)
    assert info.value.field == "loras"


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (42, "extra=42 must be a dict"),
        ("abc", "extra='abc' must be a dict"),
        ([("a", 1)], "must be a dict"),
        ({1: 2}, "key 1 must be a string"),
    ],
)
def test_extra_must_be_a_dict_with_string_keys(extra: object, words: str) -> None:
    with pytest.raises(videogen.SpecError, match=re.escape(words)) as info:
        VideoSpec(extra=extra)
    assert info.value.field == "extra"
    assert VideoSpec(extra=None).extra == {}


@pytest.mark.parametrize("task", [5, ["t2v"], np.array(["t2v", "i2v"]), b"t2v"])
def test_task_of_a_wrong_type_is_a_spec_error(task: object) -> None:
    with pytest.raises(videogen.SpecError, match="t2v, i2v") as info:
        VideoSpec(task=task)
    assert info.value.field == "task"


@pytest.mark.parametrize("revision", [5, "", "main branch", "a\tb", b"main"])
def test_revision_must_be_a_string_without_spaces(revision: object) -> None:
    with pytest.raises(videogen.SpecError, match="revision") as info:
        VideoSpec(revision=revision)
    assert info.value.field == "revision"
    assert VideoSpec(revision="v1.0").revision == "v1.0"


def test_spec_error_is_a_value_error_and_a_videogen_error() -> None:
    assert issubclass(videogen.SpecError, ValueError)
    assert issubclass(videogen.SpecError, videogen.VideoGenError)
    assert issubclass(videogen.Cancelled, videogen.VideoGenError)


def test_a_completed_spec_has_every_filled_field_and_equals_the_plain_spec_with_its_values() -> None:
    prepared = videogen.prepare(model="tiny-wan", prompt="a ferret", seed=3)
    done = prepared.spec
    assert isinstance(done, CompleteSpec)
    assert all(getattr(done, name) is not None for name in FILLED)
    assert isinstance(done.height, int) and isinstance(done.num_frames, int) and done.seed == 3
    assert isinstance(done.replace(steps=2), CompleteSpec) and done.replace(steps=2).steps == 2
    plain = VideoSpec(**{f.name: getattr(done, f.name) for f in dataclasses.fields(VideoSpec)})
    assert plain == done and done == plain and plain != done.replace(seed=4)
    with pytest.raises(TypeError, match="height"):
        CompleteSpec.of(plain, height=None)
    with pytest.raises(TypeError, match="num_frames"):
        done.replace(num_frames=None)
