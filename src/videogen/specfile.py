"""Spec files and lossless spec dicts (docs/specfiles.md): `load_specs` / `dump_specs` in JSON, JSON Lines, YAML
or TOML, `spec_to_dict` / `spec_from_dict`, and the hashes batches and replay compare: `spec_hash` (the spec and
its inputs' contents) and `input_hashes` (each local input file's sha256).

The formats themselves are specformats.py's; the dict form is specdict.py's (`VideoSpec.to_dict`/`from_dict`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import SpecError
from .saving import content_sha256
from .spec import VideoSpec
from .specdict import MEDIA_FIELDS, plain_field
from .specformats import read_entries, write_entries

logger = logging.getLogger("videogen")

__all__ = [
    "spec_to_dict",
    "spec_from_dict",
    "spec_record",
    "spec_metadata",
    "spec_hash",
    "input_hashes",
    "input_sha256",
    "load_specs",
    "dump_specs",
    "MEDIA_FIELDS",
]


def spec_to_dict(spec: VideoSpec, *, compact: bool = False) -> dict[str, Any]:
    """`spec` as plain JSON-able data, losslessly (`VideoSpec.to_dict`): every field, or with `compact` those
    that differ from the defaults. An in-memory input is a SpecError naming the field: pass a path instead."""
    return spec.to_dict(compact=compact)


def spec_from_dict(
    data: Mapping[str, Any],
    *,
    source: str | os.PathLike[str] | None = None,
    entry: str | int | None = None,
    base: str | os.PathLike[str] | None = None,
) -> VideoSpec:
    """The spec of a plain dict (`VideoSpec.from_dict`); errors name `source` (a file), `entry` (its line or
    index) and the field; unknown keys get the closest field name."""
    return VideoSpec.from_dict(data, source=source, entry=entry, base=base)


def spec_record(spec: VideoSpec, *, compact: bool = False) -> tuple[dict[str, Any], list[str]]:
    """`spec_to_dict` where each field can be written; a field that can't (an in-memory input, a tensor in
    `extra`) is described instead (as `VideoSpec.summary` does) and named in the returned list. What result
    metadata records: replay refuses a described field unless it is given again."""
    full = spec.summary()
    out: dict[str, Any] = {}
    described: list[str] = []
    defaults = VideoSpec().to_dict() if compact else {}
    for name in full:
        try:
            value = plain_field(name, getattr(spec, name))
        except SpecError:
            out[name] = full[name]
            described.append(name)
            continue
        if not compact or value != defaults.get(name):
            out[name] = value
    return out, described


def input_hashes(spec: VideoSpec) -> dict[str, dict[str, Any]]:
    """For each input given as a local file or folder of frames: {"path": absolute path, "sha256": content
    hash}; for a URL: {"url": url} (no hash: it is downloaded again). In-memory inputs are left out. A missing
    file is a SpecError naming the field."""
    out: dict[str, dict[str, Any]] = {}
    for name in MEDIA_FIELDS:
        value = getattr(spec, name)
        if isinstance(value, (str, os.PathLike)):
            path = _local_path(name, value)
            out[name] = {"url": os.fspath(value)} if path is None else {"path": str(path), "sha256": input_sha256(path)}
    return out


def input_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of an input file; of a folder of frames, of the lines `<sha256>  <name>\\n` of the image files
    videogen reads from it (media.FRAME_SUFFIXES), in name order."""
    from .media import FRAME_SUFFIXES

    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and p.is_file())
        lines = "".join(f"{content_sha256(f)}  {f.name}\n" for f in files)
        return hashlib.sha256(lines.encode()).hexdigest()
    return content_sha256(path)


def spec_hash(spec: VideoSpec) -> str:
    """A stable sha256 (hex) of what makes the video: the spec's non-default fields as canonical JSON, with each
    local input replaced by its content's sha256 (a changed input changes the hash; a moved one doesn't) and
    in-memory inputs by the sha256 of their pixels. Fields that aren't plain data count by their description."""
    record, _ = spec_record(spec, compact=True)
    for name in MEDIA_FIELDS:
        value = getattr(spec, name)
        if isinstance(value, (str, os.PathLike)):
            path = _local_path(name, value)
            if path is not None:
                record[name] = {"sha256": input_sha256(path)}
        elif value is not None:
            record[name] = {"pixels_sha256": _pixels_sha256(value)}
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


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
    try:
        inputs = input_hashes(spec)
    except SpecError as exc:  # an input removed while the video was made: the video is still good
        logger.warning("not recording the inputs' hashes: %s", exc)
        inputs = {}
    out: dict[str, Any] = {"spec": record, "inputs": inputs}
    if described:
        out["spec_described"] = described
    return out


def _local_path(name: str, value: str | os.PathLike[str]) -> Path | None:
    """The absolute path of a local input (None for a URL); a SpecError naming the field when it is missing."""
    text = os.fspath(value)
    if "://" in text:
        return None
    path = Path(text).expanduser().absolute()
    if not path.exists():
        raise SpecError(f"{name}: no file at {text!r}; pass an existing path or a URL", field=name)
    return path


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
