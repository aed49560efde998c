"""Out-of-memory recovery: the plan to retry with. A pure function of the failed plan and the context;
freeing the attempt and running the retry is generation's (`generation.run`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..errors import SpecError
from .plans import MemoryPlan
from .presets import FALLBACK, LADDER, PRESETS

if TYPE_CHECKING:
    from .context import Context

logger = logging.getLogger("videogen")


def is_oom(exc: BaseException) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, torch.OutOfMemoryError)


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
    """Presets to try after `plan`, most frugal last."""
    if plan.name in FALLBACK:
        start = FALLBACK[plan.name]
        return list(LADDER[LADDER.index(start) :])
    return [name for i, name in enumerate(LADDER) if i > _rank(plan)]


def next_plan(plan: MemoryPlan, ctx: Context) -> MemoryPlan | None:
    """The first more frugal preset that runs for this pipeline on this machine (None: nothing left)."""
    from .checks import resolve

    for name in candidates(plan):
        try:
            return resolve(PRESETS[name], ctx, fix=True)
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
