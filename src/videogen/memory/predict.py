"""Seconds per denoising step of a plan on a GPU of the table (gpus.py), from what can be counted without one.

Per denoiser forward: its FLOPs at the spec's size (flops.py) at `UTILISATION` of the card's dense bf16 peak;
the bytes the plan moves over PCIe (offloaded denoiser weights, once per forward; hidden behind the compute
when group offload uses CUDA streams, added to it otherwise); the casting or dequantisation of the weights
once per forward (float8 layerwise casting, int8/4-bit/GGUF weights read and written back in the compute
dtype, at the card's memory bandwidth). A step runs the denoiser once, or twice where classifier-free
guidance runs the two halves one after the other. The VAE decode, once per video, is predicted beside it.

None of these constants has been measured on a GPU yet: they are stated assumptions (docs/memory.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from .activations import Shape
from .components import Component
from .estimate import DTYPE_BYTES, Estimate, config_key, module_stats
from .flops import Count, decode_flops, denoiser_flops
from .gpus import GPU

#: share of the card's dense bf16 peak a video denoiser's forward reaches (large matmuls and attention)
UTILISATION = 0.6
#: share of it a VAE decode's convolutions reach (float32 VAEs: a quarter again, TF32 at best)
DECODE_UTILISATION = 0.3
#: share of the PCIe link's nominal rate a transfer reaches: block groups (large pinned copies), leaves and
#: sequential offload (many small copies), model offload (once per video, not per step)
LINK_SHARE = {"block_level": 0.8, "leaf_level": 0.5, "sequential": 0.4}
#: reading a stored weight and writing it in the compute dtype, per weight, bytes moved: float8 → bf16 (1 + 2),
#: int8 (1 + 2), 4-bit (0.5 + 2), GGUF (1.07 + 2); per forward, as the hooks and kernels do
CAST_BYTES = {"float8": 3.0, "int8": 3.0, "int4": 2.5, "4bit": 2.5, "8bit": 3.0, "gguf": 3.1}


@dataclass(frozen=True)
class Prediction:
    """One plan's predicted time on one GPU."""

    gpu: str
    seconds_per_step: float
    compute_s: float
    transfer_s: float
    cast_s: float
    #: bytes moved host → GPU per step
    pcie_bytes: int
    forwards_per_step: int
    flops_per_step: int
    decode_s: float
    #: every denoiser's FLOPs counted layer by layer (False: a rough count somewhere)
    exact_flops: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "gpu": self.gpu,
            "seconds_per_step": round(self.seconds_per_step, 3),
            "compute_s": round(self.compute_s, 3),
            "transfer_s": round(self.transfer_s, 3),
            "cast_s": round(self.cast_s, 3),
            "pcie_gb_per_step": round(self.pcie_bytes / 1e9, 2),
            "forwards_per_step": self.forwards_per_step,
            "tflop_per_step": round(self.flops_per_step / 1e12, 2),
            "decode_s": round(self.decode_s, 2),
            "flops": "counted" if self.exact_flops else "rough",
        }


def _cast_kind(est: Estimate, name: str) -> str | None:
    plan = est.plan
    if name in dict(plan.gguf):
        return "gguf"
    if plan.quantization and name in plan.quantize_components:
        return plan.quantization.split("-", 1)[1]
    if plan.layerwise_casting and name in plan.layerwise_components:
        return "float8"
    return None


def _placement(est: Estimate, name: str) -> str:
    plan = est.plan
    if plan.placement in ("none", "model", "sequential"):
        return {"none": "resident"}.get(plan.placement, plan.placement)
    own = plan.component(name)
    return own.offload if own is not None else plan.offload_type


def predict(
    est: Estimate, components: list[Component], shape: Shape, gpu: GPU, forwards_per_step: int = 1
) -> Prediction | None:
    """The predicted seconds per step of `est`'s plan on `gpu` (None: a denoiser's FLOPs are unknown).

    Where a pipeline has two denoisers (Wan 2.2's experts) each step runs one: the larger one is counted.
    """
    vae = next((c for c in components if c.role == "vae"), None)
    rows = {r.name: r for r in est.components}
    best: tuple[float, float, float, float, int, int, bool] | None = None
    for comp in components:
        if comp.role != "denoiser":
            continue
        stats = module_stats(comp)
        count = _count(_key(comp), _key(vae), shape, stats.linear_params if stats else None)
        row = rows.get(comp.name)
        if count is None or row is None or row.bytes is None or stats is None:
            return None
        compute = count.flops / (gpu.bf16_tflops * 1e12 * UTILISATION)
        placement = _placement(est, comp.name)
        moved = row.bytes if placement in ("block_level", "leaf_level", "sequential") else 0
        transfer = moved / (gpu.pcie_gbs * 1e9 * LINK_SHARE.get(placement, 1.0)) if moved else 0.0
        kind = _cast_kind(est, comp.name)
        cast = 0.0
        if kind is not None:
            touched = stats.castable_params if kind == "float8" else stats.linear_params
            cast = touched * CAST_BYTES.get(kind, 3.0) / (gpu.memory_gbs * 1e9)
        overlapped = est.plan.use_stream and placement in ("block_level", "leaf_level")
        forward = (max(compute, transfer) if overlapped else compute + transfer) + cast
        if best is None or forward > best[0]:
            best = (forward, compute, transfer, cast, moved, count.flops, count.exact)
    if best is None:
        return None
    forward, compute, transfer, cast, moved, flops, exact = best
    n = forwards_per_step
    return Prediction(
        gpu.label(),
        forward * n,
        compute * n,
        transfer * n,
        cast * n,
        moved * n,
        n,
        flops * n,
        _decode(est, vae, shape, gpu),
        exact,
    )


def _decode(est: Estimate, vae: Component | None, shape: Shape, gpu: GPU) -> float:
    """Seconds of the VAE decode, once per video (rough)."""
    if vae is None:
        return 0.0
    stats = module_stats(vae)
    key = _key(vae)
    assert key is not None
    flops, factor = _decode_count(key, shape, est.plan.vae_tiling, stats.tile if stats else None)
    row = next((r for r in est.components if r.name == vae.name), None)
    utilisation = DECODE_UTILISATION * (0.25 if row is not None and DTYPE_BYTES.get(row.dtype, 2) == 4 else 1.0)
    return flops * factor / (gpu.bf16_tflops * 1e12 * utilisation)


def _key(comp: Component | None) -> tuple[str, str, str, str] | None:
    """A component as a hashable key (its config as JSON), for the counts' caches."""
    if comp is None:
        return None
    return comp.name, comp.class_name, comp.library, config_key(comp)


def _component(key: tuple[str, str, str, str]) -> Component:
    name, class_name, library, config = key
    return Component(name, class_name, library, json.loads(config) or None)


@lru_cache(maxsize=512)
def _count(
    den: tuple[str, str, str, str], vae: tuple[str, str, str, str] | None, shape: Shape, linear: int | None
) -> Count | None:
    """`denoiser_flops`, once per component and size (every plan of a search shares them)."""
    return denoiser_flops(_component(den), _component(vae) if vae else None, shape, linear)


@lru_cache(maxsize=512)
def _decode_count(vae: tuple[str, str, str, str], shape: Shape, tiling: bool, tile: int | None) -> tuple[int, float]:
    return decode_flops(_component(vae), shape, tiling, tile)
