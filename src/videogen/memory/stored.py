"""What memory planning reads of the classes, stored for the catalog (`configs/planning.json`).

Planning a catalog model reads each component's parameter counts built on the meta device
(`estimate.ModuleStats`), what each component class supports (`components.Capabilities`) and its default
config (`activations.effective_config`), and each pipeline class's model components (its `__init__`
annotations) and whether it batches guidance. Reading them from the classes imports torch, diffusers and
transformers and builds every component on the meta device (seconds), so they are stored, generated from the
installed libraries, and `videogen plan -m <catalog model>` imports none of them. Regenerate after upgrading
diffusers, transformers or torch, or after editing a `configs/<arch>.json`:

    python -m videogen.memory.regenerate --write

tests/memory/test_stored.py regenerates them and compares, and checks that every catalog model's plan from
the stored data is the live one. The stored data is used only when the installed diffusers, transformers and
torch are the versions it was generated from, and a component's counts only when its config is the one they
were counted from (`stats_key`); otherwise the classes are read live (exact, but importing torch).

Class defaults are stored as JSON with tuples and dicts with non-string keys tagged (`{"__tuple__": [...]}`,
`{"__items__": [[key, value], ...]}`), so they read back equal; a class whose defaults would not is read live.
"""

from __future__ import annotations

import hashlib
import logging
from functools import cache
from pathlib import Path
from typing import Any

from ..generated import load_if_current, versions_of

logger = logging.getLogger("videogen")

FILE = Path(__file__).resolve().parent.parent / "configs" / "planning.json"
REGENERATE = "python -m videogen.memory.regenerate --write"
#: the libraries the stored data is read from; each one's installed version must match the file's
LIBRARIES = ("diffusers", "transformers", "torch")
#: where each library's `__version__ = "..."` line is, relative to its package folder


def installed_versions() -> dict[str, str | None]:
    return versions_of(LIBRARIES)


@cache
def data() -> dict[str, Any] | None:
    """The stored data, or None when it was generated from other library versions than the installed ones."""
    return load_if_current(FILE, "stored planning data", "versions", installed_versions(), REGENERATE)


def stats_key(class_name: str, library: str, config_key: str) -> str:
    """What a component's stored counts are looked up by: its class and its config (`estimate._config_key`)."""
    return hashlib.sha256(f"{library}:{class_name}:{config_key}".encode()).hexdigest()[:20]


def stats(class_name: str, library: str, config_key: str) -> tuple[bool, dict[str, Any] | None]:
    """(stored, the ModuleStats fields or None when the component can't be built) of a component."""
    if data() is None:
        return False, None
    entry = _stats_index().get(stats_key(class_name, library, config_key))
    return (False, None) if entry is None else (True, entry["stats"])


@cache
def _stats_index() -> dict[str, dict[str, Any]]:
    loaded = data() or {}
    return {entry["key"]: entry for parts in loaded.get("stats", {}).values() for entry in parts.values()}


def _class_entry(class_name: str, library: str) -> dict[str, Any] | None:
    loaded = data()
    entry = loaded["classes"].get(class_name) if loaded else None
    return entry if entry and entry["library"] == library else None


def capabilities(class_name: str, library: str) -> dict[str, Any] | None:
    """The stored `Capabilities` fields of component class `class_name`, or None."""
    entry = _class_entry(class_name, library)
    return entry.get("capabilities") if entry else None


def class_defaults(class_name: str, library: str) -> dict[str, Any] | None:
    """The stored default config of component class `class_name`, or None (not stored, or not storable)."""
    entry = _class_entry(class_name, library)
    if not entry or "defaults" not in entry:
        return None
    return _decoded_defaults(class_name)


@cache
def _decoded_defaults(class_name: str) -> dict[str, Any]:
    return dict(decode((data() or {})["classes"][class_name]["defaults"]))


def pipeline(class_name: str) -> dict[str, Any] | None:
    """{"components": [[name, class, library], ...], "batches_guidance": bool} of a pipeline class, or None."""
    loaded = data()
    return loaded["pipelines"].get(class_name) if loaded else None


def encode(value: Any) -> Any:
    """`value` as JSON, tuples tagged; raises TypeError for anything JSON can't hold."""
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):  # e.g. transformers' id2label: {0: "LABEL_0"}
            return {"__items__": [[encode(k), encode(v)] for k, v in value.items()]}
        return {k: encode(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"not storable: {type(value).__name__}")


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(decode(v) for v in value["__tuple__"])
        if set(value) == {"__items__"}:
            return {decode(k): decode(v) for k, v in value["__items__"]}
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value
