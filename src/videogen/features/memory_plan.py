"""The memory plan on the loaded pipeline: hooks applied (and undone) in place, call arguments, metadata."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

from .base import Feature

if TYPE_CHECKING:
    from ..generation.flow import Prepared


class MemoryPlanFeature(Feature):
    name = "memory plan"

    def prepare_pipeline(self, pipe: Any, prepared: Prepared, state: dict[str, Any]) -> None:
        from ..memory.apply import apply_plan

        if state.get("memory_plan") != (prepared.class_name, prepared.plan):  # components are shared by classes
            apply_plan(pipe, prepared.plan, prepared.device, prepared.family, state)
            state["memory_plan"] = (prepared.class_name, prepared.plan)

    def call_arguments(self, prepared: Prepared, params: AbstractSet[str]) -> dict[str, Any]:
        from ..memory.apply import call_kwargs

        return dict(call_kwargs(prepared.plan, params))

    def record(self, pipe: Any, prepared: Prepared, during: Any) -> dict[str, Any]:
        return {"memory_plan": prepared.plan.summary()}
