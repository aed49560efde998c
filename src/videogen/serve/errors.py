"""OpenAI's error shape, `{"error": {"message", "type", "param", "code"}}`, for videogen's errors and the
server's own refusals. A message never carries a server path or a traceback."""

from __future__ import annotations

import os
import re
from typing import Any

from ..errors import SpecError

_PATHS = re.compile(r"(?:/[\w.@+-]+){2,}/?")


class ApiError(Exception):
    """A refusal with its HTTP status, in OpenAI's shape."""

    def __init__(self, status: int, message: str, *, kind: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, param, code

    def body(self) -> dict[str, Any]:
        return error_body(self.message, kind=self.kind, param=self.param, code=self.code)


def error_body(message: str, *, kind: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": scrub(message), "type": kind, "param": param, "code": code}}


def from_spec_error(exc: SpecError) -> ApiError:
    """400 naming the field, with the library's message."""
    return ApiError(400, str(exc), kind="invalid_request_error", param=exc.field, code="invalid_spec")


def job_error(exc: BaseException) -> dict[str, Any]:
    """What a failed job reports: the SpecError's field and message, or the error's type and message."""
    if isinstance(exc, SpecError):
        return {"code": "invalid_spec", "param": exc.field, "message": scrub(str(exc))}
    return {"code": "generation_failed", "param": None, "message": scrub(f"{type(exc).__name__}: {exc}")}


def scrub(message: str) -> str:
    """`message` without file-system paths (the state folder, the home folder, site-packages ...)."""
    home = os.path.expanduser("~")
    if home not in ("", "/"):
        message = message.replace(home, "~")
    return _PATHS.sub("<path>", message)
