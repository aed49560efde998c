"""An API request → the plain spec a job stores, checked by the library before anything is queued.

OpenAI's fields map onto the spec: `model` (a catalog name, or a name the server was started with: `--model
NAME=SOURCE`), `prompt`, `size` ("WxH" → width, height),
`seconds` (→ num_frames at the spec's or the model's fps, on the model's frame rule) and `input_reference` (the
uploaded image → `image`; every other input is uploaded under its own name: serve/uploads.py). Every other
VideoSpec field may come as an extra body field (steps, seed, guidance_scale, negative_prompt, cache, memory, ...).
What a server refuses beyond the library's rules: input files and URLs named in the body (the server's own files,
or its network: inputs come as uploads), models that are not catalog names (a local folder), LoRAs from local
paths or URLs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import SpecError
from ..spec.inputs import MEDIA_FIELDS as INPUT_FIELDS
from ..spec.videospec import SPEC_FIELDS

#: the OpenAI request's own fields, which are not spec fields under the same name
API_FIELDS = ("model", "prompt", "size", "seconds", "input_reference")
#: spec fields a request can't set (every input of spec/inputs.py): media come as uploads (serve/uploads.py)
MEDIA_FIELDS = INPUT_FIELDS


def upload_hint(name: str) -> str:
    """How a request sends input `name` instead: the multipart file field that takes it."""
    field = "input_reference" if name == "image" else name
    return f"upload the file as the multipart field {field} (multipart/form-data)"


_SIZE = re.compile(r"^\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*$")


def spec_from_request(body: Mapping[str, Any], models: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The plain spec of a request body (multipart fields already parsed from JSON where they were JSON);
    `models`: the server's configured names → their source (a folder or a Hub repo id). SpecError names the field
    of a refusal."""
    body = dict(body)
    if body.pop("input_reference", None) is not None:  # OpenAI's image_url/file_id reference, or text
        raise SpecError(
            f"input_reference: this server takes the image as a file; {upload_hint('image')}", field="input_reference"
        )
    unknown = sorted(k for k in body if k not in SPEC_FIELDS and k not in API_FIELDS)
    if unknown:
        raise SpecError(
            f"{unknown[0]!r} is neither an API field ({', '.join(API_FIELDS)}) nor a VideoSpec field "
            f"({', '.join(f for f in SPEC_FIELDS if f not in MEDIA_FIELDS)})",
            field=unknown[0],
        )
    for name in MEDIA_FIELDS:
        if body.get(name) is not None:
            raise SpecError(
                f"{name}: the server reads no files or URLs named in a request; {upload_hint(name)}", field=name
            )
    spec = {k: v for k, v in body.items() if k in SPEC_FIELDS}
    spec["model"] = model_source(body.get("model"), models or {})[1]
    _check_loras(spec.get("loras") or ())
    if body.get("size") is not None:
        spec["width"], spec["height"] = parse_size(body["size"])
    if body.get("seconds") is not None:
        spec["num_frames"] = frames_for(body["seconds"], spec["model"], spec.get("fps"))
    return spec


def model_source(model: Any, models: Mapping[str, str]) -> tuple[str, str]:
    """(the name the API shows, what the spec loads) of a request's `model`: a name configured with
    `--model NAME=SOURCE`, or a catalog name; anything else (a folder, a repo id) is refused."""
    from ..catalog.lookup import list_models

    if isinstance(model, str):
        configured = {name.lower(): name for name in models}
        if model.lower() in configured:
            name = configured[model.lower()]
            return name, models[name]
        names = {c.name.lower(): c.name for c in list_models()}
        if model.lower() in names:
            return names[model.lower()], names[model.lower()]
    raise SpecError(
        f"model: {model!r} is not a model this server offers; GET /v1/models lists them (e.g. 'tiny-wan')",
        field="model",
    )


def parse_size(size: Any) -> tuple[int, int]:
    match = _SIZE.match(str(size))
    if not match:
        raise SpecError(f"size: {size!r} is not 'WIDTHxHEIGHT' (e.g. '832x480')", field="size")
    return int(match[1]), int(match[2])


def frames_for(seconds: Any, model: str, fps: Any) -> int:
    """The frame count of `seconds` at `fps` (the model's when None), on the model's frame rule."""
    from ..catalog.lookup import resolve
    from ..families.card import nearest_frame_count

    try:
        value = float(seconds)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= 600):
        raise SpecError(
            f"seconds: {seconds!r} is not a duration in seconds between 0 and 600 (e.g. '4')", field="seconds"
        )
    card = resolve(model)
    rate = fps if isinstance(fps, int) and fps > 0 else card.fps
    frames = max(1, round(value * rate))
    if card.frame_rule is not None:
        frames = nearest_frame_count(frames, *card.frame_rule, card.max_frames)
    return frames


def _check_loras(loras: Any) -> None:
    for item in loras if isinstance(loras, list | tuple) else [loras]:
        source = item.get("source") if isinstance(item, Mapping) else item
        if not isinstance(source, str):
            continue
        local = source.startswith(("/", ".", "~", "file:")) or "://" in source or "\\" in source
        if local or Path(source).exists():
            raise SpecError(
                f"loras: {source!r} is a path or URL; the server loads LoRAs by Hub repo id only ('org/name')",
                field="loras",
            )


def size_of(spec: Mapping[str, Any]) -> str:
    """The "WxH" a job reports."""
    return f"{spec['width']}x{spec['height']}"
