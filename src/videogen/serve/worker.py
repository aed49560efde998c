"""The in-process workers: one thread per device (each visible CUDA GPU, pinned to it; else the one CPU or Apple
GPU), each taking queued jobs in model groups (the model it ran last first, then those still loaded: one load per
model), running them with `generate`, saving the video with its sidecar (atomic, so `videogen replay` works on
it) and a thumbnail, and logging its events. A job deleted while it runs stops at the library's next cancel
checkpoint (during the load, after a step, before a VAE decode chunk); its files are removed."""

from __future__ import annotations

import base64
import io
import logging
import threading
import time
from collections.abc import Callable
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


def worker_devices(picked: str, cuda_count: int) -> list[str]:
    """The devices the in-process workers run on, one worker each: every visible CUDA GPU (`cuda:0`, `cuda:1`,
    ...) when `picked` (what `pick_device` answers) is plain "cuda"; else `picked` alone (a CPU, Apple's mps, or
    a device `VIDEOGEN_DEVICE` names, such as "cuda:1")."""
    if picked == "cuda" and cuda_count > 0:
        return [f"cuda:{i}" for i in range(cuda_count)]
    return [picked]


def visible_devices() -> list[str]:
    """`worker_devices` for this machine."""
    from ..runtime.devices import pick_device

    picked = pick_device()
    count = 0
    if picked == "cuda":
        import torch

        count = torch.cuda.device_count()
    return worker_devices(picked, count)


class Worker:
    """One worker thread over the store, pinned to its device (None: the one `pick_device` gives)."""

    def __init__(
        self,
        store: Store,
        events: Events,
        *,
        device: str | None = None,
        preview_every: int = 1,
        preview_side: int = 96,
        keep: Keep | None = None,
        allow_url_hosts: tuple[str, ...] = (),
    ):
        self.store, self.events, self.keep, self.device = store, events, keep or Keep(), device
        self.preview_every, self.preview_side = preview_every, preview_side
        self.allow_url_hosts = tuple(allow_url_hosts)
        self.wake = threading.Event()
        self._stop = threading.Event()
        name = f"videogen-serve-worker-{device}" if device else "videogen-serve-worker"
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.last_model: str | None = None
        self.loads: dict[str, int] = {}  # model → pipeline loads this worker saw (metadata "cached": False)
        self.running: str | None = None  # the id of the job it runs now
        self.finished = 0  # jobs it ran to an end (completed, failed or cancelled)
        self._started = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.wake.set()
        self._thread.join(timeout)

    def status(self) -> dict[str, Any]:
        """What `GET /v1/status` shows of this worker."""
        return {
            "name": self._thread.name,
            "device": self.device,
            "running": self.running,
            "finished": self.finished,
            "loads": dict(self.loads),
        }

    def _loop(self) -> None:
        if self.device is None:
            self._serve()
            return
        from ..runtime.devices import pin_device

        with pin_device(self.device):  # this thread's generate calls run there
            self._serve()

    def _serve(self) -> None:
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
            self.running = job.id
            try:
                self.run(job)
            except Exception:  # never lose the thread to one job
                self.finished += 1
                logger.exception("job %s: unexpected error in the worker", job.id)
            finally:
                self.running = None

    def preferred(self) -> list[str]:
        """The models to take jobs of first: the one it ran last, then those still loaded (most recent first)."""
        from ..loading.pipelines import CACHE

        keys = [key for key in reversed(CACHE.keys()) if isinstance(key, tuple) and len(key) > 3]
        loaded = [key[0] for key in keys if self.device is None or key[3] == self.device]
        names = [self.last_model, *loaded] if self.last_model else loaded
        return list(dict.fromkeys(str(n) for n in names))

    def run(self, job: Job) -> None:
        """Run one claimed job here to completed, failed or (deleted meanwhile) removed."""
        self.begin(job)
        saved = {"at": 0.0}

        def emit(event: str, data: dict[str, Any]) -> None:
            self.events.publish(job.id, event, **data)
            now = time.perf_counter()
            if event == "step" and now - saved["at"] >= PROGRESS_EVERY_S:  # the database: a few times a second
                saved["at"] = now
                self.store.set_progress(job.id, min(99, round(100 * data["step"] / max(data["total"], 1))))

        outcome = execute(
            spec_of(job),
            self.store.outputs / f"{job.id}.mp4",
            emit=emit,
            stop=lambda: self.store.stopping(job.id),
            preview_every=self.preview_every,
            preview_side=self.preview_side,
            allow_url_hosts=self.allow_url_hosts,
        )
        self.settle(job, outcome)

    def begin(self, job: Job) -> None:
        self.events.publish(job.id, "started", attempt=job.attempts, model=job.model)
        logger.info("job %s: started (%s, attempt %d)", job.id, job.model, job.attempts)
        self.last_model = job.model
        self._started = time.perf_counter()

    def settle(self, job: Job, outcome: dict[str, Any]) -> None:
        """The store and the events after a job's `execute`: completed, failed, or removed when it was deleted."""
        status = outcome["status"]
        self.finished += 1  # before the store says so: whoever sees the job finished sees it counted
        if outcome.get("loaded"):
            self.loads[job.model] = self.loads.get(job.model, 0) + 1
        if status == "completed" and self.store.complete(job.id, outcome["output"], outcome["frames_sha256"]):
            seconds = round(time.perf_counter() - self._started, 3)
            self.events.publish(job.id, "completed", seconds=seconds)
            logger.info("job %s: completed in %.2f s", job.id, seconds)
        elif status == "failed" and not self.store.stopping(job.id):
            self.store.fail(job.id, outcome["error"])
            self.events.publish(job.id, "failed", error=outcome["error"])
            logger.warning("job %s: failed: %s", job.id, outcome["error"]["message"])
        else:  # cancelled at a step, or deleted while it failed or saved
            self.store.drop(job)
            self.events.publish(job.id, "cancelled")
            logger.info("job %s: cancelled", job.id)


