"""What a request carries: its bearer token (checked in constant time), its size, its body as JSON or as
multipart fields, and the uploaded image (capped in bytes, decoded within the pixel budget, stored as PNG)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from ..errors import SpecError
from .errors import ApiError, from_spec_error
from .requests import API_FIELDS
from .store import Store


def refusal(request: Any, token: str | None, max_body_bytes: int) -> ApiError | None:
    """401 without the right bearer token (constant-time compare); 413 for a body over the cap, 411 for a body
    streamed without a Content-Length."""
    if token is not None:
        given = request.headers.get("authorization", "")
        scheme, _, sent = given.partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())
        if not ok:
            return ApiError(
                401,
                "a valid bearer token is required (Authorization: Bearer ...)",
                kind="authentication_error",
                code="invalid_api_key",
            )
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > max_body_bytes):
        return ApiError(
            413, f"request body over {max_body_bytes} bytes", kind="invalid_request_error", code="too_large"
        )
    if length is None and "transfer-encoding" in request.headers:  # a streamed body: its size unknown until read
        return ApiError(
            411, "send the body with a Content-Length (bodies are capped)", kind="invalid_request_error", code="length"
        )
    return None


def owner(request: Any) -> str:
    """Whose job it is: a hash of the bearer token ('' without one)."""
    token = request.headers.get("authorization", "")
    return hashlib.sha256(token.encode()).hexdigest()[:16] if token else ""


async def read_json(request: Any) -> dict[str, Any]:
    """The body as a JSON object (400 otherwise)."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise ApiError(400, "the body is not JSON", kind="invalid_request_error") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "the body is a JSON object", kind="invalid_request_error")
    return body


async def read_body(request: Any, store: Store, max_upload_bytes: int) -> tuple[dict[str, Any], str | None]:
    """JSON, or multipart form fields (JSON-decoded where they parse, but API fields stay text) with the upload
    saved under the state folder, at most `max_upload_bytes` (413) and checked as an image (400)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await read_json(request), None
    form = await request.form(max_files=1, max_fields=200)
    body: dict[str, Any] = {}
    upload = None
    for name, value in form.multi_items():
        if hasattr(value, "read"):  # an UploadFile
            if name != "input_reference":
                raise ApiError(
                    400, f"{name}: only input_reference is an upload", kind="invalid_request_error", param=name
                )
            upload = await save_upload(value, store, max_upload_bytes)
        elif name in API_FIELDS:
            body[name] = value
        else:
            try:
                body[name] = json.loads(value)
            except ValueError:
                body[name] = value
    return body, upload


async def save_upload(file: Any, store: Store, max_upload_bytes: int) -> str:
    """The uploaded image under the state folder (413 over the cap), decoded and saved as PNG; its path."""
    from ..media.read import max_bytes

    cap = min(max_upload_bytes, max_bytes("image", "input_reference"))
    data = await file.read(cap + 1)
    if len(data) > cap:
        raise ApiError(
            413,
            f"input_reference: the upload is over {cap} bytes",
            kind="invalid_request_error",
            param="input_reference",
            code="too_large",
        )
    raw = store.uploads / f".{uuid.uuid4().hex}.upload"
    raw.write_bytes(data)
    try:
        return await run_in_threadpool(normalised, raw, store)
    finally:
        raw.unlink(missing_ok=True)


def normalised(raw: Path, store: Store) -> str:
    """The upload decoded within the pixel budget (docs/inputs.md) and saved as PNG: the job's image file."""
    from ..media.read import to_pil

    try:
        image = to_pil(str(raw), "input_reference")
    except SpecError as exc:
        raise from_spec_error(exc) from exc
    target = store.uploads / f"{uuid.uuid4().hex}.png"
    image.convert("RGB").save(target, "PNG")
    return str(target)
