"""`agenerate`: `generate` as a coroutine, for asyncio servers (FastAPI, aiohttp) and notebooks.

The generation runs in a worker thread (the event loop stays free); cancelling the awaiting task sets the
call's cancel token, so the thread stops with `Cancelled` at its next checkpoint (during loading, after a step,
before a VAE decode chunk), and the task's cancellation completes once the thread has stopped: a server
that cancels a job knows its device is free again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..spec.videospec import VideoSpec
    from .result import VideoResult


async def agenerate(
    spec: VideoSpec | Mapping[str, Any] | None = None, *, cancel: Any = None, progress: bool = False, **kwargs: Any
) -> VideoResult:
    """Generate one video without blocking the event loop: `await videogen.agenerate(model=..., prompt=...)`.

    Takes what `generate` takes (`on_step`, `on_preview`, `preview_every`, spec fields; `progress` is off by
    default: a server has no terminal). `on_step` and `on_preview` run in the worker thread: to reach the event
    loop from them use `loop.call_soon_threadsafe`. Cancelling the task (`task.cancel()`, a client that
    disconnects, `asyncio.timeout`) cancels the generation: it raises `Cancelled` in the thread at its next
    checkpoint, and the task's `CancelledError` comes once the thread has stopped. `cancel=` (a CancelToken)
    cancels it too, from anywhere."""
    from ..runtime.cancel import AnyOf, CancelToken, check_flag
    from .flow import generate

    own = CancelToken()
    flag = AnyOf(check_flag(cancel), own)
    call = functools.partial(generate, spec, cancel=flag, progress=progress, **kwargs)
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(None, contextvars.copy_context().run, call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        own.cancel("cancelled (the awaiting task was cancelled)")
        with contextlib.suppress(BaseException):  # its Cancelled (or a result that came first) is dropped
            await future
        raise
