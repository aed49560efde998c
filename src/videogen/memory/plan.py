"""`MemoryPlan` and the presets. (Core version: everything resident on one device.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import SpecError

if TYPE_CHECKING:
    from ..catalog import ModelCard
    from ..families.base import Family
    from ..spec import VideoSpec

PRESETS = ("none",)


@dataclass(frozen=True)
class MemoryPlan:
    """Where each component lives and which memory features are on."""

    name: str = "none"
    placement: str = "none"


def resolve_plan(memory: Any, spec: "VideoSpec", card: "ModelCard", family: "Family", device: str) -> MemoryPlan:
    """A concrete plan for `spec.memory` ("auto", a preset name or a MemoryPlan), checked."""
    if isinstance(memory, MemoryPlan):
        return memory
    if memory in (None, "auto", "none"):
        return MemoryPlan()
    raise SpecError(
        f"memory={memory!r} is not a preset; use one of {', '.join(PRESETS + ('auto',))} or a MemoryPlan",
        field="memory",
    )


def load_key(plan: MemoryPlan) -> tuple:
    """The load-time part of the plan, hashable: part of the pipeline cache key."""
    return ()


def load_kwargs(plan: MemoryPlan, card: "ModelCard", device: str) -> dict[str, Any]:
    """Keyword arguments for `from_pretrained` (dtypes, quantization)."""
    from ..runtime import component_dtypes

    return {"dtype": component_dtypes(card, device)}


def apply_plan(pipe: Any, plan: MemoryPlan, device: str, family: "Family") -> None:
    """Apply the post-load part of the plan to a loaded pipeline."""
    pipe.to(device)
