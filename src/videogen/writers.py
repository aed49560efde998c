"""Writing frames: mp4 (H.264), gif, webp or a folder of png frames, with a JSON metadata sidecar.

Sidecar naming: the whole output name plus `.json`: `clip.mp4` → `clip.mp4.json`, `clip.gif` → `clip.gif.json`,
a png folder `frames` → `frames.json`; so `clip.mp4` and `clip.gif` can sit side by side. The sidecar holds the
metadata plus `"saved"`: what the save did (format, codec, crf, effective fps, padding, size) and the `sha256` of
the video it describes (`content_sha256`).

Guarantees (one writer per output path; concurrent saves to the same path are not supported):

* Nothing half-written: each output is written completely under a hidden temporary name beside the target,
  then renamed into place.
* A sidecar never describes another video than the one beside it: an overwrite moves the previous sidecar out of
  the way first, then renames the new video into place, then the new sidecar. A process killed at any point
  leaves the old video without a sidecar, or the new video with or without its sidecar; never a mismatched pair.
  The sidecar's `saved.sha256` lets anyone check the pair.
* Overwriting a png folder: on Linux, new and old folder are swapped by one atomic `renameat2(RENAME_EXCHANGE)`,
  so at every instant the target holds the complete old or the complete new folder. Where that call is missing
  (other systems, filesystems without it) the old folder is renamed to `.<name>.<host>-<pid>-<id>.old`, then
  the new one into place; a failure between the two renames puts the old folder back at once, and if the process
  is killed there the next save into that folder puts it back.
* Temporary names are `.<name>.<host>-<pid>-<id>.tmp[<suffix>]` (and `.old` as above). Every save first removes
  such leftovers of killed saves from its folder: those whose process is gone (same host and pid namespace) or
  that are untouched for a day (`STALE_AGE_S`); a live process's are kept. Older videogen's leftovers
  (`.<stem>.<id12>.tmp<suffix>`, `.<name>.old-<pid>`) go after a day.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import logging
import math
import numbers
import os
import re
import shutil
import sys
import time
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import OutputExistsError, SaveError, SaveWarning, SpecError, VideoGenError

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger("videogen")

VIDEO_SUFFIXES = (".mp4", ".gif", ".webp")
FRAME_NAME = "frame_{:05d}.png"
DEFAULT_CRF = 18
"""libx264's constant rate factor used for .mp4 unless `crf=` says otherwise: 18 is visually lossless."""
STALE_AGE_S = 24 * 3600
"""Temporary files untouched this long are leftovers whatever their process id says."""

_MAX_EMBEDDED = 100_000  # bytes of metadata embedded in a file's comment (ffmpeg's argument limit is 128 KiB)
_FRAME_RE = re.compile(r"^frame_\d{5,}\.png$")
_TEMP_RE = re.compile(
    r"^\.(?P<name>.+)\.(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[0-9a-f]{12}\.(?P<kind>tmp|old)(?:\.[A-Za-z0-9]+)?$"
)
_LEGACY_TMP_RE = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp(?:\.(?:mp4|gif|webp|json))?$")
_LEGACY_OLD_RE = re.compile(r"^\.(?P<name>.+)\.old-(?P<pid>\d+)$")
_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2


def output_kind(path: Path) -> str:
    """`mp4`, `gif`, `webp` or `png` (a path without a suffix: a folder of png frames)."""
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


