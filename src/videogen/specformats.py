"""Spec files as plain data: JSON, JSON Lines, YAML and TOML documents read as a list of (entry, dict) and written
back atomically. Knows nothing of `VideoSpec` (spec.py turns the dicts into specs; specfile.py is the public API).

* JSON (`.json`): one object, or a list of objects (entries "index 0", "index 1", ...).
* JSON Lines (`.jsonl`): one object per non-blank line (entries "line 1", "line 2", ...).
* YAML (`.yaml`, `.yml`, needs pyyaml): one mapping, or a list of mappings.
* TOML (`.toml`): one table of fields, or an array of `[[spec]]` tables. TOML has no null value.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import MissingDependencyError, SaveError, SpecError
from .saving import _remove, _temp_name

#: file suffix → format
FORMATS = {".json": "json", ".jsonl": "jsonl", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml"}
#: the TOML key of the array of tables that holds several specs
TOML_LIST_KEY = "spec"

Entry = tuple[str | None, Any]


def format_of(path: str | os.PathLike[str]) -> str:
    """ "json", "jsonl", "yaml" or "toml" from the file's suffix; a SpecError for any other."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise SpecError(
            f"{os.fspath(path)}: a spec file ends in {', '.join(FORMATS)} (JSON, JSON Lines, YAML, TOML), "
            f"not {suffix or 'no suffix'!r}; e.g. run.yaml",
            field="spec",
        )
    return FORMATS[suffix]


def read_text(path: str | os.PathLike[str], missing: str, unreadable: str, field: str) -> str:
    """A user's UTF-8 text file (a BOM allowed); a missing or unreadable one is a SpecError on `field` whose
    message starts with `missing` / `unreadable`."""
    try:
        return Path(path).expanduser().read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SpecError(missing, field=field) from None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SpecError(f"{unreadable} ({why}); pass a readable UTF-8 file", field=field) from None


def read_entries(path: str | os.PathLike[str]) -> list[Entry]:
    """The documents of a spec file as (entry, value): entry is None for a file of one spec, "index N" for a
    list, "line N" for JSON Lines. Unreadable or malformed files are a SpecError naming the file (and line)."""
    kind = format_of(path)
    name = os.fspath(path)
    text = read_text(path, f"{name}: no such spec file; check the path", f"{name}: cannot read the spec file", "spec")
    if kind == "jsonl":
        entries = _jsonl(text, name)
    else:
        document = {"json": _json, "yaml": _yaml, "toml": _toml}[kind](text, name)
        entries = _documents(document, name, kind)
    if not entries:
        raise SpecError(
            f'{name}: the file holds no specs; write at least one, e.g. {{"model": "tiny-wan"}}', field="spec"
        )
    return entries


def write_entries(documents: Sequence[dict[str, Any]], path: str | os.PathLike[str], *, single: bool = False) -> Path:
    """Write plain dicts as a spec file of the suffix's format, atomically (a temp file renamed into place):
    `single` writes one object/mapping/table instead of a list (it needs exactly one document)."""
    kind = format_of(path)
    target = Path(path).expanduser()
    docs = [dict(d) for d in documents]
    if single and len(docs) != 1:
        raise ValueError(f"single=True needs one document, got {len(docs)}")
    if kind == "json":
        text = _dumps_json(docs[0] if single else docs, target, indent=2) + "\n"
    elif kind == "jsonl":
        text = "".join(_dumps_json(d, target) + "\n" for d in docs)
    elif kind == "yaml":
        yaml = _import("yaml", "pyyaml")
        text = yaml.safe_dump(docs[0] if single else docs, sort_keys=False, allow_unicode=True)
    else:
        tomli_w = _import("tomli_w", "tomli-w")
        for i, doc in enumerate(docs):
            _check_toml(doc, target, None if single else i)
        text = tomli_w.dumps(docs[0] if single else {TOML_LIST_KEY: docs})
    write_text_atomically(target, text)
    return target


def write_text_atomically(target: Path, text: str) -> None:
    """`text` in `target`, complete or not at all: written to a temp name beside it (saving.py's names, so a killed
    write's leftover is cleaned by the next save there), flushed to disk, then renamed into place."""
    tmp = _temp_name(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "x", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        raise SaveError(f"path: could not write {str(target)!r}: {exc.strerror or exc}") from exc
    except BaseException:
        _remove(tmp)
        raise


# ---- reading


def _documents(document: Any, name: str, kind: str) -> list[Entry]:
    if isinstance(document, list):
        return [(f"index {i}", item) for i, item in enumerate(document)]
    if document is None:
        return []
    return [(None, document)]


def _json(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"{name}, line {exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno})", field="spec"
        ) from None


def _jsonl(text: str, name: str) -> list[Entry]:
    entries: list[Entry] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entries.append((f"line {number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            raise SpecError(
                f"{name}, line {number}: not valid JSON ({exc.msg}, column {exc.colno}); JSON Lines holds one "
                'object per line, e.g. {"model": "tiny-wan", "prompt": "a ferret"}',
                field="spec",
            ) from None
    return entries


def _yaml(text: str, name: str) -> Any:
    yaml = _import("yaml", "pyyaml")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        hint = "; several specs go in one list (- model: ...), not in several documents" if "single" in str(exc) else ""
        raise SpecError(f"{name}{where}: not valid YAML ({problem}){hint}", field="spec") from None


def _toml(text: str, name: str) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        tomllib = _import("tomli", "tomli")
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{name}: not valid TOML ({exc})", field="spec") from None
    if TOML_LIST_KEY in table:
        specs = table[TOML_LIST_KEY]
        others = sorted(k for k in table if k != TOML_LIST_KEY)
        if not isinstance(specs, list) or others:
            raise SpecError(
                f"{name}: a TOML spec file is one table of fields, or [[{TOML_LIST_KEY}]] tables only"
                + (f" (it also has {others[0]!r} at the top)" if others else ""),
                field="spec",
            )
        return specs
    return table


# ---- writing


def _dumps_json(value: Any, target: Path, indent: int | None = None) -> str:
    try:
        return json.dumps(value, indent=indent, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:  # spec.py hands over plain, finite data: a caller's own dict
        raise SpecError(f"{target}: cannot write as JSON ({exc})", field="spec") from None


def _check_toml(doc: dict[str, Any], target: Path, index: int | None) -> None:
    """TOML has no null: say which field holds one (the other formats keep it)."""

    def find(value: Any, where: str) -> str | None:
        if value is None:
            return where
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            found = find(item, f"{where}[{key!r}]")
            if found:
                return found
        return None

    for key, value in doc.items():
        found = find(value, key)
        if found:
            entry = f", index {index}" if index is not None else ""
            raise SpecError(
                f"{target}{entry}: {found} is None, and TOML has no null value; write the spec as .json, "
                ".jsonl or .yaml, or leave the value out",
                field=key,
            )


def _import(module: str, package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"reading and writing this spec file format needs {package}: pip install {package}"
        ) from None
