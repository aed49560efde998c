"""`resolve_plan`: "auto", a preset or a MemoryPlan → the one resolved plan everything else reads.

Resolving fills the plan's defaults for the pipeline (`quantize_components`: the denoisers and text
encoders; `layerwise_components`: the denoisers; context.defaults), then runs the rule table (checks.py):
a preset is fitted to the pipeline and machine (notes say how), a custom plan is checked strictly. The
checks, the estimates, `from_pretrained`'s arguments, the hooks applied and the result's metadata all
read this plan. `memory="auto"` asks auto.py, which decides from weights and formulas (no simulation).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .auto import choose
from .checks import resolve
from .context import context, shape_of
from .machine import current
from .plans import MemoryPlan, plan_from
from .points import point
from .presets import PRESETS, preset

if TYPE_CHECKING:
    from ..families.base import Family
    from ..families.card import ModelCard
    from ..spec.videospec import VideoSpec

__all__ = ["resolve_plan"]


def resolve_plan(
    memory: Any, spec: VideoSpec, card: ModelCard, family: Family, device: str, media: Mapping[str, Any] | None = None
) -> MemoryPlan:
    """The resolved plan for `spec.memory` ("auto", a preset name, a MemoryPlan or a dict).

    A plan named after a preset (`preset("low", oom_retry=True)`) adapts like the preset. `media` is
    accepted for callers that still pass it and unused (`auto` decides from formulas, not simulation).
    """
    described = current()
    if described is not None and described.gpu is not None and not device.startswith("cuda"):
        device = "cuda"  # planning for a described GPU (videogen.plan(gpu=...)): its options, not this machine's
    ctx = context(card, card.pipeline_class(spec.inferred_task(), family), device)
    if memory is None or (isinstance(memory, str) and memory == "auto"):
        return with_family(choose(ctx, card, shape_of(spec, ctx)).plan, family)
    plan = preset(memory) if isinstance(memory, str) else plan_from(memory)
    return with_family(resolve(plan, ctx, fix=plan.name in PRESETS or point(plan.name) is not None), family)


def with_family(plan: MemoryPlan, family: Family) -> MemoryPlan:
    """`plan` with what the family's pipelines always run with (`Family.plan_always`), noted where it differs."""
    changed = {name: value for name, value in family.plan_always.items() if getattr(plan, name) != value}
    if not changed:
        return plan
    said = ", ".join(f"{name}={value!r}" for name, value in changed.items())
    note = f"{said}: {family.name} always runs with it"
    return dataclasses.replace(plan, **changed, notes=(note, *plan.notes))  # auto's reason stays the last note
