"""Reading one spec input by its kind (`spec.inputs.Kind`: "image", "video", "image_or_video", "images") with the
readers of `read.py`, so every input is held to the same limits (paths, URLs, PIL images, arrays; docs/inputs.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import SpecError
from .read import (
    ANIMATED_FORMATS,
    check_scheme,
    decode_media,
    is_container,
    is_url,
    open_image,
    open_input,
    to_frames,
    to_pil,
)

#: the most images one `images` input takes (spec.inputs.MAX_IMAGES says the same; media sits below spec)
MAX_IMAGES = 16


def read_input(kind: str, value: Any, field: str) -> Any:
    """Input `field` read as `kind`: a PIL image ("image"), a list of frames ("video"), either ("image_or_video":
    a still image or a video, by what the file holds or the value's shape) or a list of images ("images": one
    image, or a list of them)."""
    if kind == "image":
        return to_pil(value, field)
    if kind == "video":
        return to_frames(value, field)
    if kind == "images":
        return to_images(value, field)
    if kind == "image_or_video":
        return to_image_or_frames(value, field)
    raise ValueError(f"unknown input kind {kind!r}")


def to_images(value: Any, field: str) -> list[Any]:
    """One or several RGB PIL images: an image (path, URL, PIL image, array) or a list of them; an item's error
    names it (`reference_images[1]: ...`) with `field` as the error's field."""
    import numpy as np

    if isinstance(value, np.ndarray) and value.ndim == 4:  # N×H×W×3: N images of one size
        value = list(value)
    elif not isinstance(value, (list, tuple)):
        value = [value]
    if not value:
        raise SpecError(f"{field}: the list is empty; pass one image or a list of images, or leave it out", field=field)
    if len(value) > MAX_IMAGES:
        raise SpecError(
            f"{field}: {len(value)} images, more than the {MAX_IMAGES} an input takes; pass at most {MAX_IMAGES}",
            field=field,
        )
    images = []
    for i, item in enumerate(value):
        label = f"{field}[{i}]"
        try:
            images.append(to_pil(item, label))
        except SpecError as exc:
            raise SpecError(str(exc), field=field) from None
    return images


def to_image_or_frames(value: Any, field: str) -> Any:
    """A still image (a PIL image) or a video (a list of frames): a PIL image, an H×W(×3) array or a still image
    file is an image; a list, a T×H×W×3 array, a folder of frames, a video file or an animated GIF/WebP is a
    video."""
    import numpy as np
    from PIL import Image

    if isinstance(value, Image.Image) or (isinstance(value, np.ndarray) and value.ndim <= 3):
        return to_pil(value, field)
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if is_url(text):
            from .fetch import fetch

            with fetch(text, field, "video") as path:
                if _is_still(path, field, text):
                    return open_image(path, field, text)
                return decode_media(path, field, text, as_pil=True)[0]
        check_scheme(text, field)
        path = Path(text).expanduser()
        if path.exists() and not path.is_dir() and _is_still(path, field, text):
            return open_image(path, field, text)
    return to_frames(value, field)


def _is_still(path: Path, field: str, source: str) -> bool:
    """Whether a file is a still image: not a video container, and a one-frame image PIL reads (GIF and WebP are
    videos even with one frame, as videogen writes them)."""
    from PIL import Image

    with open_input(path, field, source, "video") as f:
        head = f.read(16)
    if not head or is_container(head):
        return False
    try:
        with Image.open(path) as img:
            return img.format not in ANIMATED_FORMATS and getattr(img, "n_frames", 1) <= 1
    except Exception:
        return False  # the video readers say what is wrong with it
