"""How an input image meets the video's size (`VideoSpec.fit`, docs/inputs.md): the one place images are fitted.

Pure PIL arithmetic, no torch. `size_for` derives the video's size from an image's aspect ratio within the
card's pixel area, as diffusers' Wan image-to-video example does (`max_area = height * width` of the defaults,
each side `round(sqrt(max_area * aspect)) // multiple * multiple`). `fit_image` brings an image to the video's
aspect ratio by one of the fits, so the pipeline's own resize to height × width (a stretch in every family but
I2VGen-XL, whose pipeline center-crops) no longer distorts it. `fit_media` fits every image a call gets
(`image`, `last_image`, the images of a condition list) and says what it did, for `metadata["fit"]`.
`validate.complete` calls `follow_size` where it completes the size and `fit_inputs` once the rules fixed it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from ..spec.videospec import FITS

if TYPE_CHECKING:
    from ..families.card import ModelCard


def size_for(
    image_size: tuple[int, int],
    area: int,
    multiple: int,
    *,
    height: int | None = None,
    width: int | None = None,
    sizes: Sequence[tuple[int, int]] = (),
    limits: tuple[int, int] | None = None,
) -> tuple[int, int]:
    """(height, width) following an image of `image_size` (width, height, as PIL gives it).

    With neither side given: within `area` pixels, each side rounded down to `multiple` (diffusers' Wan
    image-to-video example); with one side given, the other from the aspect ratio, to the nearest multiple. A
    card that runs at a few sizes only (`sizes`) takes the one nearest the image's aspect ratio. Each derived
    side stays within [multiple, limit] (`limits`: the largest height and width accepted)."""
    image_w, image_h = image_size
    aspect = image_h / image_w
    if sizes:
        return min(sizes, key=lambda hw: abs(math.log(hw[0] / hw[1]) - math.log(aspect)))
    if height is None and width is None:
        height = round(math.sqrt(area * aspect)) // multiple * multiple
        width = round(math.sqrt(area / aspect)) // multiple * multiple
    elif height is None:
        assert width is not None
        height = round(width * aspect / multiple) * multiple
    elif width is None:
        width = round(height / aspect / multiple) * multiple
    high_h, high_w = limits if limits is not None else (height, width)
    high_h, high_w = high_h // multiple * multiple, high_w // multiple * multiple
    return min(max(height, multiple), max(high_h, multiple)), min(max(width, multiple), max(high_w, multiple))


def fit_image(image: Any, height: int, width: int, how: str) -> tuple[Any, str]:
    """`image` (PIL) brought to the video's aspect ratio by `how`, and what was done. The pipeline then resizes it
    to width × height itself (Lanczos, as it always has), so an image of the video's aspect ratio goes in as it is
    ("none") and "stretch" hands any image over as it is (the pipeline's resize stretches it: videogen's
    behaviour before `fit`). "crop" (and "follow") cuts the centred box of the video's aspect ratio at the image's
    own resolution; "pad" letterboxes the image on a black canvas of exactly width × height."""
    from PIL import Image

    if how not in FITS:
        raise ValueError(f"fit {how!r} is not one of {FITS}")
    w, h = image.size
    if w * height == h * width or how == "stretch":
        return image, "none" if w * height == h * width else "stretch"
    if how == "pad":
        scale = min(width / w, height / h)
        inner_w, inner_h = min(width, max(1, round(w * scale))), min(height, max(1, round(h * scale)))
        canvas = Image.new(image.mode, (width, height))  # black
        inner = image.resize((inner_w, inner_h), Image.Resampling.LANCZOS)
        canvas.paste(inner, ((width - inner_w) // 2, (height - inner_h) // 2))
        return canvas, "pad"
    box_w = min(w, max(1, round(h * width / height)))  # crop (and follow): the widest box of the video's aspect
    box_h = min(h, max(1, round(w * height / width)))
    if (box_w, box_h) == (w, h):  # within a pixel of the video's aspect ratio already
        return image, "none"
    left, top = (w - box_w) // 2, (h - box_h) // 2
    return image.crop((left, top, left + box_w, top + box_h)), "crop"


def _is_image(value: Any) -> bool:
    """A PIL image with pixels (an empty one has no aspect ratio to follow or fit)."""
    return hasattr(value, "mode") and hasattr(value, "resize") and min(getattr(value, "size", (0, 0))) > 0


def first_image(media: Mapping[str, Any]) -> Any:
    """The image a "follow" size comes from: `image`, else `last_image` (None when the spec has neither)."""
    for key in ("image", "last_image"):
        if _is_image(media.get(key)):
            return media[key]
    return None


def fit_media(media: MutableMapping[str, Any], height: int, width: int, how: str) -> dict[str, Any]:
    """Bring every image in `media` to the video's aspect ratio in place (`fit_image`): top-level images
    (`image`, `last_image`) and the `"image"` of each dict in a list (a family's condition list); videos (lists
    of frames) stay as they are. An image object met twice (an image that is also a condition) is fitted once.
    Returns, per input, its source size and what was done ({} when there is no image)."""
    done: dict[int, tuple[Any, str]] = {}
    record: dict[str, Any] = {}

    def fit(name: str, image: Any) -> Any:
        if id(image) not in done:
            done[id(image)] = fit_image(image, height, width, how)
            w, h = image.size
            record[name] = {"height": h, "width": w, "did": done[id(image)][1]}
        return done[id(image)][0]

    for key, value in list(media.items()):
        if _is_image(value):
            media[key] = fit(key, value)
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            entries = []
            for i, entry in enumerate(value):
                if _is_image(entry.get("image")):
                    entry = {**entry, "image": fit(f"{key}[{i}]", entry["image"])}
                entries.append(entry)
            media[key] = entries
    return record


def follow_size(
    fit: str, media: Mapping[str, Any], card: ModelCard, height: int | None, width: int | None, limits: tuple[int, int]
) -> tuple[int | None, int | None, frozenset[str]]:
    """The spec's (height, width) with the sides it leaves out derived from its image (`fit="follow"`), and
    the names of the derived sides (empty when nothing was derived: another fit, no image, or both given)."""
    image = first_image(media) if fit == "follow" else None
    if image is None or (height is not None and width is not None):
        return height, width, frozenset()
    derived = frozenset(name for name, value in (("height", height), ("width", width)) if value is None)
    area = card.height * card.width
    h, w = size_for(image.size, area, card.size_multiple, height=height, width=width, sizes=card.sizes, limits=limits)
    return h, w, derived


def fit_inputs(
    media: MutableMapping[str, Any], height: int, width: int, fit: str, given: frozenset[str], derived: frozenset[str]
) -> dict[str, Any] | None:
    """Fit the media's images to the completed size in place (`fit_media`) and say what was done, for
    `metadata["fit"]` (None without an image): the fit, the video's size and where it came from ("image": its
    aspect ratio, "spec", "card": the model's default, or a mix), and per input its size and what was done."""
    inputs = fit_media(media, height, width, fit)
    if not inputs:
        return None
    source = {name: "image" if name in derived else "spec" if name in given else "card" for name in ("height", "width")}
    return {
        "fit": fit,
        "height": height,
        "width": width,
        "size_from": source["height"] if source["height"] == source["width"] else source,
        "inputs": inputs,
    }
