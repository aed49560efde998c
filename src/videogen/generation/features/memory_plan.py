"""The memory plan on the loaded pipeline: hooks applied (and undone) in place, call arguments, metadata
(the plan, and its predicted seconds per step beside the measured ones: `memory_speed`)."""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .base import Feature

if TYPE_CHECKING:
    from ...generation.flow import Prepared


class MemoryPlanFeature(Feature):
    name = "memory plan"

    def prepare_pipeline(self, pipe: Any, prepared: Prepared, state: dict[str, Any]) -> None:
        from ...memory.apply import apply_plan

        if state.get("memory_plan") != (prepared.class_name, prepared.plan):  # components are shared by classes
            apply_plan(pipe, prepared.plan, prepared.device, prepared.family, state)
            state["memory_plan"] = (prepared.class_name, prepared.plan)

    def call_arguments(self, prepared: Prepared, params: AbstractSet[str]) -> dict[str, Any]:
        from ...memory.apply import plan_call_kwargs

        return dict(plan_call_kwargs(prepared.plan, params))

    @contextmanager
    def around_call(self, pipe: Any, prepared: Prepared) -> Iterator[Any]:
        from ...memory.timing import timed_denoisers

        with timed_denoisers(pipe, prepared.device) as seen:
            yield seen

    def record(self, pipe: Any, prepared: Prepared, during: Any) -> dict[str, Any]:
        from ...memory.timing import speed_record

        speed = speed_record(
            during or {}, prepared.card, prepared.class_name, prepared.spec, prepared.plan, prepared.device
        )
        return {"memory_plan": prepared.plan.summary(), "memory_speed": speed}
