"""`VideoSpec` ⇄ plain data (JSON-able dicts), losslessly and generically over the dataclass's fields: what
`VideoSpec.to_dict` / `from_dict` run. Below spec.py (it takes the class and its instances as arguments), pure Python.

Per field: media inputs are path or URL strings (an in-memory image or frame list can't be written: SpecError);
`loras` a list of dicts; values with a `to_dict()` (`MemoryPlan`) or dataclasses become their dict; everything else
must already be plain data: strings, finite numbers, booleans, None, lists and dicts with string keys, nested at
most `MAX_DEPTH` deep and `MAX_VALUES` values per field (a value shared in several places counts each time), with
text that is valid Unicode (no lone surrogates: undecodable bytes can't be written as UTF-8).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import re
from collections.abc import Mapping
from typing import Any

from ..errors import SpecError
from .inputs import INPUTS, MEDIA_FIELDS, items

#: how deep one field's value may nest (lists and dicts in `extra`, a scheduler's arguments, ...)
MAX_DEPTH = 64
#: the most values (each string, number, list and dict) one field may hold; a shared value counts each time
MAX_VALUES = 100_000
#: the largest whole number a spec records, in bits (JSON and Python's int parsing stop near 14,000 bits)
MAX_INT_BITS = 1024
_SURROGATE = re.compile("[\ud800-\udfff]")


class PlainLimitError(SpecError):
    """A value plain data can't hold: nested too deep, too many values, or text that isn't valid Unicode. Result
    metadata describes it (bounded) as it does an in-memory input; a spec hash refuses it."""


_EXAMPLES = {"height": 480, "width": 832, "num_frames": 81, "fps": 16, "steps": 30, "seed": 42, "guidance_scale": 5.0}


def to_plain(spec: Any, compact: bool = False) -> dict[str, Any]:
    """Every field of `spec` as plain data, in field order; `compact` leaves out fields at their default."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(spec):
        value = plain_field(f.name, getattr(spec, f.name))
        if compact and value == _plain_default(f):
            continue
        out[f.name] = value
    return out


def plain_field(name: str, value: Any) -> Any:
    """One field's value as plain data (SpecError naming the field where it has none)."""
    if name in MEDIA_FIELDS:
        if INPUTS[name].kind == "images" and isinstance(value, (list, tuple)):
            return [_plain_input(label, item, name) for label, item in items(name, value)]
        return _plain_input(name, value, name)
    if name == "loras":
        return [
            {k: _plain(v, name, name) for k, v in dataclasses.asdict(lora).items() if v is not None} for lora in value
        ]
    return _plain(value, name, name)


