"""The in-process worker: a thread that takes queued jobs (the model it ran last first: one load per model),
runs each with `generate`, saves the video with its sidecar (atomic, so `videogen replay` works on it) and a
thumbnail, and logs its events. A job deleted while it runs stops at its next step; its files are removed."""

from __future__ import annotations

import base64
import io
import logging
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import Cancelled
from .errors import job_error
from .events import Events
from .retention import EVERY_S as RETENTION_EVERY_S
from .retention import Keep
from .store import Job, Store

logger = logging.getLogger("videogen")
#: how often a running job's progress is written to the database (the events stream has every step)
PROGRESS_EVERY_S = 0.2


class Worker:
    """One worker thread over the store (one per device; this machine's one device)."""

    def __init__(
        self, store: Store, events: Events, *, preview_every: int = 1, preview_side: int = 96, keep: Keep | None = None
    ):
        self.store, self.events, self.keep = store, events, keep or Keep()
        self.preview_every, self.preview_side = preview_every, preview_side
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="videogen-serve-worker", daemon=True)
        self.last_model: str | None = None
        self.loads: dict[str, int] = {}  # model → pipeline loads this worker saw (metadata "cached": False)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.wake.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        kept_at = -float("inf")
        while not self._stop.is_set():
            if time.monotonic() - kept_at > RETENTION_EVERY_S:
                kept_at = time.monotonic()
                self.keep.apply(self.store)
            job = self.store.claim(self.preferred())
            if job is None:
                self.wake.wait(0.5)
                self.wake.clear()
                continue
            try:
                self.run(job)
            except Exception:  # never lose the thread to one job
                logger.exception("job %s: unexpected error in the worker", job.id)

    def preferred(self) -> list[str]:
        """The models to take jobs of first: the one it ran last, then those still loaded (most recent first)."""
        from ..loading.pipelines import CACHE

        loaded = [key[0] for key in reversed(CACHE.keys()) if isinstance(key, tuple) and key]
        names = [self.last_model, *loaded] if self.last_model else loaded
        return list(dict.fromkeys(str(n) for n in names))

    def run(self, job: Job) -> None:
        """Run one claimed job to completed, failed or (deleted meanwhile) removed."""
        from ..features.preview import watch_latents
        from ..generation.flow import generate

        self.events.publish(job.id, "started", attempt=job.attempts, model=job.model)
        logger.info("job %s: started (%s, attempt %d)", job.id, job.model, job.attempts)
        started = time.perf_counter()
        self.last_model = job.model
        try:
            with watch_latents() as watch:
                on_step = self._on_step(job, watch, started)
                result = generate(spec_of(job), on_step=on_step, progress=False)
        except Cancelled:
            self.store.drop(job)
            self.events.publish(job.id, "cancelled")
            logger.info("job %s: cancelled at a step", job.id)
            return
        except Exception as exc:
            if self.store.stopping(job.id):  # deleted while it failed: gone either way
                self.store.drop(job)
                self.events.publish(job.id, "cancelled")
                return
            error = job_error(exc)
            self.store.fail(job.id, error)
            self.events.publish(job.id, "failed", error=error)
            logger.warning("job %s: failed: %s", job.id, error["message"])
            return
        if not result.metadata["timings"]["cached"]:
            self.loads[job.model] = self.loads.get(job.model, 0) + 1
        output = self.store.outputs / f"{job.id}.mp4"
        result.save(output, overwrite=True)
        _thumbnail(result.frames[len(result.frames) // 2], self.store.outputs / f"{job.id}.jpg")
        if not self.store.complete(job.id, str(output), result.frames_sha256):  # deleted during the save
            self.store.drop(job)
            self.events.publish(job.id, "cancelled")
            return
        self.events.publish(job.id, "completed", seconds=round(time.perf_counter() - started, 3))
        logger.info("job %s: completed in %.2f s", job.id, time.perf_counter() - started)

    def _on_step(self, job: Job, watch: Any, started: float) -> Any:
        first: dict[str, float] = {}

        def on_step(step: int, total: int) -> bool:
            now = time.perf_counter()
            first.setdefault("t", now)
            # the ETA from the steps after the first (the first includes loading and the text encoder)
            per_step = (now - first["t"]) / (step - 1) if step > 1 else None
            eta = round(per_step * (total - step), 3) if per_step is not None else None
            self.events.publish(job.id, "step", step=step, total=total, elapsed_s=round(now - started, 3), eta_s=eta)
            if self.preview_every and (step % self.preview_every == 0 or step == total):
                image = watch.preview(self.preview_side)
                if image is not None:
                    self.events.publish(job.id, "preview", step=step, image=_data_url(image))
            if now - first.get("saved", 0.0) >= PROGRESS_EVERY_S:  # the database: a few times a second at most
                first["saved"] = now
                self.store.set_progress(job.id, min(99, round(100 * step / max(total, 1))))
            return not self.store.stopping(job.id)

        return on_step


def spec_of(job: Job) -> dict[str, Any]:
    """The job's spec as `generate` takes it: the stored fields and the uploaded image's file."""
    spec = dict(job.spec)
    if job.upload:
        spec["image"] = job.upload
    return spec


def _data_url(image: Any) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _thumbnail(frame: Any, target: Path) -> None:
    from PIL import Image

    from ..media.atomic import move_into_place, temp_name

    tmp = temp_name(target)
    Image.fromarray(frame).save(tmp, "JPEG", quality=85)
    move_into_place(tmp, target)
