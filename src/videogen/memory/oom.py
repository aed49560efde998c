"""Out-of-memory recovery: free the attempt and retry once with the next more frugal plan."""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from .plans import MemoryPlan
from .presets import FALLBACK, LADDER

if TYPE_CHECKING:
    from ..generation import Prepared

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
        return list(LADDER[LADDER.index(start):])
    return [name for i, name in enumerate(LADDER) if i > _rank(plan)]


def next_plan(prepared: Prepared) -> MemoryPlan | None:
    """The first more frugal preset that resolves for this spec on this machine (None: nothing left)."""
    from .checks import resolve_plan

    p = prepared
    for name in candidates(p.plan):
        try:
            return resolve_plan(name, p.spec, p.card, p.family, p.device)
        except (SpecError, ImportError) as exc:
            logger.info("out-of-memory retry: %s can't run here (%s)", name, exc)
    return None


def retry_after_oom(exc: BaseException, prepared: Prepared) -> Prepared | None:
    """A Prepared with the next plan when `exc` is a GPU out-of-memory error the plan may retry."""
    plan = prepared.plan
    if not is_oom(exc) or not getattr(plan, "oom_retry", False):
        return None
    following = next_plan(prepared)
    if following is None:
        logger.warning("out of memory with memory plan %s and no more frugal plan to retry with", plan.name)
        return None
    message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    note = f"retried after out of memory under {plan.name!r}: {message}"
    logger.warning("out of memory with memory plan %s; freeing the attempt and retrying once with %s",
                   plan.name, following.name)
    retry = following.replace(oom_retry=False, notes=following.notes + (note,))
    return dataclasses.replace(prepared, plan=retry)


def free_attempt(prepared: Prepared, retry: Prepared, cache: Any, key: Any) -> None:
    """Release what the failed attempt held: its cached pipeline when the retry needs another load."""
    import gc

    if prepared.plan.load_part() != retry.plan.load_part():
        cache.evict(key)
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass
