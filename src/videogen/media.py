"""Reading the spec's images and videos from paths, URLs, PIL images and arrays (writing: `writers.py`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SpecError

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

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
