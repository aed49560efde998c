"""`VideoSpec.cache`: "auto" settled and refusals against the memory plan before load; the hooks on for one
call; what they did in the metadata."""

from __future__ import annotations

import dataclasses
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from .base import Feature

if TYPE_CHECKING:
    from ...generation.flow import Prepared


class StepCacheFeature(Feature):
    name = "step cache"

    def check(self, prepared: Prepared) -> Prepared:
        from ...speed.parallel.checks import CACHE_REFUSALS
        from ...speed.settings import check_plan, settle_auto

        p = prepared
        refused = CACHE_REFUSALS if p.spec.parallel is not None else {}
        spec, note = settle_auto(p.requested_cache, p.spec, p.card, p.family, p.plan, refused)  # auto never fails
        check_plan(spec.cache, p.plan)  # a step cache with a plan it doesn't combine with (compile)
        return dataclasses.replace(p, spec=spec, notes={**p.notes, **({"cache": note} if note else {})})

    def around_call(self, pipe: Any, prepared: Prepared) -> AbstractContextManager[Any]:
        from ...speed.hooks import applied

        return applied(pipe, prepared.spec, prepared.card, prepared.family)

    def record(self, pipe: Any, prepared: Prepared, during: Any) -> dict[str, Any]:
        return {"cache": during.summary(prepared.notes.get("cache"))}
