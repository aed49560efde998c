"""Reading images and videos from paths, URLs, PIL images and arrays; writing mp4/gif/webp/png frames.

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
    from PIL import Image

VIDEO_SUFFIXES = (".mp4", ".gif", ".webp")
FRAME_NAME = "frame_{:05d}.png"


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def to_pil(value: Any, field: str) -> Image.Image:
    """One RGB PIL image from a path, URL, PIL image or H×W×3 / H×W array (uint8, or floats in [0, 1])."""
    import numpy as np
    from PIL import Image

    if isinstance(value, Image.Image):
        return value.convert("RGB")
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if _is_url(text):
            from diffusers.utils import load_image

            try:
                return load_image(text).convert("RGB")
            except Exception as exc:
                raise SpecError(f"{field}: could not fetch {text!r} ({exc}); pass a local path instead",
                                field=field) from None
        path = Path(text).expanduser()
        if not path.is_file():
            raise SpecError(f"{field}: no file at {text!r}; pass an existing image path, a URL, a PIL image "
                            "or an array", field=field)
        try:
            with Image.open(path) as img:
                return img.convert("RGB")
        except Exception as exc:
            raise SpecError(f"{field}: {text!r} is not an image PIL can read ({exc})", field=field) from None
    if isinstance(value, np.ndarray):
        return Image.fromarray(array_to_uint8(value, field))
    raise SpecError(f"{field}: a {type(value).__name__} is not an image; pass a path, URL, PIL image or "
                    "H×W×3 array", field=field)


def array_to_uint8(array: np.ndarray, field: str) -> np.ndarray:
    import numpy as np

    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise SpecError(f"{field}: an image array must be H×W×3 (got shape {array.shape})", field=field)
    array = array[..., :3]
    if array.dtype != np.uint8:
        array = (np.clip(array.astype(np.float64), 0.0, 1.0) * 255).round().astype(np.uint8)
    return array


def to_frames(value: Any, field: str = "video") -> list[Image.Image]:
    """A list of RGB PIL frames from a video path or URL, a folder of images, a list or a T×H×W×3 array."""
    import numpy as np

    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if _is_url(text):
            from diffusers.utils import load_video

            try:
                return [f.convert("RGB") for f in load_video(text)]
            except Exception as exc:
                raise SpecError(f"{field}: could not fetch {text!r} ({exc}); pass a local path instead",
                                field=field) from None
        path = Path(text).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"))
            if not files:
                raise SpecError(f"{field}: the folder {text!r} holds no .png/.jpg frames", field=field)
            return [to_pil(str(p), field) for p in files]
        if not path.is_file():
            raise SpecError(f"{field}: no file at {text!r}; pass a video path, a folder of frames, a URL, "
                            "a list of PIL images or a T×H×W×3 array", field=field)
        frames, _ = read_video(path)
        from PIL import Image

        return [Image.fromarray(f) for f in frames]
    if isinstance(value, np.ndarray):
        if value.ndim != 4:
            raise SpecError(f"{field}: a video array must be T×H×W×3 (got shape {value.shape})", field=field)
        return [to_pil(frame, field) for frame in value]
    if isinstance(value, (list, tuple)):
        if not value:
            raise SpecError(f"{field}: the frame list is empty", field=field)
        return [to_pil(frame, field) for frame in value]
    raise SpecError(f"{field}: a {type(value).__name__} is not a video; pass a path, URL, list of PIL images "
                    "or T×H×W×3 array", field=field)


def read_video(path: str | os.PathLike) -> tuple[np.ndarray, float | None]:
    """Frames (uint8 T×H×W×3) and fps of an .mp4/.gif/.webp file or a folder of .png frames."""
    import numpy as np

    path = Path(path)
    if path.is_dir():
        import imageio.v3 as iio

        files = sorted(path.glob("*.png"))
        return np.stack([iio.imread(f)[..., :3] for f in files]), None
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".webp"):  # mp4, mov, avi, mkv, ...: ffmpeg
        import imageio.v2 as iio2

        reader = iio2.get_reader(str(path), format="FFMPEG")
        try:
            fps = reader.get_meta_data().get("fps")
            frames = np.stack([np.asarray(f)[..., :3] for f in reader])
        finally:
            reader.close()
        return frames, fps
    from PIL import Image, ImageSequence

    try:
        with Image.open(path) as img:
            frames_list = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(img)]
            duration = img.info.get("duration")
    except Exception as exc:
        raise SpecError(f"video: {str(path)!r} is not a video videogen can read ({exc})", field="video") from None
    fps = 1000.0 / float(duration) if duration else None
    return np.stack(frames_list), fps


# ---- writing ---------------------------------------------------------------------------------------
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
