"""Predicted against measured seconds per step, after a run: the denoisers' forwards timed during the call
and the plan's prediction (predict.py) for the GPU the run was on. What the memory-plan feature records as
`metadata["memory_speed"]`, so the prediction model can be checked the day a GPU is at hand."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .plans import DENOISERS

if TYPE_CHECKING:
    from ..families.card import ModelCard
    from ..spec.videospec import VideoSpec
    from .plans import MemoryPlan

logger = logging.getLogger("videogen")


@contextlib.contextmanager
def timed_denoisers(pipe: Any, device: str) -> Iterator[dict[str, Any]]:
    """Times the pipeline's denoiser forwards while the block runs: the first start, the last end and the
    count (on a GPU each edge waits for the device, so queued work is counted where it runs)."""
    seen: dict[str, Any] = {"forwards": 0, "first": None, "last": None}
    sync = _synchronizer(device)
    handles = []

    def before(_module: Any, _args: Any) -> None:
        sync()
        if seen["first"] is None:
            seen["first"] = time.perf_counter()

    def after(_module: Any, _args: Any, _out: Any) -> None:
        sync()
        seen["last"] = time.perf_counter()
        seen["forwards"] += 1

    for name in DENOISERS:
        module = getattr(pipe, name, None)
        if getattr(module, "_compiled_call_impl", None) is not None:
            # compiled whole (Module.compile): hooks would run inside the compiled graph, where a clock can't
            seen["untimed"] = f"the {name} is compiled whole: its forwards aren't timed"
        elif module is not None and hasattr(module, "register_forward_pre_hook"):
            handles += [module.register_forward_pre_hook(before), module.register_forward_hook(after)]
    try:
        yield seen
    finally:
        for handle in handles:
            handle.remove()


def _synchronizer(device: str) -> Any:
    if not device.startswith("cuda"):
        return lambda: None
    import torch

    return torch.cuda.synchronize


def speed_record(
    seen: dict[str, Any], card: ModelCard, class_name: str, spec: VideoSpec, plan: MemoryPlan, device: str
) -> dict[str, Any]:
    """`metadata["memory_speed"]`: the measured seconds per denoising step beside the plan's prediction for
    this GPU (None off a GPU or on one the table doesn't name), and their ratio."""
    from .auto import speed_gpu
    from .context import context, shape_of
    from .estimate import estimate_plan, free_gpu_bytes
    from .predict import predict

    ctx = context(card, class_name, device)
    shape = shape_of(spec, ctx)
    measured = None
    if seen.get("forwards") and seen.get("first") is not None:
        steps = max(1, round(seen["forwards"] / shape.passes))
        measured = (seen["last"] - seen["first"]) / steps
    out: dict[str, Any] = {
        "measured_s_per_step": round(measured, 4) if measured is not None else None,
        "denoiser_forwards": seen.get("forwards", 0),
        "device": device,
    }
    if seen.get("untimed"):
        out["unmeasured"] = seen["untimed"]
    gpu = None
    if ctx.cuda:
        found = free_gpu_bytes()
        gpu = speed_gpu(found[1] if found else None)
    if gpu is None:
        out["predicted_s_per_step"] = None
        out["why"] = (
            "predictions are for CUDA GPUs of the table (docs/memory.md)"
            if not ctx.cuda
            else "this GPU is not in the table (docs/memory.md)"
        )
        return out
    prediction = predict(
        estimate_plan(card, ctx.components, plan, shape, "cuda"), ctx.components, shape, gpu, shape.passes
    )
    if prediction is None:
        out["predicted_s_per_step"] = None
        out["why"] = "a denoiser's FLOPs are unknown"
        return out
    out["predicted_s_per_step"] = round(prediction.seconds_per_step, 4)
    out["prediction"] = prediction.to_dict()
    if measured:
        out["measured_over_predicted"] = round(measured / prediction.seconds_per_step, 3)
        logger.info(
            "memory plan %s: %.3g s/step measured, %.3g predicted for %s",
            plan.name,
            measured,
            prediction.seconds_per_step,
            gpu.label(),
        )
    return out