def metadata_path(path: str | os.PathLike) -> Path:
    """Where the metadata sidecar goes: the whole name plus `.json` (`clip.mp4` → `clip.mp4.json`,
    folder `frames` → `frames.json`)."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def content_sha256(path: str | os.PathLike) -> str:
    """The sha256 a sidecar records: of the file; for a png folder, of the lines `<sha256 of frame>  <name>\\n`
    in name order (what `sha256sum frame_*.png | sha256sum` prints)."""
    path = Path(path)
    if path.is_dir():
        lines = "".join(f"{_file_sha256(f)}  {f.name}\n" for f in sorted(path.glob("frame_*.png")))
        return hashlib.sha256(lines.encode()).hexdigest()
    return _file_sha256(path)


def write_video(
    frames: np.ndarray,
    path: str | os.PathLike,
    fps: float,
    metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    *,
    crf: int | None = None,
) -> Path:
    """Write uint8 T×H×W×3 frames to .mp4 (H.264), .gif, .webp or a folder of .png; the sidecar beside it.

    * .mp4: libx264, yuv420p, `-movflags +faststart` (browsers start playing before the download ends);
      `crf` 0–51 sets the quality (lower: better and bigger; 0 lossless, which some players refuse), default
      `DEFAULT_CRF` = 18, visually lossless. H.264 in yuv420p needs even sizes: an odd width or height is
      padded by one column/row repeating the edge pixels (never scaled), with a `SaveWarning`.
    * .gif: frame delays are stored in 1/100 s, and browsers slow delays under 20 ms to 100 ms, so the rate is
      100/n fps for a whole n ≥ 2 (50, 33.3, 25, 20, 16.7, …, 10, …): another fps is written as the nearest such
      rate, with a `SaveWarning`. Palette-quantised.
    * .webp: lossless, frame delays in whole milliseconds.
    * a path without a suffix: a folder of `frame_00000.png`, … (fps only in the sidecar).

    The sidecar `<name>.json` (`metadata_path`) holds `metadata` plus `"saved"` (what the save did, with the
    `sha256` of the output). Refuses to replace an existing output unless `overwrite=True`. See the module
    docstring for what a crash can leave. Returns the path written.
    """
    return _write(frames, path, fps, metadata, overwrite, crf=crf, stacklevel=3)


def _write(
    frames: Any,
    path: str | os.PathLike,
    fps: float,
    metadata: Mapping[str, Any] | None,
    overwrite: bool,
    *,
    crf: int | None,
    stacklevel: int,
) -> Path:
    """`write_video`; `stacklevel` points its warnings at the user's call."""
    target = Path(path).expanduser()
    kind = output_kind(target)
    crf = _check_crf(crf, kind)
    fps = _check_fps(fps)
    array = _check_frames(frames)
    sidecar = metadata_path(target)
    _make_folder(target)
    clean_stale_temps(target.parent)
    _check_existing(target, sidecar, kind, overwrite)
    array, saved, notices = _plan(kind, array, fps, crf, target)
    meta = dict(metadata or {})
    embedded = json.dumps({**meta, "saved": saved}, indent=2, sort_keys=True, default=str)

    tmp = _temp_name(target)
    side_tmp: Path | None = None
    aside: Path | None = None  # the previous sidecar, moved out of the way
    displaced: Path | None = None  # the previous png folder, after the swap
    placed = False
    try:
        _create_temp(tmp, kind, target)
        _WRITERS[kind](array, tmp, saved, embedded)
        saved["bytes"] = _size(tmp)
        saved["sha256"] = content_sha256(tmp)
        side_tmp = _temp_name(sidecar)
        _write_text(side_tmp, json.dumps({**meta, "saved": saved}, indent=2, sort_keys=True, default=str) + "\n")
        # commit: old sidecar out, video in, new sidecar in; a sidecar never sits beside another video
        if sidecar.exists() or sidecar.is_symlink():
            aside = _temp_name(sidecar)
            os.replace(sidecar, aside)
        displaced = _move_into_place(tmp, target, kind, overwrite)
        placed = True
        os.replace(side_tmp, sidecar)
        side_tmp = None
    except BaseException as exc:
        if aside is not None and not placed:  # the old video stays: so does its sidecar
            try:
                os.replace(aside, sidecar)
                aside = None
            except OSError:
                pass
        _remove(tmp)
        _remove(side_tmp)
        if isinstance(exc, OSError) and not isinstance(exc, VideoGenError):
            raise SaveError(
                f"path: could not save {str(target)!r}: {_reason(exc)}; check that the folder is "
                "writable and the disk has space"
            ) from exc
        raise
    finally:
        _remove(aside)
        _remove(displaced)
    for notice in notices:
        warnings.warn(notice, SaveWarning, stacklevel=stacklevel)
    logger.debug("wrote %s (%s)", target, ", ".join(f"{k}={v}" for k, v in saved.items() if k != "sha256"))
    return target


# ---- checks and the plan of what gets written


