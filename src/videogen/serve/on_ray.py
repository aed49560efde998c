"""`videogen serve --ray [ADDRESS]`: jobs run on Ray actors, the queue stays in the server's SQLite.

One actor per GPU of the cluster (or one on a CPU-only one; Ray instance and resources as `videogen batch --ray`
takes them: `batch.ray_session`), each its own process with its own pipeline cache. For each actor the server
keeps a driver thread (a `RayWorker`): it claims the next job, the model that actor ran last first (affinity: one
load per model per actor), runs `worker.execute` there, and drains the actor's step and preview events a few
times a second into the events log. A deleted job is stopped at its next step through the actor (which runs two
calls at once for that). An actor process that dies (killed, out of memory, node lost) is restarted by Ray; its
job is queued again with the attempt counted (failed after 3), its partial files removed. Outputs go to the
state folder, which every node must see (a shared filesystem) on a cluster.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any

from .events import Events
from .retention import Keep
from .store import MAX_ATTEMPTS, Job, Store
from .worker import Worker, spec_of

logger = logging.getLogger("videogen")
POLL_S = 0.1


class JobActor:
    """One Ray actor (a plain class here; `start_workers` makes it remote): runs one job at a time and answers
    `events` and `cancel` meanwhile."""

    def __init__(self, threads: int | None, cache_entries: int | None = None) -> None:
        if threads:
            os.environ["OMP_NUM_THREADS"] = str(threads)
        if cache_entries is not None:  # the server's count bound for this process's pipeline cache
            from ..loading.pipelines import CACHE

            CACHE.max_entries = cache_entries
        self.threads = threads
        self.pending: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self.stopping: set[str] = set()

    def run(
        self,
        job_id: str,
        spec: dict[str, Any],
        output: str,
        preview_every: int,
        preview_side: int,
        allow_url_hosts: tuple[str, ...] = (),
    ) -> dict:
        from .worker import execute

        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        self.pending[job_id] = []
        try:
            return execute(
                spec,
                Path(output),
                emit=lambda event, data: self.pending[job_id].append((event, data)),
                stop=lambda: job_id in self.stopping,
                preview_every=preview_every,
                preview_side=preview_side,
                allow_url_hosts=allow_url_hosts,
            )
        finally:
            self.stopping.discard(job_id)

    def events(self, job_id: str) -> list[tuple[str, dict[str, Any]]]:
        """The job's events since the last call."""
        items, self.pending[job_id] = self.pending.get(job_id, []), []
        return items

    def cancel(self, job_id: str) -> None:
        self.stopping.add(job_id)

    def pid(self) -> int:
        return os.getpid()


class RayWorker(Worker):
    """The server's side of one actor: claims jobs for it and follows them."""

    def __init__(self, actor: Any, store: Store, events: Events, *, number: int, **options: Any):
        super().__init__(store, events, **options)
        self.actor, self.number = actor, number
        self._thread.name = f"videogen-serve-ray-{number}"

    def preferred(self) -> list[str]:
        return [self.last_model] if self.last_model else []

    def run(self, job: Job) -> None:
        import ray
        from ray.exceptions import RayActorError

        self.begin(job)
        output = str(self.store.outputs / f"{job.id}.mp4")
        ref = self.actor.run.remote(
            job.id, spec_of(job), output, self.preview_every, self.preview_side, self.allow_url_hosts
        )
        cancelled = False
        while True:
            done, _ = ray.wait([ref], timeout=POLL_S)
            try:
                self._drain(job)
                if not cancelled and self.store.stopping(job.id):
                    cancelled = True
                    self.actor.cancel.remote(job.id)
                if done:
                    outcome = ray.get(ref)
                    self._drain(job)
                    break
            except RayActorError as exc:
                self._lost(job, exc)
                return
        self.settle(job, outcome)

    def _drain(self, job: Job) -> None:
        import ray

        for event, data in ray.get(self.actor.events.remote(job.id)):
            self.events.publish(job.id, event, **data)
            if event == "step":
                self.store.set_progress(job.id, min(99, round(100 * data["step"] / max(data["total"], 1))))

    def _lost(self, job: Job, exc: Exception) -> None:
        """The actor's process died with the job: queued again (Ray restarts the actor), failed after 3."""
        self.store.remove_files(job, keep_upload=True)
        if self.store.stopping(job.id) or job.attempts >= MAX_ATTEMPTS:
            self.finished += 1  # it ends here (cancelled or failed); a re-queued one runs again
        if self.store.stopping(job.id):
            self.store.drop(job)
            self.events.publish(job.id, "cancelled")
        elif job.attempts >= MAX_ATTEMPTS:
            error = {"code": "worker_lost", "param": None, "message": f"its worker died {job.attempts} times"}
            self.store.fail(job.id, error)
            self.events.publish(job.id, "failed", error=error)
        else:
            self.store.requeue(job.id)
            self.events.publish(job.id, "queued", position=0, reason="its worker died; queued again")
        logger.warning("job %s: Ray worker %d died (%s)", job.id, self.number, type(exc).__name__)
        self.last_model = None


def start_workers(
    address: bool | str,
    stack: contextlib.ExitStack,
    store: Store,
    events: Events,
    *,
    keep: Keep,
    cache_entries: int | None = None,
    **options: Any,
) -> list[RayWorker]:
    """The Ray session (kept open on `stack`), one actor per GPU (or one on CPUs) and a driver thread for each."""
    import ray

    from ..generation.batch.ray_session import require_ray, session, worker_options

    require_ray(address)
    stack.enter_context(session(address))
    count, resources, threads = worker_options(ray.cluster_resources(), None, local=address is True)
    remote = ray.remote(max_restarts=-1, max_task_retries=0, max_concurrency=2, **resources)(JobActor)
    workers = []
    for number in range(count):
        actor = remote.remote(threads, cache_entries)
        # the first worker also applies retention; the others share the store
        kept = keep if number == 0 else Keep()
        workers.append(RayWorker(actor, store, events, number=number, keep=kept, **options))
    started = time.perf_counter()
    ray.get([w.actor.pid.remote() for w in workers])
    logger.warning(
        "videogen serve: %d Ray worker(s) ready in %.1f s (%s)", count, time.perf_counter() - started, resources
    )
    return workers
