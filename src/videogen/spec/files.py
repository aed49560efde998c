"""Spec files and lossless spec dicts (docs/specfiles.md): `load_specs` / `dump_specs` in JSON, JSON Lines, YAML
or TOML, specs as dicts (`VideoSpec.to_dict`), and the hashes batches and replay compare: `spec_hash` (the spec and
its inputs' contents) and `input_hashes` (each local input file's sha256).

The formats themselves are specformats.py's; the dict form is specdict.py's (`VideoSpec.to_dict`/`from_dict`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import SpecError
from ..media.save import file_sha256
from .formats import read_entries, write_entries
from .inputs import INPUTS, items
from .plain import MAX_DEPTH, MAX_INT_BITS, MEDIA_FIELDS, PlainLimitError, plain_field
from .videospec import VideoSpec, describe_media

logger = logging.getLogger("videogen")

__all__ = [
    "spec_record",
    "spec_metadata",
    "spec_hash",
    "input_hashes",
    "input_sha256",
    "load_specs",
    "dump_specs",
    "MEDIA_FIELDS",
]


def spec_record(spec: VideoSpec, *, compact: bool = False, strict: bool = False) -> tuple[dict[str, Any], list[str]]:
    """`VideoSpec.to_dict` where each field can be written; a field that can't (an in-memory input, a tensor in
    `extra`, a value nested too deep or too large, text that isn't valid UTF-8) is described instead (as
    `VideoSpec.summary` does, within bounds) and named in the returned list. What result metadata records: replay
    refuses a described field unless it is given again. `strict`: a value too deep, too large or not valid UTF-8
    is its SpecError instead (what can't be hashed faithfully)."""
    out: dict[str, Any] = {}
    described: list[str] = []
    defaults = VideoSpec().to_dict() if compact else {}
    for f in dataclasses.fields(spec):
        name, raw = f.name, getattr(spec, f.name)
        try:
            value = plain_field(name, raw)
        except PlainLimitError:
            if strict:
                raise
            out[name] = _described(name, raw)
            described.append(name)
            continue
        except SpecError:
            out[name] = _described(name, raw)
            described.append(name)
            continue
        if not compact or value != defaults.get(name):
            out[name] = value
    return out, described


def input_hashes(spec: VideoSpec) -> dict[str, Any]:
    """For each input given as a local file or folder of frames: {"path": absolute path, "sha256": content
    hash}; for a URL: {"url": url} (no hash: it is downloaded again); for a list of images given as files or
    URLs, the list of their records. In-memory inputs are left out. A missing file is a SpecError naming the
    field."""
    out: dict[str, Any] = {}
    for name in MEDIA_FIELDS:
        records = [_input_record(label, item, name) for label, item in items(name, getattr(spec, name))]
        if isinstance(getattr(spec, name), (list, tuple)) and INPUTS[name].kind == "images":
            if all(r is not None for r in records):  # a list of files: a list of records, in order
                out[name] = records
        elif records and records[0] is not None:
            out[name] = records[0]
    return out


def _input_record(label: str, value: Any, name: str) -> dict[str, Any] | None:
    """{"path", "sha256"} of a local input, {"url"} of a URL, None for pixels in memory."""
    if not isinstance(value, (str, os.PathLike)):
        return None
    path = _local_path(label, value, name)
    if path is None:
        return {"url": os.fspath(value)}
    return {"path": str(path), "sha256": input_sha256(path, name)}


def input_sha256(path: str | os.PathLike[str], field: str = "image") -> str:
    """The sha256 of an input file; of a folder of frames, of the lines `<sha256>  <name>\\n` of the image files
    videogen reads from it (media.FRAME_SUFFIXES), in name order. Only regular files within the input byte limits
    of `field` are read (media.py: a FIFO or device never blocks, a huge file is refused before it is read); any
    other is a SpecError naming `field`."""
    from ..media.read import FRAME_SUFFIXES, input_error, max_bytes

    path = Path(path)
    kind, source = INPUTS[field].byte_kind if field in INPUTS else "image", os.fspath(path)
    try:
        if not path.is_dir():
            return file_sha256(path, max_bytes(kind, field))
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and p.is_file())
        total, limit = sum(f.stat().st_size for f in files), max_bytes("video", field)
        if total > limit:
            raise SpecError(
                f"{field}: the frames in {source!r} are {total:,} bytes, over the limit of {limit:,} for a video "
                "input (VIDEOGEN_MAX_VIDEO_BYTES); pass fewer or smaller frames",
                field=field,
            )
        per_frame = max_bytes("image", field)
        lines = []
        for file in files:
            source, kind = str(file), "image"
            lines.append(f"{file_sha256(file, per_frame)}  {file.name}\n")
        return hashlib.sha256("".join(lines).encode()).hexdigest()
    except OSError as exc:
        raise input_error(exc, field, source, kind) from None


def spec_hash(spec: VideoSpec) -> str:
    """A stable sha256 (hex) of what makes the video: the spec's non-default fields as canonical JSON, with each
    local input replaced by its content's sha256 (a changed input changes the hash; a moved one doesn't) and
    in-memory inputs by the sha256 of their pixels. Fields that aren't plain data count by their description."""
    record, _ = spec_record(spec, compact=True, strict=True)
    for name in MEDIA_FIELDS:
        value = getattr(spec, name)
        if INPUTS[name].kind == "images" and isinstance(value, (list, tuple)):
            record[name] = [_content(label, item, name) for label, item in items(name, value)]
        elif value is not None:
            record[name] = _content(name, value, name)
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def _content(label: str, value: Any, name: str) -> Any:
    """What the hash takes of one input item: a local file's sha256, a URL as is, pixels' sha256."""
    if isinstance(value, (str, os.PathLike)):
        path = _local_path(label, value, name)
        return os.fspath(value) if path is None else {"sha256": input_sha256(path, name)}
    return {"pixels_sha256": _pixels_sha256(value)}


