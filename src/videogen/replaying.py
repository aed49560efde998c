"""Replay (docs/specfiles.md): make a saved video again from the spec its metadata records, with the inputs checked
against their recorded content hashes, and any fields changed. `videogen.replay(path)`; `videogen replay` in the
CLI calls `replay_spec` then `generate`.

The metadata comes from the sidecar (`<file>.json`), or, without one, from what the file embeds: the mp4
comment tag or the GIF comment (webp and png frames embed nothing).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SpecError
from .saving import metadata_path
from .spec import SPEC_FIELDS, VideoSpec
from .specdict import MEDIA_FIELDS, unknown_field
from .specfile import input_sha256

if TYPE_CHECKING:
    from .generation import OnStep
    from .result import VideoResult

_FLAGS = {"image": "--image", "last_image": "--last-image", "video": "--video"}


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
    `image`/`last_image`/`video` replace a recorded input (a path, URL, PIL image or array); `changes` are
    VideoSpec fields to change (`steps=50`). A missing or changed input file is a SpecError."""
    from .generation import generate

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
    described = set(meta.get("spec_described") or ())
    inputs = meta.get("inputs")
    inputs = inputs if isinstance(inputs, Mapping) else {}
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
        if values.get(name) is not None:
            values[name] = _checked_input(name, values[name], inputs.get(name))
    spec = VideoSpec.from_dict(values, source=source)
    return spec.replace(**given) if given else spec


def read_metadata(path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    """The metadata of a saved video and where it was read: the sidecar, or what the mp4/GIF embeds."""
    target = Path(path).expanduser()
    sidecar = metadata_path(target)
    if sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SpecError(f"{sidecar}: cannot read the metadata ({exc})", field="path") from None
        if not isinstance(meta, dict):
            raise SpecError(f"{sidecar}: the metadata is not a JSON object", field="path")
        return meta, str(sidecar)
    if not target.exists():
        raise SpecError(f"path: no video at {str(target)!r} (and no sidecar {sidecar.name})", field="path")
    text = embedded_metadata(target)
    if text is None:
        raise SpecError(
            f"path: {str(target)!r} has no sidecar ({sidecar.name}) and no metadata embedded (videogen embeds it "
            "in .mp4 and .gif files; .webp and png frames keep it only in the sidecar)",
            field="path",
        )
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"path: the metadata embedded in {str(target)!r} is not videogen's ({exc})", field="path"
        ) from None
    if not isinstance(meta, dict):
        raise SpecError(f"path: the metadata embedded in {str(target)!r} is not videogen's", field="path")
    return meta, str(target)


def embedded_metadata(path: Path) -> str | None:
    """The comment an .mp4 (read with imageio-ffmpeg's ffmpeg) or a .gif (PIL) carries; None for others."""
    if path.is_dir():
        return None
    with open(path, "rb") as f:
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


def _checked_input(name: str, recorded: Any, info: Any) -> Any:
    """The recorded input to use again: a URL as is; a file at its recorded absolute path, if its content's
    sha256 is still the recorded one."""
    flag = f"{name}=... (CLI: {_FLAGS[name]} PATH)"
    if isinstance(info, Mapping) and isinstance(info.get("url"), str):
        return info["url"]
    if not (isinstance(info, Mapping) and isinstance(info.get("path"), str) and isinstance(info.get("sha256"), str)):
        return recorded  # metadata without input hashes (older videogen): the recorded path, unchecked
    path, old = info["path"], info["sha256"]
    if not os.path.exists(path):
        raise SpecError(
            f"{name}: the input {path!r} is missing (it had sha256 {old}); pass {flag} to replay with another file",
            field=name,
        )
    new = input_sha256(path)
    if new != old:
        raise SpecError(
            f"{name}: the input {path!r} changed since the video was made (sha256 was {old}, is now {new}), so "
            f"replay would not give the same video; pass {flag} to replay with it anyway",
            field=name,
        )
    return path
