"""The `videogen` command: parser and entry (`command`), the spec flags (`args`), runs (`runs`), `env`."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """The names of the former module `videogen.cli` (now `videogen.cli.command`), loaded on use."""
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module("videogen.cli.command"), name)
