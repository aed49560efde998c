"""Out-of-memory recovery: the plan to retry with. A pure function of the failed plan and the context;
freeing the attempt and running the retry is generation's (`generation.run`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..errors import SpecError
from .plans import MemoryPlan
from .points import point
from .presets import FALLBACK, LADDER, PRESETS

if TYPE_CHECKING:
    from .context import Context

logger = logging.getLogger("videogen")


def is_oom(exc: BaseException) -> bool:
    """A GPU out-of-memory error: torch's OutOfMemoryError, or the RuntimeError some torch builds raise on
    Apple Silicon ("MPS backend out of memory")."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and str(exc).startswith("MPS backend out of memory")


def _rank(plan: MemoryPlan) -> int:
    if plan.placement == "none":
        return 0
    if plan.placement == "model":
        return 1
    if plan.placement == "group":
        leafy = plan.offload_type == "leaf_level" or any(p.offload == "leaf_level" for _, p in plan.components)
        return 3 if leafy else 2
    return 3


def candidates(plan: MemoryPlan) -> list[str]:
    """Plans to try after `plan` (presets and points of the plan space, by name), most frugal last. A plan with
    8-bit or 4-bit weights first tries the leaf-level, tiled point with the same weights (its RAM need stays
    what `auto` found fitting), then the lossless ladder."""
    weights = _weights(plan)
    lossy = [f"leaf+{weights}+tiled"] if weights and _rank(plan) < 3 else []
    if plan.name in FALLBACK:
        start = FALLBACK[plan.name]
        return lossy + list(LADDER[LADDER.index(start) :])
    return lossy + [name for i, name in enumerate(LADDER) if i > _rank(plan)]


def _weights(plan: MemoryPlan) -> str | None:
    """The plan-space name of a plan's weights: "fp8", "int8", "nf4" (None: lossless or another kind)."""
    if plan.layerwise_casting:
        return "fp8"
    return {"torchao-int8": "int8", "bnb-4bit": "nf4"}.get(plan.quantization or "")


def next_plan(plan: MemoryPlan, ctx: Context) -> MemoryPlan | None:
    """The first more frugal preset that runs for this pipeline on this machine (None: nothing left)."""
    from .checks import resolve

    for name in candidates(plan):
        template = PRESETS.get(name) or point(name)
        if template is None:
            continue
        try:
            return resolve(template, ctx, fix=True)
        except (SpecError, ImportError) as exc:
            logger.info("out-of-memory retry: %s can't run here (%s)", name, exc)
    return None


def retry_plan(exc: BaseException, plan: MemoryPlan, ctx: Context) -> MemoryPlan | None:
    """The plan to retry with once when `exc` is a GPU out-of-memory error and `plan` allows a retry
    (`oom_retry`: memory="auto"); None otherwise, or when no more frugal plan runs here. The retry has
    `oom_retry` off (one retry) and a note saying what was retried and why."""
    if not is_oom(exc) or not getattr(plan, "oom_retry", False):
        return None
    following = next_plan(plan, ctx)
    if following is None:
        return None
    message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    note = f"retried after out of memory under {plan.name!r}: {message}"
    return following.replace(oom_retry=False, notes=following.notes + (note,))
