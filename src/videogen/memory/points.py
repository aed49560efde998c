"""The generated points of the plan space, by name ("block+int8+tiled"): templates that name every component
diffusers' video pipelines use and adapt to a pipeline as presets do. Pure data over plans.py; search.py
estimates them, presets.preset() finds one by name.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from .plans import DENOISERS, TEXT_ENCODERS, MemoryPlan

#: denoiser placement: name → MemoryPlan fields (per-component placements are added for the pipeline)
PLACEMENTS: dict[str, dict[str, Any]] = {
    "resident": {"placement": "none"},
    "model": {"placement": "model"},
    "block": {"placement": "group", "offload_type": "block_level", "use_stream": True, "record_stream": True},
    "block-sync": {"placement": "group", "offload_type": "block_level"},
    "leaf": {
        "placement": "group",
        "offload_type": "leaf_level",
        "use_stream": True,
        "record_stream": True,
        "low_cpu_mem_usage": True,
    },
    "sequential": {"placement": "sequential"},
}
#: weights: name → MemoryPlan fields
WEIGHTS: dict[str, dict[str, Any]] = {
    "": {},
    "fp8": {"layerwise_casting": "float8_e4m3fn"},
    "int8": {"quantization": "torchao-int8"},
    "nf4": {"quantization": "bnb-4bit"},
}


def points() -> dict[str, MemoryPlan]:
    """The generated points, by name ("block+fp8+tiled", "leaf+int8+text-resident"): templates over every
    component name diffusers' video pipelines use, adapted to a pipeline as presets are (checks.resolve with
    fix). `memory="block+int8+tiled"` asks for one by name (presets.preset)."""
    weights = [w for w in WEIGHTS if w != "nf4" or importlib.util.find_spec("bitsandbytes") is not None]
    out: dict[str, MemoryPlan] = {}
    for where, fields in PLACEMENTS.items():
        grouped = fields["placement"] == "group"
        for text in ("offloaded", "resident") if grouped else ("offloaded",):
            for weight in weights:
                if where == "sequential" and weight:  # quantized or cast weights under accelerate's per-layer hooks
                    continue
                for tiled in (False, True):
                    parts = (where, weight, "text-resident" if text == "resident" else "", "tiled" if tiled else "")
                    name = "+".join(p for p in parts if p)
                    plan_fields: dict[str, Any] = {
                        **fields,
                        **WEIGHTS[weight],
                        "vae_tiling": tiled,
                        "vae_slicing": tiled,
                    }
                    if grouped:
                        components = {n: fields["offload_type"] for n in DENOISERS}
                        components.update(
                            {n: "block_level" if text == "offloaded" else "resident" for n in TEXT_ENCODERS}
                        )
                        components.update({"vae": "resident", "image_encoder": "resident"})
                        plan_fields["components"] = components
                    out[name] = MemoryPlan(name=name, **plan_fields)
    return out


def point(name: str) -> MemoryPlan | None:
    """The generated point of this name (None: no such point)."""
    if not isinstance(name, str) or "+" not in name and name not in PLACEMENTS:
        return None
    return points().get(name)
