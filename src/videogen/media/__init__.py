"""Pixels in and out: reading images and videos within budgets, fetching URLs, fitting an image to the
output size, writing mp4/gif/webp/png and putting files in place atomically with their sidecar.
Imports only `errors`.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """The names of the former module `videogen.media` (now `videogen.media.read`), loaded on use."""
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module("videogen.media.read"), name)
