"""Many videos: `generate_many` in this process (`local`), its files and report (`files`), and on Ray
(`on_ray`, `ray_session`). Imports the flow and the result of `generation` and the packages below it; nothing
else in `generation` imports it.
"""

from __future__ import annotations

from typing import Any

#: names renamed so that "plan" means a memory plan only; the old names still work, with a DeprecationWarning
RENAMED = {"plan_batch": "batch_work", "BatchPlan": "BatchWork"}


def __getattr__(name: str) -> Any:
    """The names of the former module `videogen.batch` (now `videogen.generation.batch.local`), loaded on use."""
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    if name in RENAMED:
        import warnings

        warnings.warn(f"videogen.generation.batch.{name} is now {RENAMED[name]}", DeprecationWarning, stacklevel=2)
        name = RENAMED[name]
    return getattr(importlib.import_module("videogen.generation.batch.local"), name)
