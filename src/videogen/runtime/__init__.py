"""The machine and the installed libraries: the device and dtypes, installed versions read without
importing, the generated data files stamped with them, and the lock first imports and loads hold.
Imports only `media` and `errors`.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """The names of the former module `videogen.runtime` (now `videogen.runtime.devices`), loaded on use."""
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module("videogen.runtime.devices"), name)
