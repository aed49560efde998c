"""The memory-strategy module: one `MemoryPlan` for every family.

Two phases: what goes into `from_pretrained` (dtypes, quantization: part of the pipeline cache key)
and what is applied to a loaded pipeline (offload, tiling, slicing, chunking, compile).
"""

from __future__ import annotations

from .plan import MemoryPlan, load_key, load_kwargs, apply_plan, resolve_plan

__all__ = ["MemoryPlan", "load_key", "load_kwargs", "apply_plan", "resolve_plan"]
