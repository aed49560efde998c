"""A request's uploaded inputs: every spec input (the table of `spec/inputs.py`) is a multipart file field of its
own name — `last_image`, `video`, `mask`, `pose_video`, ..., `reference_images` repeated for several — and OpenAI's
`input_reference` is the image (`image` names it too). A new input in the table is an upload field with no change
here.

Each file is capped in bytes (`--max-upload-bytes` and the library's byte limit of its kind: 413) and stored under
the state folder as one of its job's files. Images (the "image" and "images" kinds) are decoded within the pixel
budget and stored as PNG; the others (videos, masks) are stored as sent once their first bytes show a video
container (MP4/MOV, Matroska/WebM, AVI) or an image PIL knows (a still mask, an animated GIF/WebP/PNG), so the
video reader never meets a playlist or a script that would lead it to other files. Their frames are read by the
library's readers, within the frame and pixel budgets, when the request is checked (`prepare`) and when the job
runs. A bad file is a 400 naming its field.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from ..errors import SpecError
from ..media.atomic import move_into_place
from ..spec.inputs import INPUTS, MAX_IMAGES
from .errors import ApiError
from .store import Store, remove_uploads

#: upload fields that are not a spec field's own name → the spec field (OpenAI's name for the image)
ALIASES = {"input_reference": "image"}
CHUNK = 2**20


def spec_field(name: str) -> str | None:
    """The spec input an upload field fills (None: not an upload field)."""
    return ALIASES.get(name, name if name in INPUTS else None)


def upload_fields() -> list[str]:
    """Every multipart file field a request may carry."""
    return [*ALIASES, *INPUTS]


def max_files() -> int:
    """The most files one request may carry: one per input, `MAX_IMAGES` for an `images` input."""
    return sum(MAX_IMAGES if i.kind == "images" else 1 for i in INPUTS.values())


def _bad(name: str, message: str, status: int = 400, code: str | None = None) -> ApiError:
    return ApiError(status, message, kind="invalid_request_error", param=name, code=code)


async def save_uploads(files: Sequence[tuple[str, Any]], store: Store, max_upload_bytes: int) -> dict[str, Any]:
    """The uploaded files (multipart field name, UploadFile) stored as a job's inputs: spec field → file (a list
    for an `images` input). Any refusal removes what was stored."""
    uploads: dict[str, Any] = {}
    named: dict[str, str] = {}  # spec field → the upload field that gave it
    try:
        for name, file in files:
            field = spec_field(name)
            if field is None:
                raise _bad(name, f"{name}: not an upload field; files go in {', '.join(upload_fields())}")
            kind = INPUTS[field].kind
            if field in uploads and kind != "images":
                also = f" (and as {named[field]})" if named[field] != name else ""
                raise _bad(name, f"{name}: one file only{also}; send the field once")
            count = len(uploads.get(field, []))
            if count >= MAX_IMAGES:
                raise _bad(name, f"{name}: more than {MAX_IMAGES} files; send at most {MAX_IMAGES}")
            label = f"{name}[{count}]" if kind == "images" else name
            path = await save_upload(file, store, max_upload_bytes, name, label, field)
            named[field] = name
            if kind == "images":
                uploads.setdefault(field, []).append(path)
            else:
                uploads[field] = path
    except BaseException:
        remove_uploads(uploads)
        raise
    return uploads


async def save_upload(file: Any, store: Store, max_upload_bytes: int, name: str, label: str, field: str) -> str:
    """One uploaded file of spec input `field` (sent as `name`; `label` in messages) under the state folder (413
    over its cap), checked by the input's kind; its path."""
    from ..media.read import max_bytes

    kind = INPUTS[field].kind
    cap = min(max_upload_bytes, max_bytes(INPUTS[field].byte_kind, name))
    raw = store.uploads / f".{uuid.uuid4().hex}.upload"
    size = 0
    try:
        with raw.open("wb") as out:
            while chunk := await file.read(CHUNK):
                size += len(chunk)
                if size > cap:
                    raise _bad(name, f"{label}: the upload is over {cap} bytes", 413, "too_large")
                out.write(chunk)
        if kind in ("image", "images"):
            return await run_in_threadpool(_as_png, raw, store, name, label)
        await run_in_threadpool(_check_video_file, raw, name, label)
        target = store.uploads / uuid.uuid4().hex
        move_into_place(raw, target)
        return str(target)
    finally:
        raw.unlink(missing_ok=True)


def _as_png(raw: Path, store: Store, name: str, label: str) -> str:
    """An uploaded image decoded within the pixel budget (docs/inputs.md) and saved as PNG; its path."""
    from ..media.read import to_pil

    try:
        image = to_pil(str(raw), label)
    except SpecError as exc:
        raise _bad(name, str(exc), code="invalid_spec") from exc
    target = store.uploads / f"{uuid.uuid4().hex}.png"
    image.convert("RGB").save(target, "PNG")
    return str(target)


def _check_video_file(raw: Path, name: str, label: str) -> None:
    """Refuses (400) a file that is neither a video container nor an image PIL identifies."""
    from PIL import Image, UnidentifiedImageError

    from ..media.read import is_container

    with raw.open("rb") as f:
        head = f.read(16)
    if head and is_container(head):
        return
    if head:
        try:
            with Image.open(raw):
                return
        except Image.DecompressionBombError:
            return  # an image all the same: the reader refuses it within its budget, saying so
        except (UnidentifiedImageError, OSError, ValueError):
            pass
    what = "an empty file" if not head else "neither a video container nor an image"
    raise _bad(
        name,
        f"{label}: the upload is {what}; send an .mp4/.mov/.webm/.mkv/.avi video or an animated .gif/.webp "
        "(a mask may be one image)",
        code="invalid_spec",
    )
