"""Each job's events in memory, for `GET /v1/videos/{id}/events` (Server-Sent Events).

Events: `queued` {position}, `started` {attempt}, `step` {step, total, elapsed_s, eta_s}, `preview` {step,
image: a JPEG data URL}, then one of `completed`, `failed` {error}, `cancelled`. A stream replays what the job
logged so far, then follows it until its last event, woken by each event as it is published (no polling
delay). The log lives only in this process: after a restart a stream of an older job starts from its present
state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

TERMINAL = ("completed", "failed", "cancelled")


class Events:
    """Per-job event logs, written by the worker thread, read by the server's event loop."""

    def __init__(self, keep_finished: int = 256):
        self._logs: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._finished: list[str] = []
        self._keep = keep_finished
        #: the streams following each job: their event loop and the asyncio.Event that wakes them
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    def publish(self, job_id: str, event: str, **data: Any) -> None:
        """Log an event (from any thread) and wake the streams following the job."""
        item = {"event": event, "time": round(time.time(), 3), **data}
        with self._lock:
            self._logs.setdefault(job_id, []).append(item)
            if event in TERMINAL:
                self._finished.append(job_id)
                while len(self._finished) > self._keep:  # old logs go; the store keeps the jobs
                    self._logs.pop(self._finished.pop(0), None)
            waiters = list(self._waiters.get(job_id, ()))
        for loop, wake in waiters:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # its loop has closed: the stream is gone
                pass

    def since(self, job_id: str, index: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._logs.get(job_id, ())[index:])

    def has(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._logs

    async def stream(self, job_id: str, first: list[dict[str, Any]], poll_s: float = 1.0) -> AsyncIterator[str]:
        """SSE text: `first` (the present state, when there is no log), then the job's log as it grows (woken by
        `publish`; looked at every `poll_s` seconds anyway, with a keep-alive comment after 15 s of nothing)."""
        for item in first:
            yield sse(item)
            if item["event"] in TERMINAL:
                return
        wake = asyncio.Event()
        waiter = (asyncio.get_running_loop(), wake)
        with self._lock:
            self._waiters.setdefault(job_id, []).append(waiter)
        try:
            index = 0
            last_sent = time.monotonic()
            while True:
                wake.clear()  # before reading: an event published after this wakes the wait below
                items = self.since(job_id, index)
                index += len(items)
                for item in items:
                    yield sse(item)
                    if item["event"] in TERMINAL:
                        return
                if items:
                    last_sent = time.monotonic()
                elif time.monotonic() - last_sent > 15:
                    yield ": keep-alive\n\n"
                    last_sent = time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), poll_s)
        finally:
            with self._lock:
                followers = self._waiters.get(job_id, [])
                if waiter in followers:
                    followers.remove(waiter)
                if not followers:
                    self._waiters.pop(job_id, None)


def sse(item: dict[str, Any]) -> str:
    return f"event: {item['event']}\ndata: {json.dumps(item)}\n\n"