def _plain_input(label: str, value: Any, name: str) -> str | None:
    """One input item as a path or URL string (SpecError for pixels in memory)."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        check_text(value, label, name)
    if value is None or isinstance(value, str):
        return value
    raise SpecError(
        f"{label}: {describe_media(value, in_words=True)} lives in memory and can't be written to a spec file; "
        f"save it to a file and pass its path (or a URL), e.g. {name}='input.png'",
        field=name,
    )


def from_plain(
    cls: Any,
    data: Any,
    *,
    source: str | os.PathLike[str] | None = None,
    entry: str | int | None = None,
    base: str | os.PathLike[str] | None = None,
) -> Any:
    """`cls(**data)` for plain `data`; every SpecError names `source` (a file), `entry` ("line 3", "index 2" or an
    index) and the field. `base`: the folder relative input paths resolve against (a spec file's folder)."""
    where = _where(source, entry)
    if not isinstance(data, Mapping):
        raise SpecError(
            f"{where}a spec is a mapping of VideoSpec fields, e.g. {{'model': 'tiny-wan', 'prompt': 'a ferret'}}, "
            f"not a {type(data).__name__}",
            field="spec",
        )
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise unknown_field(key, tuple(fields), where)
    values = dict(data)
    for name, value in values.items():
        _check_type(name, value, str(fields[name].type), where)
    if base is not None:
        values = _resolved(values, os.fspath(base))
    try:
        return cls(**values)
    except SpecError as exc:
        raise SpecError(f"{where}{exc}", field=exc.field, valid=exc.valid) from exc


def unknown_field(key: Any, names: tuple[str, ...], where: str = "") -> SpecError:
    """The error for a key that is no VideoSpec field, with the closest field name."""
    import difflib

    close = difflib.get_close_matches(str(key), names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return SpecError(
        f"{where}{key!r} is not a VideoSpec field{hint}; fields: {', '.join(names)}. "
        "Pipeline-specific arguments go in extra",
        field=str(key),
    )


# ---- to plain data


def _plain(value: Any, where: str, field: str, depth: int = 0, count: list[int] | None = None) -> Any:
    count = [0] if count is None else count
    count[0] += 1
    if count[0] > MAX_VALUES:
        raise PlainLimitError(
            f"{field}: holds more than {MAX_VALUES:,} values (each number, string, list and dict counted, a shared "
            "one each time it appears), too many to record in a spec; pass settings, not data (a tensor goes in "
            "as a tensor)",
            field=field,
        )
    if depth > MAX_DEPTH:
        shown = where if len(where) <= 60 else where[:60] + "…"
        raise PlainLimitError(
            f"{shown}: nested more than {MAX_DEPTH} levels deep; a spec field holds lists and dicts at most "
            f"{MAX_DEPTH} levels deep",
            field=field,
        )
    if isinstance(value, str):
        check_text(value, where, field)
        return value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        whole = int(value)
        if whole.bit_length() > MAX_INT_BITS:
            raise PlainLimitError(
                f"{where}: a whole number of {whole.bit_length():,} bits, too large to record; a spec holds "
                f"numbers of at most {MAX_INT_BITS} bits (pipeline arguments fit in 64)",
                field=field,
            )
        return whole
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise SpecError(f"{where}={value!r}: a spec file holds finite numbers only", field=field)
        return number
    if isinstance(value, Mapping):
        bad = next((k for k in value if not isinstance(k, str)), None)
        if bad is not None:
            raise SpecError(f"{where}: key {bad!r} must be a string to be written to a spec file", field=field)
        for k in value:
            check_text(k, f"{where}: key", field)
        return {k: _plain(v, f"{where}[{k!r}]", field, depth + 1, count) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]", field, depth + 1, count) for i, v in enumerate(value)]
    if not isinstance(value, type) and callable(getattr(value, "to_dict", None)):  # MemoryPlan
        return _plain(value.to_dict(), where, field, depth, count)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value), where, field, depth, count)
    if getattr(value, "shape", None) == () and callable(getattr(value, "item", None)):  # numpy / torch scalars
        return _plain(value.item(), where, field, depth, count)
    raise SpecError(
        f"{where}: {describe_media(value, in_words=True)} can't be written to a spec file (plain data only: "
        "strings, numbers, true/false, null, lists and dicts); pass its plain value",
        field=field,
    )


def check_text(text: str, where: str, field: str) -> None:
    """Text must be valid Unicode: a lone surrogate (what Python makes of bytes that aren't UTF-8, e.g. in a
    command-line argument) can't be written as UTF-8, to a spec file, a sidecar or a hash."""
    bad = _SURROGATE.search(text)
    if bad is not None:
        raise PlainLimitError(
            f"{where}: the text is not valid UTF-8 ({bad.group()!r} at character {bad.start()}: bytes that are not "
            "UTF-8, e.g. from a terminal in another encoding); pass UTF-8 text",
            field=field,
        )


def _plain_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        return dataclasses.MISSING
    return plain_field(f.name, default)


