"""Finding models: the catalog over every family's cards (`list_models`, `resolve` by name, repo id or
folder), the stored pipeline call signatures, and docs/models.md. Imports `families` and below.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """The names of the former module `videogen.catalog` (now `videogen.catalog.lookup`), loaded on use."""
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module("videogen.catalog.lookup"), name)