def execute(
    spec: dict[str, Any],
    output: Path,
    *,
    emit: Callable[[str, dict[str, Any]], None],
    stop: Callable[[], bool],
    preview_every: int,
    preview_side: int,
    allow_url_hosts: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One job's generation, wherever it runs (this process, or a Ray actor): `generate` with step and preview
    events handed to `emit` (the library's previews, `on_preview`, every `preview_every` steps, at
    `preview_side` pixels), stopped at the library's cancel checkpoints (while loading, after each step, before
    each VAE decode chunk) once `stop()` says so, inputs named by URL downloaded through the server's guard
    (`allow_url_hosts`: serve/urls.py), the video saved to `output` with its sidecar, and a thumbnail
    beside it. Returns the outcome as plain data: status completed (output, frames_sha256, loaded), failed
    (error) or cancelled."""
    from ..generation.flow import generate

    started = time.perf_counter()
    first: dict[str, float] = {}

    def on_step(step: int, total: int) -> None:
        now = time.perf_counter()
        first.setdefault("t", now)
        # the ETA from the steps after the first (the first includes loading and the text encoder)
        eta = round((now - first["t"]) / (step - 1) * (total - step), 3) if step > 1 else None
        emit("step", {"step": step, "total": total, "elapsed_s": round(now - started, 3), "eta_s": eta})
        if pending:  # the step's preview after the step
            emit("preview", pending.pop())

    pending: list[dict[str, Any]] = []

    def on_preview(image: Any, step: int, total: int) -> None:  # comes inside the step, before on_step
        pending[:] = [{"step": step, "image": _data_url(_fitted(image, preview_side))}]

    from ..media.fetch import guarded
    from .urls import HostGuard

    try:  # stopped at the library's checkpoints: loading, steps, VAE decode chunks
        with guarded(HostGuard(allow_url_hosts)):
            result = generate(
                spec,
                on_step=on_step,
                progress=False,
                cancel=_Stop(stop),
                on_preview=on_preview if preview_every else None,
                preview_every=preview_every or None,
            )
    except Cancelled:
        return {"status": "cancelled"}
    except Exception as exc:
        return {"status": "failed", "error": job_error(exc)}
    result.save(output, overwrite=True)
    _thumbnail(result.frames[len(result.frames) // 2], output.with_suffix(".jpg"))
    return {
        "status": "completed",
        "output": str(output),
        "frames_sha256": result.frames_sha256,
        "loaded": not result.metadata["timings"]["cached"],
    }


class _Stop:
    """`stop` as the cancel token `generate` takes (anything with `is_set()`)."""

    def __init__(self, stop: Callable[[], bool]):
        self.is_set = stop


def spec_of(job: Job) -> dict[str, Any]:
    """The job's spec as `generate` takes it: the stored fields and its uploaded inputs' files (which the result's
    metadata hashes, as any input file)."""
    return {**job.spec, **job.uploads}


def _fitted(image: Any, side: int) -> Any:
    """The preview (one pixel per latent pixel) at `side` pixels on its longest side."""
    from PIL import Image

    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR)


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
