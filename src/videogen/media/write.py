"""Writing frames: mp4 (H.264), gif, webp or a folder of png frames, with a JSON metadata sidecar.

Sidecar naming: the whole output name plus `.json`: `clip.mp4` → `clip.mp4.json`, `clip.gif` → `clip.gif.json`,
a png folder `frames` → `frames.json`; so `clip.mp4` and `clip.gif` can sit side by side. The sidecar holds the
metadata plus `"saved"`: what the save did (format, codec, crf, effective fps, padding, size), `frames_sha256`
(`frames_sha256`: the frames given, before encoding: what a replay compares) and `sha256` (`content_sha256`: the
bytes of the file it describes: what an integrity check compares).

This module checks the arguments and writes each format; `saving.py` puts the result in place: nothing
half-written, a sidecar never beside another video, a png folder replaced atomically, leftovers of killed saves
cleaned (its docstring lists the guarantees).
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..errors import SaveError, SaveWarning, SpecError, user_stacklevel
from .audio import AAC_BITRATE
from .save import (  # noqa: F401 - STALE_AGE_S, clean_stale_temps, metadata_path: also named here (moved)
    FRAME_NAME,
    STALE_AGE_S,
    clean_stale_temps,
    content_sha256,
    file_size,
    metadata_path,
    prepare_target,
    save_atomically,
)

if TYPE_CHECKING:
    import numpy as np

    from .audio import Audio

logger = logging.getLogger("videogen")

VIDEO_SUFFIXES = (".mp4", ".gif", ".webp")
DEFAULT_CRF = 18
"""libx264's constant rate factor used for .mp4 unless `crf=` says otherwise: 18 is visually lossless."""

_MAX_EMBEDDED = 100_000  # bytes of metadata embedded in a file's comment (ffmpeg's argument limit is 128 KiB)


def frames_sha256(frames: np.ndarray) -> str:
    """The SHA-256 of uint8 T×H×W×3 frames' bytes, in C order: `hashlib.sha256(frames.tobytes())`. Equal for
    equal frames whatever the file format; a lossy file's decoded frames differ from the generated ones."""
    import hashlib

    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(frames).tobytes()).hexdigest()


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


def write_video(
    frames: np.ndarray,
    path: str | os.PathLike,
    fps: float,
    metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    *,
    crf: int | None = None,
    audio: Audio | None = None,
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
    * `audio` (`media.audio.Audio`): an .mp4 carries it as AAC (ffmpeg's native encoder, `AAC_BITRATE`); gif,
      webp and png have no sound: written without it, with a `SaveWarning` (save the sound with
      `media.audio.save_wav`). The sidecar's `saved.audio` says what was written.

    The sidecar `<name>.json` (`metadata_path`) holds `metadata` plus `"saved"` (what the save did, with
    `frames_sha256`, the hash of `frames` before encoding, and `sha256`, the hash of the file written).
    Refuses to replace an existing output unless `overwrite=True`. See `saving.py`'s docstring for what a
    crash can leave. Returns the path written.
    """
    return write_frames(frames, path, fps, metadata, overwrite, crf=crf, audio=audio)


def write_frames(
    frames: Any,
    path: str | os.PathLike,
    fps: float,
    metadata: Mapping[str, Any] | None,
    overwrite: bool,
    *,
    crf: int | None,
    audio: Audio | None = None,
) -> Path:
    """`write_video`; its warnings point at the user's call (the first frame outside videogen)."""
    target = Path(path).expanduser()
    kind = output_kind(target)
    crf = check_crf(crf, kind)
    fps = _check_fps(fps)
    array = _check_frames(frames)
    prepare_target(target, kind, overwrite)
    array, saved, notices = _plan(kind, array, fps, crf, target)
    if audio is not None:
        if kind == "mp4":
            saved["audio"] = {**audio.describe(), "codec": "aac", "bitrate": AAC_BITRATE}
        else:
            saved["audio"] = None
            notices.append(
                f"path: {str(target)!r}: .{kind} has no sound, so the video was saved without its audio; save an "
                ".mp4 for both, or the sound alone with result.save_audio('sound.wav')"
            )
    meta = dict(metadata or {})
    embedded = json.dumps({**meta, "saved": saved}, indent=2, sort_keys=True, default=str)

    def write(tmp: Path) -> None:
        sound = (audio,) if audio is not None and kind == "mp4" else ()  # only an .mp4 carries sound
        _WRITERS[kind](array, tmp, saved, embedded, *sound)

    def describe(tmp: Path) -> str:
        saved["bytes"] = file_size(tmp)
        saved["sha256"] = content_sha256(tmp)
        return json.dumps({**meta, "saved": saved}, indent=2, sort_keys=True, default=str) + "\n"

    save_atomically(target, kind, overwrite, write, describe)
    for notice in notices:
        warnings.warn(notice, SaveWarning, stacklevel=user_stacklevel())
    logger.debug("wrote %s (%s)", target, ", ".join(f"{k}={v}" for k, v in saved.items() if "sha256" not in k))
    return target


# ---- checks and the plan of what gets written


def check_crf(crf: Any, kind: str) -> int:
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
    # kept as given (an int stays an int in the sidecar); every numbers.Real divides and compares like a float here
    return cast(float, fps)


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


def _plan(
    kind: str, frames: np.ndarray, fps: float, crf: int, target: Path
) -> tuple[np.ndarray, dict[str, Any], list[str]]:
    """The frames to write, the sidecar's `saved` entry, and warnings for what the format changed."""
    import numpy as np

    t, h, w = (int(n) for n in frames.shape[:3])
    saved: dict[str, Any] = {"format": kind, "frames": t, "width": w, "height": h, "fps": fps}
    saved["frames_sha256"] = frames_sha256(frames)  # before padding: the frames given
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


def write_mp4(
    frames: np.ndarray, path: Path, saved: Mapping[str, Any], embedded: str, audio: Audio | None = None
) -> None:
    """H.264 frames from a pipe, with `audio` as AAC when given (written to a temporary .wav for ffmpeg)."""
    if audio is None:
        return _encode_mp4(frames, path, saved, embedded, [])
    import tempfile

    from .audio import mux_arguments, write_wav_file

    with tempfile.TemporaryDirectory(prefix="videogen-audio-") as folder:
        wav = Path(folder) / "sound.wav"
        write_wav_file(audio, wav)
        _encode_mp4(frames, path, saved, embedded, mux_arguments(wav))


def _encode_mp4(frames: np.ndarray, path: Path, saved: Mapping[str, Any], embedded: str, sound: list[str]) -> None:
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
        *(sound or ["-an"]),
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
        stdin = proc.stdin
        try:
            assert stdin is not None  # stdin=PIPE
            try:  # the frames' own buffer, not a bytes copy of each frame (same bytes to ffmpeg)
                stdin.write(np.ascontiguousarray(frames).data.cast("B"))
            except BrokenPipeError:
                pass  # ffmpeg stopped early; its exit status and log say why
            finally:
                try:
                    stdin.close()
                except OSError:
                    pass
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        log.seek(0)
        said = log.read().decode("utf-8", "replace").strip()
    if code != 0 or file_size(path) == 0:
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


_WRITERS: dict[str, Callable[..., None]] = {"mp4": write_mp4, "gif": _write_gif, "webp": _write_webp, "png": _write_png}