def _check_crf(crf: Any, kind: str) -> int:
    if crf is None:
        return DEFAULT_CRF
    if kind != "mp4":
        raise SpecError(
            f"crf: only .mp4 (H.264) has a crf; .{kind} output is lossless or palette-based. Drop crf or save an .mp4",
            field="crf",
        )
    if isinstance(crf, bool) or not isinstance(crf, numbers.Integral) or not 0 <= int(crf) <= 51:
        raise SpecError(
            f"crf: must be a whole number from 0 (lossless) to 51 (worst), lower is better and bigger; "
            f"{DEFAULT_CRF} (the default) is visually lossless, 23 is ffmpeg's default; got {crf!r}",
            field="crf",
            valid=(0, 51),
        )
    return int(crf)


def _check_fps(fps: Any) -> float:
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not math.isfinite(fps) or fps <= 0:
        raise SpecError(f"fps: must be a positive number of frames per second, e.g. 16; got {fps!r}", field="fps")
    return fps


def _check_frames(frames: Any) -> np.ndarray:
    import numpy as np

    array = np.asarray(frames)
    if array.ndim == 4 and array.shape[-1] == 4:
        array = array[..., :3]
    if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != np.uint8 or 0 in array.shape:
        raise SpecError(
            f"frames: need a uint8 array shaped T×H×W×3 with at least one frame, got {array.dtype} "
            f"{array.shape}; floats in [0, 1] convert with (x * 255).round().astype(np.uint8)",
            field="frames",
        )
    return array


def _make_folder(target: Path) -> None:
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        why = f"{str(blocker)!r} is a file, not a folder" if blocker else _reason(exc)
        raise SaveError(
            f"path: cannot create the folder {str(folder)!r} for {str(target)!r}: {why}; choose a path "
            "in a folder you can write to"
        ) from exc


def _check_existing(target: Path, sidecar: Path, kind: str, overwrite: bool) -> None:
    if target.exists() or target.is_symlink():
        is_dir = target.is_dir()
        if (kind == "png") != is_dir:
            have, want = ("folder", "file") if is_dir else ("file", "folder of png frames")
            raise OutputExistsError(
                f"path: {str(target)!r} is a {have}, and this save writes a {want}; choose another path or remove it"
            )
        if not overwrite:
            raise OutputExistsError(
                f"path: {str(target)!r} exists; pass overwrite=True (CLI: --overwrite) or another path"
            )
        if is_dir:
            foreign = next((p.name for p in target.iterdir() if not _FRAME_RE.match(p.name)), None)
            if foreign is not None:
                raise OutputExistsError(
                    f"path: {str(target)!r} holds {foreign!r}, which videogen did not write; overwrite=True replaces "
                    "only a folder of frame_NNNNN.png files. Choose another path or empty the folder"
                )
    if not overwrite and (sidecar.exists() or sidecar.is_symlink()):
        raise OutputExistsError(
            f"path: {str(sidecar)!r} (the metadata of {str(target)!r}) exists; pass "
            "overwrite=True (CLI: --overwrite) or another path"
        )


def _plan(
    kind: str, frames: np.ndarray, fps: float, crf: int, target: Path
) -> tuple[np.ndarray, dict[str, Any], list[str]]:
    """The frames to write, the sidecar's `saved` entry, and warnings for what the format changed."""
    import numpy as np

    t, h, w = (int(n) for n in frames.shape[:3])
    saved: dict[str, Any] = {"format": kind, "frames": t, "width": w, "height": h, "fps": fps}
    notices: list[str] = []
    if kind == "mp4":
        ph, pw = h % 2, w % 2
        if ph or pw:
            frames = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
            saved["padded"] = {
                "from": {"width": w, "height": h},
                "to": {"width": w + pw, "height": h + ph},
                "how": "repeated the right column / bottom row",
            }
            saved.update(width=w + pw, height=h + ph)
            notices.append(
                f"path: {str(target)!r}: H.264 (yuv420p) needs an even width and height, so {w}x{h} was "
                f"padded to {w + pw}x{h + ph} by repeating the edge pixels (not scaled); crop it back, "
                "generate an even size, or save .webp / png frames for the exact size"
            )
        saved.update(codec="libx264", pix_fmt="yuv420p", crf=crf, faststart=True)
    elif kind == "gif":
        delay = _gif_delay_cs(fps)
        saved.update(fps=100 / delay, frame_delay_ms=delay * 10, requested_fps=fps)
        if not math.isclose(100 / delay, fps, rel_tol=1e-9):
            notices.append(
                f"path: {str(target)!r}: GIF stores frame delays in 1/100 s and browsers slow delays under "
                f"20 ms, so {fps:g} fps cannot be kept; wrote {delay * 10} ms per frame "
                f"({100 / delay:.4g} fps). For the exact rate save .mp4 or .webp, or use 50, 25, 20, 10 "
                "or another 100/n fps"
            )
    elif kind == "webp":
        delay_ms = max(1, round(1000 / fps))
        saved.update(fps=1000 / delay_ms, frame_delay_ms=delay_ms, requested_fps=fps, lossless=True)
    else:
        saved["frame_name"] = FRAME_NAME
    return frames, saved, notices


