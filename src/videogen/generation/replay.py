"""Replay (docs/specfiles.md): make a saved video again from the spec its metadata records, with the inputs checked
against their recorded content hashes, and any fields changed. `videogen.replay(path)`; `videogen replay` in the
CLI calls `replay_spec` then `generate`.

The metadata comes from the sidecar (`<file>.json`), or, without one, from what the file embeds: the mp4
comment tag or the GIF comment (webp and png frames embed nothing). It is read within the bounds of a spec file
(specformats.py: a regular file, not too large or deep) and checked field by field: a malformed entry is a
SpecError naming it, never a silently skipped input check.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ..media.save import metadata_path, open_regular
from ..spec.files import input_sha256
from ..spec.formats import load_json, read_text
from ..spec.inputs import INPUTS, MEDIA_FIELDS
from ..spec.plain import unknown_field
from ..spec.videospec import SPEC_FIELDS, VideoSpec

if TYPE_CHECKING:
    from .flow import OnStep
    from .result import VideoResult

_FLAGS = {name: i.flag for name, i in INPUTS.items()}


def replay(
    path: str | os.PathLike[str],
    *,
    image: Any = None,
    last_image: Any = None,
    video: Any = None,
    progress: bool = True,
    on_step: OnStep | None = None,
    **changes: Any,
) -> VideoResult:
    """Make the video at `path` again: with no changes, the same frames (same model, spec, seed and inputs).
    `image`/`last_image`/`video` (and any other input in `changes`: `mask=...`) replace a recorded input (a path,
    URL, PIL image or array); `changes` are VideoSpec fields to change (`steps=50`). A missing or changed input
    file is a SpecError."""
    from .flow import generate

    spec = replay_spec(path, image=image, last_image=last_image, video=video, **changes)
    return generate(spec, on_step=on_step, progress=progress)


def replay_spec(
    path: str | os.PathLike[str], *, image: Any = None, last_image: Any = None, video: Any = None, **changes: Any
) -> VideoSpec:
    """The spec that made the video at `path` (its metadata's "spec"), with its local inputs checked against
    their recorded sha256 (a missing or changed file is a SpecError naming the field, the path and both
    hashes), replaced inputs and `changes` applied. Loads nothing."""
    for name in changes:
        if name not in SPEC_FIELDS:
            raise unknown_field(name, SPEC_FIELDS, "replay: ")
    meta, source = read_metadata(path)
    data = meta.get("spec")
    if not isinstance(data, Mapping):
        raise SpecError(
            f"{source}: its metadata records no spec (written by another program or an old videogen?); "
            "nothing to replay",
            field="spec",
        )
    replaced = {k: v for k, v in {"image": image, "last_image": last_image, "video": video}.items() if v is not None}
    given = {**replaced, **changes}
    described = set(_described_fields(meta, source))
    inputs = _recorded_inputs(meta, source)
    values = {k: v for k, v in data.items() if k not in given}
    for name in sorted(described - set(given)):
        if name in MEDIA_FIELDS:
            flag = f" (CLI: {_FLAGS[name]} PATH)"
            raise SpecError(
                f"{name}: the video was made from an in-memory {name} ({data.get(name)}), not a file, so replay "
                f"can't read it again; pass {name}=...{flag}",
                field=name,
            )
        raise SpecError(
            f"{name}: the metadata records only a description of {name} ({data.get(name)!r}), not its value; "
            f"pass {name}=... to replay",
            field=name,
        )
    for name in MEDIA_FIELDS:
        value, info = values.get(name), inputs.get(name)
        if isinstance(value, list) and INPUTS[name].kind == "images":
            if info is not None and not (isinstance(info, list) and len(info) == len(value)):
                raise SpecError(
                    f"{source}: inputs.{name} records {_short(info)}, not one record per item of {name} "
                    f"({len(value)}); the metadata was edited or is not videogen's",
                    field=f"inputs.{name}",
                )
            infos = info if info is not None else [None] * len(value)
            values[name] = [_checked_input(name, v, i, f"{name}[{n}]") for n, (v, i) in enumerate(zip(value, infos))]
        elif value is not None:
            values[name] = _checked_input(name, value, info)
    if "fit" not in data and any(values.get(name) is not None for name in ("image", "last_image")):
        values["fit"] = "stretch"  # made before `fit` existed: its images were stretched to the size
    spec = VideoSpec.from_dict(values, source=source)
    return spec.replace(**given) if given else spec


def read_metadata(path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    """The metadata of a saved video and where it was read: the sidecar, or what the mp4/GIF embeds."""
    target = Path(path).expanduser()
    sidecar = metadata_path(target)
    if sidecar.exists():
        name = str(sidecar)
        content = read_text(sidecar, f"{name}: no such sidecar", f"{name}: cannot read the metadata", "path")
        meta = load_json(content, name, "path", strict_text=False)
        if not isinstance(meta, dict):
            raise SpecError(f"{sidecar}: the metadata is not a JSON object", field="path")
        return meta, name
    if not target.exists():
        raise SpecError(f"path: no video at {str(target)!r} (and no sidecar {sidecar.name})", field="path")
    try:
        text = embedded_metadata(target)
    except OSError as exc:
        why = exc.strerror or exc
        raise SpecError(f"path: cannot read {str(target)!r} ({why}); pass a video file", field="path") from None
    if text is None:
        raise SpecError(
            f"path: {str(target)!r} has no sidecar ({sidecar.name}) and no metadata embedded (videogen embeds it "
            "in .mp4 and .gif files; .webp and png frames keep it only in the sidecar)",
            field="path",
        )
    try:
        meta = load_json(text, f"the metadata embedded in {str(target)!r}", "path", strict_text=False)
    except SpecError as exc:
        raise SpecError(f"path: {exc}; it is not videogen's", field="path") from None
    if not isinstance(meta, dict):
        raise SpecError(f"path: the metadata embedded in {str(target)!r} is not videogen's", field="path")
    return meta, str(target)


def embedded_metadata(path: Path) -> str | None:
    """The comment an .mp4 (read with imageio-ffmpeg's ffmpeg) or a .gif (PIL) carries; None for others. Only a
    regular file is read (`NotRegularFileError`, an `OSError`, for a FIFO or device: never blocks)."""
    if path.is_dir():
        return None
    with open_regular(path) as f:
        head = f.read(16)
    if head[4:8] == b"ftyp":
        return _ffmetadata(path).get("comment")
    if head[:4] == b"GIF8":
        from PIL import Image

        with Image.open(path) as im:
            comment = im.info.get("comment")
        return comment.decode("utf-8", "replace") if isinstance(comment, bytes) else comment
    return None


def _ffmetadata(path: Path) -> dict[str, str]:
    """The global metadata tags of a container, from `ffmpeg -i PATH -f ffmetadata -` (FFMETADATA1: key=value
    lines; '=', ';', '#', '\\' and newlines in keys and values escaped with a backslash)."""
    import subprocess

    import imageio_ffmpeg

    out = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "ffmetadata", "-"],
        capture_output=True,
        timeout=60,
    )
    if out.returncode != 0:
        return {}
    text = out.stdout.decode("utf-8", "replace")
    tags: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        if text[i] == "[":  # a [STREAM] or [CHAPTER] section: the global tags are done
            break
        if text[i] in ";#\n":  # a comment (the FFMETADATA1 header) or a blank line
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        key, i = _unescape_until(text, i, "=")
        value, i = _unescape_until(text, i + 1, "\n")
        tags[key] = value
        i += 1
    return tags


def _unescape_until(text: str, i: int, stop: str) -> tuple[str, int]:
    chars: list[str] = []
    while i < len(text) and text[i] != stop:
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        chars.append(text[i])
        i += 1
    return "".join(chars), i


def _described_fields(meta: Mapping[str, Any], source: str) -> list[str]:
    """The metadata's `spec_described`: a list of field names (absent: none)."""
    described = meta.get("spec_described")
    if described is None:
        return []
    if not isinstance(described, list) or not all(isinstance(name, str) for name in described):
        raise SpecError(
            f'{source}: spec_described={_short(described)} must be a list of field names, e.g. ["image"]; the '
            "metadata was edited or is not videogen's",
            field="spec_described",
        )
    return described


def _recorded_inputs(meta: Mapping[str, Any], source: str) -> Mapping[str, Any]:
    """The metadata's `inputs`, each entry checked: {"url": str} or {"path": str, "sha256": 64 hex digits}; absent
    (older videogen): {} (the recorded paths are then used unchecked)."""
    inputs = meta.get("inputs")
    if inputs is None:
        return {}
    if not isinstance(inputs, Mapping):
        raise SpecError(
            f"{source}: inputs={_short(inputs)} must be an object of the input files' records, e.g. "
            '{"image": {"path": "/data/in.png", "sha256": "..."}}; the metadata was edited or is not videogen\'s',
            field="inputs",
        )
    for name in MEDIA_FIELDS:
        info = inputs.get(name)
        if isinstance(info, list) and INPUTS[name].kind == "images":
            for n, entry in enumerate(info):
                _check_record(f"{name}[{n}]", entry, source)
        else:
            _check_record(name, info, source)
    return inputs


def _check_record(name: str, info: Any, source: str) -> None:
    """One input's record: {"url": str} or {"path": str, "sha256": 64 hex digits} (None: not recorded)."""
    if info is None:
        return
    if not isinstance(info, Mapping):
        raise SpecError(
            f'{source}: inputs.{name}={_short(info)} must be an object {{"path": ..., "sha256": ...}} or '
            '{"url": ...}; the metadata was edited or is not videogen\'s',
            field=f"inputs.{name}",
        )
    keys = ("url",) if "url" in info else ("path", "sha256")
    for key in keys:
        value = info.get(key)
        ok = isinstance(value, str) and bool(value)
        if key == "sha256":
            ok = isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
        if not ok:
            want = "64 hex digits" if key == "sha256" else "a non-empty string"
            raise SpecError(
                f"{source}: inputs.{name}.{key}={_short(value)} must be {want}; the metadata was edited or is "
                "not videogen's",
                field=f"inputs.{name}.{key}",
            )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "…"


def _checked_input(name: str, recorded: Any, info: Any, label: str | None = None) -> Any:
    """The recorded input to use again: a URL as is; a file at its recorded absolute path, if its content's
    sha256 is still the recorded one (`info` checked by `_recorded_inputs`). `label`: the item's name in messages
    (`reference_images[1]`)."""
    flag = f"{name}=... (CLI: {_FLAGS[name]} PATH)"
    if info is None:
        return recorded  # metadata without input hashes (older videogen): the recorded path, unchecked
    if not isinstance(info, Mapping):  # a list of records for one input
        raise SpecError(
            f"inputs.{name}={_short(info)} is a list, but the spec records one {name}; the metadata was edited or "
            "is not videogen's",
            field=f"inputs.{name}",
        )
    if "url" in info:
        return info["url"]
    path, old = info["path"], info["sha256"]
    if not os.path.exists(path):
        raise SpecError(
            f"{label or name}: the input {path!r} is missing (it had sha256 {old}); pass {flag} to replay with "
            "another file",
            field=name,
        )
    new = input_sha256(path, name)
    if new != old:
        raise SpecError(
            f"{label or name}: the input {path!r} changed since the video was made (sha256 was {old}, is now {new}), "
            f"so replay would not give the same video; pass {flag} to replay with it anyway",
            field=name,
        )
    return path
