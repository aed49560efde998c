"""The memory-strategy module: one `MemoryPlan` for every family (docs/memory.md).

Two phases: what goes into `from_pretrained` (dtypes, quantization, GGUF: part of the pipeline cache
key) and what is applied to a loaded pipeline (offload, tiling, slicing, chunking, compile), changed in
place when a later spec asks for another plan. `videogen.plan(spec)` (generation/plan_report.py) shows sizes,
estimates and the choice without loading weights. Importing this package imports no torch, and nothing in
it imports `videogen.generation.flow` (or `videogen.generation.plan_report`): generation uses memory, never the reverse.
"""

from __future__ import annotations

from .plans import ComponentPlan, MemoryPlan
from .presets import PRESETS, preset
from .quantize import write_gguf
from .report import PlanReport

#: what users import from here (docs/memory.md); the machinery is imported from its own modules
__all__ = ["PRESETS", "ComponentPlan", "MemoryPlan", "PlanReport", "preset", "write_gguf"]
