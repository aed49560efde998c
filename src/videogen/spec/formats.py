"""Spec files as plain data: JSON, JSON Lines, YAML and TOML documents read as a list of (entry, dict) and written
back atomically. Knows nothing of `VideoSpec` (spec.py turns the dicts into specs; specfile.py is the public API).

* JSON (`.json`): one object, or a list of objects (entries "index 0", "index 1", ...).
* JSON Lines (`.jsonl`): one object per non-blank line (entries "line 1", "line 2", ...).
* YAML (`.yaml`, `.yml`, needs pyyaml): one mapping, or a list of mappings.
* TOML (`.toml`): one table of fields, or an array of `[[spec]]` tables. TOML has no null value.

Reading is bounded: a hostile file is one SpecError, never a hang or a blow-up. A regular file of at most
`MAX_TEXT_BYTES`; values nested at most `MAX_DEPTH` deep, at most `MAX_VALUES` of them (YAML aliases counted on the
node graph before anything is built: an alias bomb is never expanded); no NUL, no lone surrogate in text.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import MissingDependencyError, SpecError
from ..media.atomic import write_text_atomically
from ..media.save import FileTooLargeError, NotRegularFileError, open_regular

#: file suffix → format
FORMATS = {".json": "json", ".jsonl": "jsonl", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml"}
#: the TOML key of the array of tables that holds several specs
TOML_LIST_KEY = "spec"

#: the most bytes read from a spec, prompts, plan or metadata file
MAX_TEXT_BYTES = 64 * 2**20
#: how deep values in a file may nest (a list of specs → a spec → extra → ...)
MAX_DEPTH = 64
#: the most values (each string, number, list and mapping) one file may hold, YAML aliases counted each time used
MAX_VALUES = 1_000_000

Entry = tuple[str | None, Any]
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


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


def read_text(
    path: str | os.PathLike[str], missing: str, unreadable: str, field: str, max_bytes: int = MAX_TEXT_BYTES
) -> str:
    """A user's UTF-8 text file (a BOM allowed): a regular file of at most `max_bytes` (a FIFO or device is refused
    without blocking); a missing, unreadable, special or oversized one is a SpecError on `field` whose message starts
    with `missing` / `unreadable`."""
    try:
        with open_regular(Path(path).expanduser(), max_bytes) as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:  # grew while it was read
            raise FileTooLargeError(0, f"over {max_bytes:,} bytes")
        return data.decode("utf-8-sig")
    except FileNotFoundError:
        raise SpecError(missing, field=field) from None
    except (NotRegularFileError, FileTooLargeError) as exc:  # a FIFO, a device, a huge file
        raise SpecError(
            f"{unreadable}: it is {exc.strerror}; pass a regular file, at most {max_bytes / 2**20:g} MiB", field=field
        ) from None
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
        document = parse(text, kind, name)
        if kind == "toml":
            document = _toml_specs(document, name)
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


# ---- reading


def _documents(document: Any, name: str, kind: str) -> list[Entry]:
    if isinstance(document, list):
        return [(f"index {i}", item) for i, item in enumerate(document)]
    if document is None:
        return []
    return [(None, document)]


def parse(text: str, kind: str, name: str, field: str = "spec", strict_text: bool = True) -> Any:
    """One document of `kind` ("json", "yaml" or "toml"), within the bounds (module docstring); anything else is a
    SpecError naming `name` (the file) on `field`. `strict_text`: refuse NUL characters too (a user's file; a
    sidecar keeps what the spec held)."""
    parser = {"json": _json, "yaml": _yaml, "toml": _toml}[kind]
    return _bounded(lambda: parser(text, name), kind, name, field, strict_text)


def _bounded(read: Any, kind: str, name: str, field: str, strict_text: bool, check: bool = True) -> Any:
    """`read()`'s value, checked by `check_tree` (`check`); the parsers' own failures on hostile input as
    SpecErrors."""
    try:
        value = read()
    except RecursionError:
        raise _too_deep(name, field) from None
    except SpecError as exc:
        exc.field = field
        raise
    except ValueError as exc:  # e.g. an integer of more digits than Python parses (4,300)
        if "digits" in str(exc):
            raise SpecError(
                f"{name}: a number has more digits than videogen reads ({sys.get_int_max_str_digits():,}); spec "
                "values are settings: write a smaller number",
                field=field,
            ) from None
        raise SpecError(f"{name}: not valid {kind.upper()} ({exc})", field=field) from None
    if check:
        check_tree(value, name, field, strict_text)
    return value


def check_tree(value: Any, name: str, field: str = "spec", strict_text: bool = True) -> int:
    """Values parsed from a file: nested at most `MAX_DEPTH` deep, at most `MAX_VALUES` of them, text without lone
    surrogates (and, `strict_text`, without NUL); a SpecError naming the file and where in it. Returns the count."""
    count = 0
    # (value, depth, where): `where` a linked (parent, key) pair, spelled out only for an error
    stack: list[tuple[Any, int, Any]] = [(value, 0, None)]
    while stack:
        item, depth, where = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise _too_many(name, "holds", field)
        if depth > MAX_DEPTH:
            raise _too_deep(f"{name}: {_spelled(where)}", field)
        if isinstance(item, str):
            _check_text(item, name, where, field, strict_text)
        elif isinstance(item, dict):
            for k, v in item.items():
                if isinstance(k, str):
                    _check_text(k, name, where, field, strict_text)
                stack.append((v, depth + 1, (where, k)))
        elif isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1, (where, i)) for i, v in enumerate(item))
    return count


def _spelled(where: Any) -> str:
    """`(((None, 'extra'), 'a'), 0)` → "extra['a'][0]" (at most 60 characters)."""
    keys = []
    while where is not None:
        where, key = where
        keys.append(key)
    text = "".join(f"[{k!r}]" if i or not isinstance(k, str) else k for i, k in enumerate(reversed(keys)))
    return text if len(text) <= 60 else text[:60] + "…"


def _check_text(text: str, name: str, where: Any, field: str, strict: bool) -> None:
    bad = _BAD_TEXT.search(text)
    if bad is None or (bad.group() == "\x00" and not strict):
        return
    at = f"{_spelled(where)}: " if where is not None else ""
    what = "a NUL character" if bad.group() == "\x00" else f"a lone surrogate ({bad.group()!r}), which is not UTF-8"
    raise SpecError(f"{name}: {at}the text holds {what}; remove it or write the character itself", field=field)


def _too_deep(where: str, field: str = "spec") -> SpecError:
    return SpecError(f"{where}: values nest more than {MAX_DEPTH} levels deep; write them flatter", field=field)


def _too_many(name: str, verb: str, field: str = "spec", note: str = "") -> SpecError:
    return SpecError(
        f"{name}: {verb} more than {MAX_VALUES:,} values{note}; a spec holds settings, not data: write fewer values "
        "or split the file",
        field=field,
    )


def load_json(text: str, name: str, field: str = "spec", strict_text: bool = True) -> Any:
    """A JSON document within the bounds (`parse`)."""
    return parse(text, "json", name, field, strict_text)


def _json(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"{name}, line {exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno})", field="spec"
        ) from None


def _jsonl(text: str, name: str) -> list[Entry]:
    entries: list[Entry] = []
    total = 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            label = f"{name}, line {number}"
            value = _bounded(functools.partial(_jsonl_line, line, name, number), "json", label, "spec", True, False)
            entries.append((f"line {number}", value))
            total += check_tree(value, label)  # the file's total, as for the other formats
            if total > MAX_VALUES:
                raise _too_many(name, "holds")
    return entries


def _jsonl_line(line: str, name: str, number: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"{name}, line {number}: not valid JSON ({exc.msg}, column {exc.colno}); JSON Lines holds one "
            'object per line, e.g. {"model": "tiny-wan", "prompt": "a ferret"}',
            field="spec",
        ) from None


def _yaml(text: str, name: str) -> Any:
    yaml = _import("yaml", "pyyaml")
    loader = yaml.SafeLoader(text)  # composing nests as deep as the text: too deep is a RecursionError (`parse`)
    try:
        node = loader.get_single_node()  # the node graph: an alias is a reference, nothing expanded yet
        if node is None:
            return None
        _check_yaml_nodes(node, name)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        hint = "; several specs go in one list (- model: ...), not in several documents" if "single" in str(exc) else ""
        raise SpecError(f"{name}{where}: not valid YAML ({problem}){hint}", field="spec") from None
    finally:
        loader.dispose()


def _check_yaml_nodes(root: Any, name: str) -> None:
    """The document as it would be built, counted on the node graph: at most `MAX_VALUES` values with every alias
    expanded, at most `MAX_DEPTH` deep, no alias inside its own anchor. Each node is visited once."""
    import yaml

    done: dict[int, tuple[int, int]] = {}  # id(node) → (values, height) once expanded
    active: set[int] = set()

    def visit(node: Any, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in done:
            size, height = done[key]
        else:
            if key in active:
                raise SpecError(
                    f"{name}, line {node.start_mark.line + 1}: an alias refers to a value that contains it (a "
                    "recursive alias); write the value out",
                    field="spec",
                )
            if depth > MAX_DEPTH:  # before going further down: an alias chain can't recurse without end
                raise _too_deep(f"{name}, line {node.start_mark.line + 1}")
            active.add(key)
            if isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            elif isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            else:
                children = []
            size, height = 1, 0
            for child in children:
                child_size, child_height = visit(child, depth + 1)
                size += child_size
                height = max(height, child_height + 1)
                if size > MAX_VALUES:
                    raise _too_many(name, "expands to", note=" (each alias counted each time it is used)")
            active.discard(key)
            done[key] = (size, height)
        if depth + height > MAX_DEPTH:
            raise _too_deep(f"{name}, line {node.start_mark.line + 1}")
        return size, height

    visit(root, 0)


def _toml(text: str, name: str) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        tomllib = _import("tomli", "tomli")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{name}: not valid TOML ({exc})", field="spec") from None


def _toml_specs(table: Any, name: str) -> Any:
    """A TOML spec file's specs: the `[[spec]]` tables, or the one table of fields."""
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
