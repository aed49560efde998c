"""What a video is asked for, as data: `VideoSpec` and `LoRA`, plain dicts, the spec file formats, sweeps
and the number checks. Pure Python (no torch). Imports only `media` (describing inputs) and `errors`.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """The names of the former module `videogen.spec` (now `videogen.spec.videospec`), loaded on use."""
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module("videogen.spec.videospec"), name)
