"""Context parallelism: one video split over several GPUs under torchrun; the refusals before load (`checks`)
and the process group and diffusers' `enable_parallelism` after it (`run`). Imports `memory` and below.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """The names of the former module `videogen.parallel` (now `videogen.speed.parallel.checks`), loaded on use."""
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module("videogen.speed.parallel.checks"), name)
