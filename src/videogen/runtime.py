"""The machine side: which device runs, which dtypes apply there, versions and peak memory."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from .catalog import ModelCard


#: the name videogen is installed under (`pip install videogen-diffusers`; the import name is `videogen`)
DISTRIBUTION = "videogen-diffusers"


def pick_device() -> str:
    """`VIDEOGEN_DEVICE` if set, else "cuda" when a GPU is visible, else "cpu"."""
    forced = os.environ.get("VIDEOGEN_DEVICE")
    if forced:
        return forced
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def component_dtypes(card: ModelCard, device: str) -> dict[str, torch.dtype]:
    """`torch_dtype` for `from_pretrained`: the card's dtypes on a GPU, float32 everywhere on a CPU."""
    import torch

    if not device.startswith("cuda"):
        return {"default": torch.float32}
    return {name: getattr(torch, dtype) for name, dtype in card.dtypes.items()}


def versions() -> dict[str, str]:
    """Installed versions of videogen and the libraries it drives (read once per process)."""
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name, distribution in (("videogen", DISTRIBUTION), ("diffusers", "diffusers"), ("torch", "torch"),
                               ("transformers", "transformers"), ("accelerate", "accelerate")):
        try:
            out[name] = version(distribution)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats()


def peak_memory(device: str) -> dict[str, Any]:
    """Peak GPU memory of the call (CUDA), and the process's peak resident memory."""
    out: dict[str, Any] = {}
    if device.startswith("cuda"):
        import torch

        out["peak_gpu_bytes"] = int(torch.cuda.max_memory_allocated())
    try:
        import resource

        out["peak_rss_bytes"] = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    except Exception:  # not on every platform
        pass
    return out
