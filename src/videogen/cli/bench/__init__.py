"""`videogen bench`: the memory bench (`memory`), the step-cache speed bench (`speed`) and their reports
(`output`). Imports `generation` and below.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """The names of the former module `videogen.cli.bench` (now `videogen.cli.bench.memory`), loaded on use."""
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module("videogen.cli.bench.memory"), name)
