"""Cancelling a generation from another thread: `CancelToken`, and the checkpoints that honour it.

`generate(..., cancel=token)` makes the token current for the call (a context variable, so the worker thread
of `agenerate` sees it too); the loading code, the step callbacks and the VAE decode call `checkpoint()`,
which raises `Cancelled` once the token is set. Any object with an `is_set()` method works as a token (a
`threading.Event` does).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from typing import Any, Protocol

from ..errors import Cancelled


class CancelFlag(Protocol):
    """What `cancel=` takes: anything that says whether to stop (a CancelToken, a threading.Event)."""

    def is_set(self) -> bool: ...


class CancelToken:
    """A flag another thread sets to stop a generation at its next checkpoint: between component loads
    (where diffusers loads them one by one) and before and after the load, after each denoising step, and
    before each chunk the VAE decodes. The generation then raises `videogen.Cancelled`; nothing is written.

        token = videogen.CancelToken()
        threading.Timer(5, token.cancel).start()
        videogen.generate(model="tiny-wan", prompt="...", cancel=token)  # Cancelled after ~5 s

    A token is one-way: once cancelled it stays cancelled (make a new one per job)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        """Ask the generation(s) watching this token to stop at their next checkpoint."""
        self.reason = self.reason or reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def is_set(self) -> bool:
        """The same as `cancelled` (so a token and a `threading.Event` are interchangeable)."""
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled or `timeout` seconds pass; True when cancelled."""
        return self._event.wait(timeout)

    def __repr__(self) -> str:
        return f"CancelToken(cancelled={self.cancelled})"


class AnyOf:
    """Set when any of its flags is set (the caller's token and agenerate's own)."""

    def __init__(self, *flags: CancelFlag | None):
        self.flags = tuple(f for f in flags if f is not None)

    def is_set(self) -> bool:
        return any(f.is_set() for f in self.flags)


_CURRENT: contextvars.ContextVar[CancelFlag | None] = contextvars.ContextVar("videogen_cancel", default=None)


def check_flag(cancel: Any) -> CancelFlag | None:
    """`cancel=` as given, refused with a clear error when it can't say whether to stop."""
    if cancel is None or callable(getattr(cancel, "is_set", None)):
        return cancel
    from ..errors import SpecError

    raise SpecError(
        f"cancel: {type(cancel).__name__} has no is_set() method; pass a videogen.CancelToken() (or a "
        "threading.Event) and call its cancel() (set()) from another thread",
        field="cancel",
    )


@contextlib.contextmanager
def cancelling(cancel: CancelFlag | None) -> Iterator[None]:
    """Make `cancel` the flag `checkpoint()` reads in this context (nothing changes for None)."""
    if cancel is None:
        yield
        return
    token = _CURRENT.set(cancel)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current() -> CancelFlag | None:
    """The flag of the generation running in this context, if it has one."""
    return _CURRENT.get()


def checkpoint(where: str) -> None:
    """Raise `Cancelled` (naming `where`) when this context's generation was cancelled."""
    flag = _CURRENT.get()
    if flag is not None and flag.is_set():
        reason = getattr(flag, "reason", "") or "cancelled"
        raise Cancelled(f"{reason} {where}")
