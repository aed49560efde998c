"""`VideoSpec.scheduler`: built before load, swapped in for one call."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from .base import Feature

if TYPE_CHECKING:
    from ...generation.flow import Prepared


class SchedulerFeature(Feature):
    name = "scheduler"

    def check_before_load(self, prepared: Prepared) -> None:
        from ...loading.schedulers import check_scheduler_build

        check_scheduler_build(prepared.spec.scheduler, prepared.family.flow_matching)

    def around_call(self, pipe: Any, prepared: Prepared) -> AbstractContextManager[Any]:
        from ...loading.schedulers import scheduler_for_call

        card = prepared.card
        return scheduler_for_call(pipe, prepared.spec.scheduler, card.name, prepared.family.flow_matching)
