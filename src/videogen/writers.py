"""Writing frames: mp4 (H.264), gif, webp or a folder of png frames, with a JSON metadata sidecar.

Writes are atomic: a temporary file (or folder) beside the target, then a rename.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import OutputExistsError, SpecError

if TYPE_CHECKING:
    import numpy as np

VIDEO_SUFFIXES = (".mp4", ".gif", ".webp")
FRAME_NAME = "frame_{:05d}.png"


def output_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return suffix[1:]
    if suffix == "":
        return "png"
    raise SpecError(
        f"path: {str(path)!r} has the suffix {suffix!r}; videogen writes .mp4, .gif, .webp or a folder of "
        "png frames (a path without a suffix), e.g. 'out.mp4'",
        field="path",
    )


def metadata_path(path: Path) -> Path:
    """Where the metadata sidecar goes: `clip.mp4` → `clip.json`, folder `frames` → `frames.json`."""
    return path.with_suffix(".json") if path.suffix else path.with_name(path.name + ".json")


def write_video(
    frames: np.ndarray,
    path: str | os.PathLike,
    fps: float,
    metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write uint8 T×H×W×3 frames to .mp4 (H.264), .gif, .webp or a folder of .png; metadata beside it."""
    target = Path(path).expanduser()
    kind = output_kind(target)
    sidecar = metadata_path(target)
    if not overwrite:
        for existing in (target, sidecar):
            if existing.exists():
                raise OutputExistsError(
                    f"path: {str(existing)!r} exists; pass overwrite=True (CLI: --overwrite) or another path"
                )
    target.parent.mkdir(parents=True, exist_ok=True)
    meta_text = json.dumps(metadata or {}, indent=2, sort_keys=True, default=str)
    if kind == "png":
        tmp_dir = _temp_beside(target)
        tmp_dir.mkdir()
        try:
            import imageio.v3 as iio

            for i, frame in enumerate(frames):
                iio.imwrite(tmp_dir / FRAME_NAME.format(i), frame)
            _replace_dir(tmp_dir, target)
        except BaseException:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise
    else:
        tmp = _temp_beside(target)
        try:
            _WRITERS[kind](frames, tmp, fps, meta_text)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    _atomic_text(sidecar, meta_text + "\n")
    return target


def _temp_beside(target: Path) -> Path:
    """A fresh hidden name next to `target` (same suffix, so writers pick the format); created by the
    writer with the usual permissions (umask), unlike mkstemp's 0600."""
    import uuid

    return target.with_name(f".{target.stem}.{uuid.uuid4().hex[:12]}.tmp{target.suffix}")


def _replace_dir(new: Path, target: Path) -> None:
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(new, target)
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    else:
        os.replace(new, target)


def _atomic_text(path: Path, text: str) -> None:
    tmp = _temp_beside(path)
    try:
        with open(tmp, "x") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_mp4(frames: np.ndarray, path: Path, fps: float, meta_text: str) -> None:
    import imageio.v2 as iio2

    writer = iio2.get_writer(
        str(path), format="FFMPEG", mode="I", fps=fps, codec="libx264", quality=8,
        pixelformat="yuv420p", macro_block_size=2,
        output_params=["-metadata", f"comment={meta_text}"],
        ffmpeg_log_level="error",
    )
    try:
        for frame in frames:
            writer.append_data(frame)
    finally:
        writer.close()


def _write_gif(frames: np.ndarray, path: Path, fps: float, meta_text: str) -> None:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=round(1000 / fps), loop=0, comment=meta_text.encode()[:65000])


def _write_webp(frames: np.ndarray, path: Path, fps: float, meta_text: str) -> None:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, format="WEBP", save_all=True, append_images=images[1:],
                   duration=round(1000 / fps), loop=0, lossless=True)


_WRITERS = {"mp4": _write_mp4, "gif": _write_gif, "webp": _write_webp}
