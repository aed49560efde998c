"""The verbs: `prepare` → load → call → result (`flow`), what a call did (`output`), `plan`
(`plan_report`), `replay` and `calibrate`. Imports every package below; only `batch`, `bench`
and `cli` import it.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """The names of the former module `videogen.generation` (now `videogen.generation.flow`), loaded on use."""
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module("videogen.generation.flow"), name)