def describe_media(value: Any, *, in_words: bool = False) -> Any:
    """What an input is, in short: for metadata (`<PIL image 32x32>`; paths and None as they are) or, with
    `in_words`, for a message (`a PIL image (32x32)`). The one way videogen describes an in-memory input."""
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "mode") and isinstance(getattr(value, "size", None), tuple):  # PIL (a tensor's size is a method)
        w, h = value.size
        return f"a PIL image ({w}x{h})" if in_words else f"<PIL image {w}x{h}>"
    if hasattr(value, "shape"):
        shape = tuple(value.shape)
        return f"a {type(value).__name__} of shape {shape}" if in_words else f"<array {shape}>"
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, str) for v in value):  # paths or URLs (reference images)
            return f"a list of {len(value)} paths" if in_words else list(value)
        return f"a list of {len(value)} frames" if in_words else f"<{len(value)} frames>"
    return f"a {type(value).__name__}" if in_words else f"<{type(value).__name__}>"


# ---- from plain data


def _where(source: Any, entry: str | int | None) -> str:
    parts = [os.fspath(source)] if source is not None else []
    if entry is not None:
        parts.append(f"index {entry}" if isinstance(entry, int) else str(entry))
    return ", ".join(parts) + ": " if parts else ""


def _check_type(name: str, value: Any, annotation: str, where: str) -> None:
    """The JSON type of a value whose field's annotation says it (spec files carry strings where numbers
    belong); the field's own rules (bounds, choices) are checked when the spec is used."""
    if value is None and (annotation.endswith("| None") or name in MEDIA_FIELDS):
        return
    if name in MEDIA_FIELDS:
        ok, want = isinstance(value, (str, os.PathLike)), "a path or URL (a string)"
        if INPUTS[name].kind == "images":
            listed = isinstance(value, list) and all(isinstance(v, (str, os.PathLike)) for v in value)
            ok, want = ok or listed, "a path or URL (a string) or a list of them"
    elif annotation.startswith("int"):
        ok, want = isinstance(value, numbers.Real) and not isinstance(value, bool), "a whole number"
    elif annotation.startswith("float"):
        ok, want = isinstance(value, numbers.Real) and not isinstance(value, bool), "a number"
    elif annotation.startswith(("str", "Task")):
        ok, want = isinstance(value, str), "a string"
    elif annotation == "bool":
        ok, want = isinstance(value, bool), "true or false"
    else:
        return
    if not ok:
        example = _EXAMPLES.get(name)
        eg = f", e.g. {name}: {example}" if example is not None else ""
        null = " (or null)" if annotation.endswith("| None") or name in MEDIA_FIELDS else ""
        raise SpecError(f"{where}{name}={value!r} must be {want}{null}{eg}", field=name)


def _resolved(values: dict[str, Any], base: str) -> dict[str, Any]:
    """Relative input paths joined to `base`; `model` and LoRA sources only when they start with ./ or ../."""
    base = os.path.abspath(base)

    def media(path: Any) -> Any:
        if not isinstance(path, str) or not path or "://" in path or path.startswith("~") or os.path.isabs(path):
            return path
        return os.path.join(base, path)

    def explicit(path: Any) -> Any:
        if isinstance(path, str) and path.startswith(("./", "../", ".\\", "..\\")):
            return os.path.normpath(os.path.join(base, path))
        return path

    def lora(item: Any) -> Any:
        if isinstance(item, Mapping) and "source" in item:
            return {**item, "source": explicit(item["source"])}
        if isinstance(item, (list, tuple)) and item and isinstance(item[0], str):
            return [explicit(item[0]), *item[1:]]
        return explicit(item)

    out = dict(values)
    for name in MEDIA_FIELDS:
        if isinstance(out.get(name), list):
            out[name] = [media(item) for item in out[name]]
        elif name in out:
            out[name] = media(out[name])
    if "model" in out:
        out["model"] = explicit(out["model"])
    loras = out.get("loras")
    if isinstance(loras, list) and not (
        2 <= len(loras) <= 3 and isinstance(loras[0], str) and isinstance(loras[1], numbers.Real)
    ):
        out["loras"] = [lora(item) for item in loras]
    elif loras is not None:
        out["loras"] = lora(loras)
    return out