def _gif_delay_cs(fps: float) -> int:
    """The GIF frame delay (1/100 s, 2 to 65535) whose rate is nearest `fps`."""
    exact = 100 / fps
    options = {min(65535, max(2, math.floor(exact))), min(65535, max(2, math.ceil(exact)))}
    return min(sorted(options), key=lambda d: abs(100 / d - fps))


# ---- the writers: each writes complete `frames` to `path` (a created, empty temp file or folder)


def _write_mp4(frames: np.ndarray, path: Path, saved: Mapping[str, Any], embedded: str) -> None:
    import subprocess
    import tempfile
    from fractions import Fraction

    import imageio_ffmpeg
    import numpy as np

    try:
        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise SaveError(
            f"path: no ffmpeg to write .mp4 ({exc}); reinstall imageio-ffmpeg or set IMAGEIO_FFMPEG_EXE"
        ) from exc
    t, h, w = frames.shape[:3]
    rate = Fraction(saved["fps"]).limit_denominator(1_000_000)
    cmd = [
        exe,
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{w}x{h}",
        "-r",
        str(rate),
        "-i",
        "pipe:0",
        "-an",
        "-c:v",
        "libx264",
        "-crf",
        str(saved["crf"]),
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
    ]
    if len(embedded.encode()) <= _MAX_EMBEDDED:
        cmd += ["-metadata", f"comment={embedded}"]
    cmd += ["-f", "mp4", str(path)]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        try:
            try:
                for frame in frames:
                    proc.stdin.write(np.ascontiguousarray(frame).tobytes())
            except BrokenPipeError:
                pass  # ffmpeg stopped early; its exit status and log say why
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        log.seek(0)
        said = log.read().decode("utf-8", "replace").strip()
    if code != 0 or _size(path) == 0:
        why = said[-1500:] or ("it wrote nothing" if code == 0 else "no message")
        raise OSError(f"ffmpeg failed (exit status {code}): {why}")


def _write_gif(frames: np.ndarray, path: Path, saved: Mapping[str, Any], embedded: str) -> None:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    extra = {"comment": embedded.encode()} if len(embedded.encode()) <= _MAX_EMBEDDED else {}
    images[0].save(
        path, format="GIF", save_all=True, append_images=images[1:], duration=saved["frame_delay_ms"], loop=0, **extra
    )


def _write_webp(frames: np.ndarray, path: Path, saved: Mapping[str, Any], embedded: str) -> None:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    images[0].save(
        path,
        format="WEBP",
        save_all=True,
        append_images=images[1:],
        duration=saved["frame_delay_ms"],
        loop=0,
        lossless=True,
    )


def _write_png(frames: np.ndarray, path: Path, saved: Mapping[str, Any], embedded: str) -> None:
    from PIL import Image

    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(path / FRAME_NAME.format(i), format="PNG")


_WRITERS = {"mp4": _write_mp4, "gif": _write_gif, "webp": _write_webp, "png": _write_png}


# ---- temporary names, atomic moves, leftovers


def _temp_name(target: Path, kind: str = "tmp") -> Path:
    """A fresh hidden name beside `target`: `.<name>.<host>-<pid>-<id>.tmp<suffix>` (the suffix lets tools pick
    the format), or `.<name>.<host>-<pid>-<id>.old` for a folder moved aside (full name, to put it back)."""
    name = target.name if kind == "old" else target.name[:96]
    suffix = target.suffix if kind == "tmp" else ""
    return target.with_name(f".{name}.{_host_tag()}-{os.getpid()}-{uuid.uuid4().hex[:12]}.{kind}{suffix}")


