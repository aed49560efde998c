"""The memory-strategy module: one `MemoryPlan` for every family (docs/memory.md).

Two phases: what goes into `from_pretrained` (dtypes, quantization, GGUF: part of the pipeline cache
key) and what is applied to a loaded pipeline (offload, tiling, slicing, chunking, compile), changed in
place when a later spec asks for another plan. `plan(spec)` shows sizes, estimates and the choice
without loading weights. Importing this package imports no torch.
"""

from __future__ import annotations

from .apply import apply_plan, call_kwargs
from .checks import resolve_plan
from .oom import retry_after_oom
from .plans import ComponentPlan, MemoryPlan
from .presets import PRESETS, preset
from .quantize import load_key, load_kwargs, write_gguf
from .report import PlanReport, plan

__all__ = [
           "PRESETS",
           "ComponentPlan",
           "MemoryPlan",
           "PlanReport",
           "apply_plan",
           "call_kwargs",
           "load_key",
           "load_kwargs",
           "plan",
           "preset",
           "resolve_plan",
           "retry_after_oom",
           "write_gguf",
]
