"""Many videos: `generate_many` in this process (`local`), its files and report (`files`), and on Ray
(`on_ray`, `ray_session`). Imports `generation` and below.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """The names of the former module `videogen.batch` (now `videogen.batch.local`), loaded on use."""
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module("videogen.batch.local"), name)
