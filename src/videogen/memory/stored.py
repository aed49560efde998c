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

What is read live is remembered (`remember`) and saved after the plan (`save_learned`) in the user cache,
`$VIDEOGEN_CACHE/planning/<versions>.json` (one file per set of installed versions; counts keyed by class and
config hash as above): the next process plans from it without torch. The installed package is never written.

Class defaults are stored as JSON with tuples and dicts with non-string keys tagged (`{"__tuple__": [...]}`,
`{"__items__": [[key, value], ...]}`), so they read back equal; a class whose defaults would not is read live.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from functools import cache
from pathlib import Path
from typing import Any

from ..media.atomic import write_text_atomically
from ..runtime.stamps import load_if_current, versions_of

logger = logging.getLogger("videogen")

FILE = Path(__file__).resolve().parent.parent / "families" / "configs" / "planning.json"
REGENERATE = "python -m videogen.memory.regenerate --write"
#: the libraries the stored data is read from; each one's installed version must match the file's
LIBRARIES = ("diffusers", "transformers", "torch")


def installed_versions() -> dict[str, str | None]:
    return versions_of(LIBRARIES)


@cache
def data() -> dict[str, Any] | None:
    """The stored data, or None when it was generated from other library versions than the installed ones."""
    return load_if_current(FILE, "stored planning data", "versions", installed_versions(), REGENERATE)


def stats_key(class_name: str, library: str, config_key: str) -> str:
    """What a component's stored counts are looked up by: its class and its config (`estimate.config_key`)."""
    return hashlib.sha256(f"{library}:{class_name}:{config_key}".encode()).hexdigest()[:20]


def stats(class_name: str, library: str, config_key: str) -> tuple[bool, dict[str, Any] | None]:
    """(stored, the ModuleStats fields or None when the component can't be built) of a component."""
    key = stats_key(class_name, library, config_key)
    for source in sources():
        if source is _learned_source():
            if key in source["stats"]:
                return True, source["stats"][key]
        else:
            entry = _stats_index().get(key)
            if entry is not None:
                return True, entry["stats"]
    return False, None


@cache
def _stats_index() -> dict[str, dict[str, Any]]:
    loaded = data() or {}
    return {entry["key"]: entry for parts in loaded.get("stats", {}).values() for entry in parts.values()}


def _class_field(class_name: str, library: str, field: str) -> Any:
    for source in sources():
        entry = source["classes"].get(class_name)
        if entry and entry["library"] == library and field in entry:
            return entry[field]
    return None


def capabilities(class_name: str, library: str) -> dict[str, Any] | None:
    """The stored `Capabilities` fields of component class `class_name`, or None."""
    found = _class_field(class_name, library, "capabilities")
    return dict(found) if found is not None else None


def class_defaults(class_name: str, library: str) -> dict[str, Any] | None:
    """The stored default config of component class `class_name`, or None (not stored, or not storable)."""
    found = _class_field(class_name, library, "defaults")
    return dict(decode(found)) if found is not None else None


def pipeline_field(class_name: str, field: str) -> Any:
    """A pipeline class's stored `components` ([[name, class, library], ...]) or `batches_guidance`, or None."""
    for source in sources():
        entry = source["pipelines"].get(class_name)
        if entry and field in entry:
            return entry[field]
    return None


# ---- what was read live, remembered for the installed versions -----------------------------------------------
_LEARNED_LOCK = threading.Lock()
_dirty = False


def sources() -> list[dict[str, Any]]:
    """Where lookups are answered from, in order: the packaged data when current, then the user cache."""
    packaged = data()
    return [packaged, _learned_source()] if packaged is not None else [_learned_source()]


def learned_file() -> Path:
    """The user-cache file of what was read live under the installed versions."""
    from ..families.tiny import cache_root

    versions = installed_versions()
    name = "-".join(f"{lib}{versions[lib] or 'none'}" for lib in LIBRARIES)
    digest = hashlib.sha256(json.dumps(versions, sort_keys=True).encode()).hexdigest()[:8]
    return cache_root() / "planning" / f"{_safe(name)}-{digest}.json"


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in ".-_" else "_" for ch in name)[:120]


@cache
def _learned_source() -> dict[str, Any]:
    """What earlier processes saved for the installed versions (empty when nothing, or unreadable)."""
    empty: dict[str, Any] = {"versions": installed_versions(), "stats": {}, "classes": {}, "pipelines": {}}
    loaded = _read_learned(learned_file())
    if loaded is None:
        return empty
    return {**empty, **{k: dict(loaded.get(k, {})) for k in ("stats", "classes", "pipelines")}}


def _read_learned(file: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.info("videogen: planning cache %s unreadable (%s): reading the classes live", file, exc)
        return None
    if not isinstance(loaded, dict) or loaded.get("versions") != installed_versions():
        return None
    if not all(isinstance(loaded.get(k, {}), dict) for k in ("stats", "classes", "pipelines")):
        return None
    return loaded


def remember(section: str, name: str, value: Any, field: str | None = None, library: str | None = None) -> None:
    """Keep a value read live: `stats` by key; a class's `capabilities`/`defaults`; a pipeline's field."""
    global _dirty
    learned = _learned_source()
    with _LEARNED_LOCK:
        if section == "stats":
            learned["stats"][name] = value
        else:
            entry = dict(learned[section].get(name, {}))
            if library is not None:
                entry["library"] = library
            entry[str(field)] = value
            learned[section][name] = entry
        _dirty = True


def storable(value: Any) -> Any | None:
    """`value` encoded for JSON when it reads back equal (`decode`), else None."""
    try:
        encoded = encode(value)
    except TypeError:
        return None
    return encoded if decode(json.loads(json.dumps(encoded))) == value else None


def save_learned() -> None:
    """Write what was read live since the last save to the user cache (merged with what is there)."""
    global _dirty
    if not _dirty:
        return
    file = learned_file()
    with _LEARNED_LOCK:
        learned = _learned_source()
        on_disk = _read_learned(file) or {}
        merged = {"versions": learned["versions"]}
        for section in ("stats", "classes", "pipelines"):
            merged[section] = {**on_disk.get(section, {}), **learned[section]}
        try:
            write_text_atomically(file, json.dumps(merged, sort_keys=True), durable=False)
        except OSError as exc:
            logger.info("videogen: could not save the planning cache %s: %s", file, exc)
            return
        _dirty = False
    logger.debug("videogen: saved what planning read live to %s", file)


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
