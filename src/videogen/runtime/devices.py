"""The machine side: which device runs, which dtypes apply there, versions and peak memory."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch


class HasDtypes(Protocol):
    """What the dtype resolver reads of a `ModelCard` (its dtype names by component); the runtime sits below the
    families that declare the cards."""

    @property
    def dtypes(self) -> Mapping[str, str]: ...


#: the name videogen is installed under (`pip install videogen-diffusers`; the import name is `videogen`)
DISTRIBUTION = "videogen-diffusers"


#: the device `pin_device` set for the calls of this thread (a server's worker per GPU); None: pick one
_PINNED: contextvars.ContextVar[str | None] = contextvars.ContextVar("videogen_pinned_device", default=None)


@contextlib.contextmanager
def pin_device(device: str) -> Iterator[None]:
    """Within the block, in this thread, `pick_device` answers `device` (e.g. "cuda:1"): a worker pinned to its
    GPU; on CUDA it is also torch's current device there (what the planner's free-memory reading looks at)."""
    if device.startswith("cuda:"):
        import torch

        torch.cuda.set_device(int(device.split(":", 1)[1]))
    token = _PINNED.set(device)
    try:
        yield
    finally:
        _PINNED.reset(token)


def pick_device() -> str:
    """The device `pin_device` set for this thread, else `VIDEOGEN_DEVICE` if set, else "cuda" when an NVIDIA
    (or ROCm) GPU is visible, else "mps" on Apple Silicon, else "cpu".

    On Linux without a GPU driver's device files (`gpu_evident`) it answers "cpu" without importing torch
    (seconds), unless torch is already imported."""
    pinned = _PINNED.get()
    if pinned is not None:
        return pinned
    forced = os.environ.get("VIDEOGEN_DEVICE")
    if forced:
        return forced
    if not gpu_evident():
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def is_accelerator(device: str) -> bool:
    """A GPU: CUDA or Apple Silicon's MPS (models load in the card's dtypes there, float32 on a CPU)."""
    return device.startswith(("cuda", "mps"))


def gpu_evident() -> bool:
    """Whether asking torch for a GPU could answer yes: torch is already imported (asking is cheap), or this is
    not Linux, or a GPU driver is there (`gpu_driver_files`). False only where torch would find no GPU."""
    import sys

    return "torch" in sys.modules or not sys.platform.startswith("linux") or gpu_driver_files()


def gpu_driver_files() -> bool:
    """Whether a GPU driver's files are there (Linux): NVIDIA /dev/nvidia*, /proc/driver/nvidia; WSL /dev/dxg;
    ROCm /dev/kfd."""
    import glob

    if glob.glob("/dev/nvidia*"):
        return True
    return any(os.path.exists(p) for p in ("/proc/driver/nvidia", "/dev/dxg", "/dev/kfd"))


def component_dtypes(card: HasDtypes, device: str, plan: Any = None) -> dict[str, str]:
    """The one dtype resolver: dtype names by component ("default" for the rest), as `from_pretrained` loads
    them: the card's on a GPU (CUDA or MPS: bfloat16 there needs macOS 14), float32 on a CPU, then the plan's
    `dtypes` (a MemoryPlan) key by key."""
    gpu = is_accelerator(device)
    names = dict(card.dtypes) if gpu else {}
    names.setdefault("default", "bfloat16" if gpu else "float32")
    names.update(dict(getattr(plan, "dtypes", None) or ()))
    return names


def component_dtype(card: HasDtypes, name: str, device: str, plan: Any = None) -> str:
    """The dtype name component `name` loads in (see `component_dtypes`)."""
    names = component_dtypes(card, device, plan)
    return names.get(name, names["default"])


def torch_dtypes(names: dict[str, str]) -> dict[str, torch.dtype]:
    """`component_dtypes` as torch dtypes (`from_pretrained`'s `dtype=` mapping)."""
    import torch

    return {name: getattr(torch, value) for name, value in names.items()}


def free_memory() -> None:
    """Collect garbage and return cached GPU blocks to the driver (after dropping a pipeline or an attempt)."""
    import gc

    gc.collect()
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        torch.mps.empty_cache()


def versions() -> dict[str, str]:
    """Installed versions of videogen and the libraries it drives (read once per process)."""
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name, distribution in (
        ("videogen", DISTRIBUTION),
        ("diffusers", "diffusers"),
        ("torch", "torch"),
        ("transformers", "transformers"),
        ("accelerate", "accelerate"),
    ):
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
    """Peak GPU memory of the call (CUDA; on MPS, which keeps no peak, what its allocator holds after the call),
    and the process's peak resident memory."""
    out: dict[str, Any] = {}
    if device.startswith("cuda"):
        import torch

        out["peak_gpu_bytes"] = int(torch.cuda.max_memory_allocated())
    elif device.startswith("mps"):
        import torch

        out["mps_driver_bytes"] = int(torch.mps.driver_allocated_memory())
    try:
        import resource

        out["peak_rss_bytes"] = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    except Exception:  # not on every platform
        pass
    return out
