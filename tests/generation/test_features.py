"""Features plug into the one generation flow: each phase calls every registered feature, in order, and the flow
itself names none of them."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

import pytest

import videogen
from videogen import features
from videogen.generation import flow as generation
from videogen.generation.features.base import Feature


class Recorder(Feature):
    name = "recorder"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def check(self, prepared: Any) -> Any:
        self.calls.append("check")
        return prepared

    def check_before_load(self, prepared: Any) -> None:
        self.calls.append("check_before_load")

    def cache_key(self, prepared: Any) -> Any:
        return "recorder-part"

    def before_load(self, prepared: Any) -> None:
        self.calls.append("before_load")

    def after_load(self, pipe: Any, prepared: Any) -> None:
        self.calls.append("after_load")

    def prepare_pipeline(self, pipe: Any, prepared: Any, state: dict[str, Any]) -> None:
        self.calls.append("prepare_pipeline")

    def call_arguments(self, prepared: Any, params: Any) -> dict[str, Any]:
        self.calls.append("call_arguments")
        return {"num_inference_steps": 1}  # the spec says 2: the feature's argument reaches the call

    @contextlib.contextmanager
    def around_call(self, pipe: Any, prepared: Any) -> Iterator[str]:
        self.calls.append("enter")
        yield "what happened"
        self.calls.append("exit")

    def record(self, pipe: Any, prepared: Any, during: Any) -> dict[str, Any]:
        self.calls.append("record")
        return {"recorder": during}


def test_a_registered_feature_takes_part_in_every_phase(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    monkeypatch.setattr(features, "FEATURES", (*features.FEATURES, recorder))
    result = videogen.generate(model="tiny-wan", prompt="a ferret", steps=2, seed=1, progress=False)
    assert recorder.calls == [
        "check",
        "check_before_load",
        "before_load",  # its cache-key part is new: a load of its own
        "after_load",
        "prepare_pipeline",
        "call_arguments",
        "enter",
        "exit",
        "record",
    ]
    assert result.metadata["recorder"] == "what happened"
    assert result.metadata["call"]["num_inference_steps"] == 1
    assert {"memory_plan", "cache", "parallel"} <= set(result.metadata)  # the built-in features' records


def test_the_flow_names_no_feature() -> None:
    source = inspect.getsource(generation._run)
    assert len(source.splitlines()) <= 45
    for word in ("parallel", "lora", "scheduler", "cache_record", "step_cache", "apply_plan"):
        assert word not in source.lower(), word
