"""Each job's events in memory, for `GET /v1/videos/{id}/events` (Server-Sent Events).

Events: `queued` {position}, `started` {attempt}, `step` {step, total, elapsed_s, eta_s}, `preview` {step,
image: a JPEG data URL}, then one of `completed`, `failed` {error}, `cancelled`. A stream replays what the job
logged so far, then follows it until its last event. The log lives only in this process: after a restart a
stream of an older job starts from its present state.
"""

from __future__ import annotations

import asyncio
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

    def publish(self, job_id: str, event: str, **data: Any) -> None:
        item = {"event": event, "time": round(time.time(), 3), **data}
        with self._lock:
            self._logs.setdefault(job_id, []).append(item)
            if event in TERMINAL:
                self._finished.append(job_id)
                while len(self._finished) > self._keep:  # old logs go; the store keeps the jobs
                    self._logs.pop(self._finished.pop(0), None)

    def since(self, job_id: str, index: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._logs.get(job_id, ())[index:])

    def has(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._logs

    async def stream(self, job_id: str, first: list[dict[str, Any]], poll_s: float = 0.05) -> AsyncIterator[str]:
        """SSE text: `first` (the present state, when there is no log), then the job's log as it grows."""
        for item in first:
            yield sse(item)
            if item["event"] in TERMINAL:
                return
        index = 0
        last_sent = time.monotonic()
        while True:
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
            await asyncio.sleep(poll_s)


def sse(item: dict[str, Any]) -> str:
    return f"event: {item['event']}\ndata: {json.dumps(item)}\n\n"
