"""The verbs: `prepare` → load → call → result (`flow`) with the features a spec turns on (`features`), what a
call did (`output`), `plan` (`plan_report`), `replay`, `calibrate`, `agenerate` (`awaitable`), and many videos
(`batch`: `generate_many` here and on Ray). Imports every package below; only `serve` and `cli` import it.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """The names of the former module `videogen.generation` (now `videogen.generation.flow`), loaded on use."""
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module("videogen.generation.flow"), name)