def load_specs(path: str | os.PathLike[str]) -> list[VideoSpec]:
    """Every spec in a .json (one object or a list), .jsonl (one per line), .yaml/.yml (one mapping or a list)
    or .toml (one table or [[spec]] tables) file. Relative input paths resolve against the file's folder. A bad
    file or entry is a SpecError naming the file, the entry (line or index) and the field."""
    base = os.path.dirname(os.path.abspath(os.path.expanduser(os.fspath(path))))
    return [VideoSpec.from_dict(data, source=path, entry=entry, base=base) for entry, data in read_entries(path)]


def dump_specs(specs: VideoSpec | Iterable[VideoSpec], path: str | os.PathLike[str]) -> Path:
    """Write one spec (as one object/mapping/table) or a list of specs to a .json, .jsonl, .yaml/.yml or .toml
    file, atomically, each as its non-default fields; `load_specs` reads them back. Returns the path."""
    single = isinstance(specs, VideoSpec)
    items = [specs] if isinstance(specs, VideoSpec) else list(specs)
    bad = next((s for s in items if not isinstance(s, VideoSpec)), None)
    if bad is not None:
        raise SpecError(f"dump_specs: {type(bad).__name__} is not a VideoSpec", field="spec")
    documents = []
    for i, spec in enumerate(items):
        try:
            documents.append(spec.to_dict(compact=True))
        except SpecError as exc:
            where = "" if single else f"index {i}: "
            raise SpecError(f"{os.fspath(path)}: {where}{exc}", field=exc.field) from exc
    return write_entries(documents, path, single=single)


def spec_metadata(spec: VideoSpec) -> dict[str, Any]:
    """What result metadata records of a completed spec: "spec" (`spec_record`: lossless where it can be),
    "inputs" (`input_hashes`) and, when some field could only be described, "spec_described" (their names)."""
    record, described = spec_record(spec)
    for name in described:
        try:
            plain_field(name, getattr(spec, name))
        except PlainLimitError as exc:  # the video is made: recorded as a description, replay asks for it
            logger.warning("the metadata describes %s instead of recording it: %s", name, exc)
        except SpecError:
            pass
    try:
        inputs = input_hashes(spec)
    except SpecError as exc:  # an input removed while the video was made: the video is still good
        logger.warning("not recording the inputs' hashes: %s", exc)
        inputs = {}
    out: dict[str, Any] = {"spec": record, "inputs": inputs}
    if described:
        out["spec_described"] = described
    return out


def _local_path(label: str, value: str | os.PathLike[str], name: str | None = None) -> Path | None:
    """The absolute path of a local input (None for a URL); a SpecError naming the field when it is missing."""
    text = os.fspath(value)
    if "://" in text:
        return None
    path = Path(text).expanduser().absolute()
    if not path.exists():
        raise SpecError(f"{label}: no file at {text!r}; pass an existing path or a URL", field=name or label)
    return path


#: the most values and characters a description of an unrecordable field holds
_DESCRIBED_VALUES, _DESCRIBED_TEXT = 1000, 1000


def _described(name: str, value: Any) -> Any:
    """What `VideoSpec.summary` says of one field, within bounds: at most `MAX_DEPTH` deep and `_DESCRIBED_VALUES`
    values ("…" for the rest), text shortened and made valid UTF-8."""
    if name in MEDIA_FIELDS:
        described = describe_media(value)
        return _text(described) if isinstance(described, str) else described
    if name == "memory" and not isinstance(value, (str, type(None))):
        return _text(repr(value))
    count = 0

    def walk(item: Any, depth: int) -> Any:
        nonlocal count
        if isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > MAX_INT_BITS:
            return f"<a whole number of {item.bit_length():,} bits>"
        if item is None or isinstance(item, (bool, int, float)):
            return item
        if isinstance(item, str):
            return _text(item)
        if depth >= MAX_DEPTH:
            return "…"
        if not isinstance(item, (Mapping, list, tuple)):
            return _text(repr(item))
        pairs = item.items() if isinstance(item, Mapping) else enumerate(item)
        out: dict[str, Any] = {}
        for key, v in pairs:
            if count >= _DESCRIBED_VALUES:
                out["…"] = "…"
                break
            count += 1
            out[_text(str(key))] = walk(v, depth + 1)
        return out if isinstance(item, Mapping) else list(out.values())

    return walk(value, 0)


def _text(text: str) -> str:
    text = text.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate becomes "?"
    return text if len(text) <= _DESCRIBED_TEXT else text[:_DESCRIBED_TEXT] + "…"


def _pixels_sha256(value: Any) -> str:
    """The sha256 of an in-memory input's pixels (a PIL image, an array, or a list of frames) with their shape."""
    import numpy as np

    digest = hashlib.sha256()
    frames = value if isinstance(value, (list, tuple)) else [value]
    for frame in frames:
        array = np.ascontiguousarray(np.asarray(frame))
        digest.update(f"{array.dtype.str}{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