def _create_temp(tmp: Path, kind: str, target: Path) -> None:
    """Create the empty temp file or folder (usual permissions, from the umask): proves the folder writable."""
    try:
        if kind == "png":
            tmp.mkdir()
        else:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise SaveError(
            f"path: cannot write into the folder {str(target.parent)!r} ({_reason(exc)}) to save "
            f"{target.name!r}; choose a folder you can write to or change its permissions"
        ) from exc


def _write_text(path: Path, text: str) -> None:
    with open(path, "x", encoding="utf-8") as f:
        f.write(text)


def _move_into_place(new: Path, target: Path, kind: str, overwrite: bool) -> Path | None:
    """Rename `new` to `target`; returns where the replaced png folder now is (for removal), if any."""
    if not overwrite:
        try:
            if _renameat2(new, target, _RENAME_NOREPLACE):
                return None
        except FileExistsError:
            raise OutputExistsError(
                f"path: {str(target)!r} appeared while saving; pass overwrite=True (CLI: --overwrite) or another path"
            ) from None
        os.replace(new, target)
        return None
    if kind != "png" or not (target.exists() or target.is_symlink()):
        os.replace(new, target)  # atomic for files
        return None
    if _renameat2(new, target, _RENAME_EXCHANGE):  # one atomic swap: `new` now holds the old folder
        return new
    old = _temp_name(target, "old")
    os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        try:
            os.replace(old, target)
        except OSError:
            pass  # left at `old`: the next save into this folder puts it back
        raise
    return old


@functools.lru_cache(maxsize=1)
def _libc_renameat2() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """Linux `renameat2(src, dst, flags)`; False where the system or filesystem lacks it (callers fall back)."""
    fn = _libc_renameat2()
    if fn is None:
        return False
    import ctypes

    at_fdcwd = -100
    if fn(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(src), None, str(dst))


def clean_stale_temps(folder: str | os.PathLike, *, max_age_s: float = STALE_AGE_S) -> list[Path]:
    """Remove leftovers of killed saves from `folder`, and put back a png folder an interrupted overwrite moved
    aside. Only videogen's temporary names; only those whose process is gone (this host and pid namespace) or that
    are untouched for `max_age_s`. Returns the leftovers handled. Every save calls this for its folder."""
    folder = Path(folder)
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(".")]
    except OSError:
        return []
    now = time.time()
    handled: list[Path] = []
    for entry in entries:
        match = _TEMP_RE.match(entry.name)
        legacy_old = None if match else _LEGACY_OLD_RE.match(entry.name)
        if not (match or legacy_old or _LEGACY_TMP_RE.match(entry.name)):
            continue
        try:
            old_enough = now - entry.stat(follow_symlinks=False).st_mtime > max_age_s
        except OSError:
            continue
        if match:
            gone = match["host"] == _host_tag() and not _pid_alive(int(match["pid"]))
        elif legacy_old:
            gone = not _pid_alive(int(legacy_old["pid"]))
        else:
            gone = False
        if not (gone or old_enough):
            continue
        path = Path(entry.path)
        aside_from = (match["name"] if match and match["kind"] == "old" else None) or (
            legacy_old["name"] if legacy_old else None
        )
        if aside_from is not None:
            original = folder / aside_from
            if not (original.exists() or original.is_symlink()):
                try:
                    os.rename(path, original)
                    logger.warning("put %s back: an interrupted save had moved it to %s", original, path.name)
                    handled.append(path)
                    continue
                except OSError:
                    pass
        _remove(path)
        handled.append(path)
    if handled:
        logger.info("cleaned %d leftover(s) of interrupted saves in %s", len(handled), folder)
    return handled


@functools.lru_cache(maxsize=1)
def _host_tag() -> str:
    """8 hex digits naming this host and pid namespace: pids in temp names are only checked where they mean
    something."""
    import socket

    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return hashlib.sha256(f"{socket.gethostname()}|{namespace}".encode()).hexdigest()[:8]


def _pid_alive(pid: int) -> bool:
    if os.name == "nt" or pid <= 0:  # on Windows os.kill would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # e.g. another user's process
    return True


def _remove(path: Path | None) -> None:
    if path is None:
        return
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def _size(path: Path) -> int:
    try:
        if path.is_dir():
            return sum(f.stat().st_size for f in path.iterdir())
        return path.stat().st_size
    except OSError:
        return 0


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
