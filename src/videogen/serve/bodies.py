"""What a request carries: its bearer token (checked in constant time), its size, its body as JSON or as
multipart fields, and its uploaded inputs (serve/uploads.py: capped in bytes, checked, stored with the job)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from .errors import ApiError
from .requests import API_FIELDS
from .store import Store, remove_uploads
from .uploads import max_files, save_uploads, spec_field


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


async def read_body(request: Any, store: Store, max_upload_bytes: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """JSON, or multipart form fields (JSON-decoded where they parse, but API fields stay text) with the uploaded
    inputs saved under the state folder (`uploads.save_uploads`: spec field → file; 413 over the cap, 400 for a
    file that isn't what its field takes). An input both uploaded and named in the body is a 400."""
    from starlette.exceptions import HTTPException

    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await read_json(request), {}
    try:
        form = await request.form(max_files=max_files(), max_fields=200)
    except HTTPException as exc:  # python-multipart's limits: too many files or fields, a malformed body
        raise ApiError(400, f"the multipart body: {exc.detail}", kind="invalid_request_error") from exc
    try:
        return await _fields_and_uploads(form, store, max_upload_bytes)
    finally:
        await form.close()


async def _fields_and_uploads(form: Any, store: Store, max_upload_bytes: int) -> tuple[dict[str, Any], dict[str, Any]]:
    body: dict[str, Any] = {}
    files = []
    for name, value in form.multi_items():
        if hasattr(value, "read"):  # an UploadFile
            files.append((name, value))
        elif name in API_FIELDS:
            body[name] = value
        else:
            try:
                body[name] = json.loads(value)
            except ValueError:
                body[name] = value
    uploads = await save_uploads(files, store, max_upload_bytes)
    for name, _file in files:
        field = spec_field(name)
        if field is not None and body.get(field) is not None:
            remove_uploads(uploads)
            raise ApiError(
                400,
                f"{field}: both uploaded (as {name}) and named in the body; send one",
                kind="invalid_request_error",
                param=field,
            )
    return body, uploads
