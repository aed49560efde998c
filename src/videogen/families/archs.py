"""The stored full-size architecture configs (`configs/<arch>.json`, named by `ModelCard.arch`).

Read by the families (is a folder a copy of a catalog model?) and by memory planning (weights and
activations without downloading anything). Plain JSON: no torch, nothing of videogen's above it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@cache
def arch_config(arch: str | None) -> dict[str, Any] | None:
    """The stored full-size architecture `arch` (components with class and config), or None."""
    if not arch:
        return None
    path = CONFIG_DIR / f"{arch}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def known_archs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))
