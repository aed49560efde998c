"""The batch runner on Ray: `generate_many(specs, out_dir, ray=True | "ADDRESS", workers=N)` spreads a batch over
one worker per GPU (or N CPU workers) on this machine or a Ray cluster (docs/scale.md).

Same names, sidecars, resuming and `batch.json` as the in-process runner (`batch.py`: `batch_work` names and skips
in the driver, `run_one` generates and saves on the worker), plus one entry per worker process in the report.

How it uses Ray: each worker is an actor (`num_gpus=1`, or `num_cpus=k` on a CPU-only cluster) with its own
process, hence its own pipeline cache (`pipeline.CACHE`). The driver keeps one spec in flight per worker and waits
with `ray.wait`: when a worker is free it takes the next spec of the model group it is on (affinity: each model
loads once per worker), else the largest group nobody is on, else it joins the group with the most specs waiting
per worker. A worker process that dies (killed, out of host memory, node lost) makes its call raise
`RayActorError`; Ray restarts the actor (`max_restarts=-1`, a fresh process, on another node if its own is gone),
and the driver puts the lost spec back at the head of its group for whichever worker is free first, after removing
the dead process's temporary files (`saving.clean_stale_temps(dead=...)`: temp names carry host and pid). Ray's own
task retries stay off (`max_task_retries=0`) because the driver must know of the death to clean up and to let the
re-run replace what the dead save may have put in place (the video without its sidecar). A spec whose worker dies
`MAX_ATTEMPTS` times is a failed item (it is what kills them), so a poison spec can't loop forever.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections import Counter, deque
from collections.abc import Collection, Generator, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...errors import SaveError, SpecError, VideoGenError
from .files import batch_folder, batch_lock
from .local import BatchItem, BatchJob, BatchWork, batch_work, check_options, record, remove_replaced, start_report
from .ray_session import require_ray, session, worker_options

if TYPE_CHECKING:
    from ...spec.videospec import VideoSpec
    from .files import BatchReport

logger = logging.getLogger("videogen")

#: how often a spec may lose its worker before it counts as failed
MAX_ATTEMPTS = 3
#: how long to wait for a first (or, after deaths, any) worker to start before the remaining specs fail
START_TIMEOUT_S = 600.0
#: a worker whose start fails this many times in a row is given up
MAX_START_FAILURES = 3


def generate_many(
    specs: Iterable[VideoSpec | Mapping[str, Any]],
    out_dir: str | os.PathLike[str],
    *,
    ray: bool | str | None = None,
    workers: int | None = None,
    fmt: str = "mp4",
    overwrite: bool = False,
    resume: bool = True,
    progress: bool = True,
    crf: int | None = None,
) -> Iterator[BatchItem]:
    """`videogen.generate_many` with a choice of runner: `ray=None` (or False) is the in-process runner, unchanged;
    `ray=True` starts a local Ray instance for this batch (one worker per GPU; CPU-only: `workers` workers, 1 by
    default, sharing the CPUs) and stops it after, leaving no process or file behind; `ray="ADDRESS"`
    ("ray://head:10001", "auto", "host:6379") joins a running cluster, whose workers write into `out_dir` on a
    shared filesystem mounted at the same path on every node.

    Yields one `BatchItem` per spec as it finishes, as the in-process runner does; under Ray `item.result` is None
    (the frames stay on the worker: read the file) and `item.worker` names the worker process that made it.
    A worker that dies mid-spec is replaced and the spec re-run: every video is delivered once, whole.
    """
    if ray is None or ray is False:
        if workers is not None:
            raise SpecError(
                f"workers={workers!r}: workers are Ray actors; pass ray=True (CLI: --ray) to use them, or leave "
                "workers out for the in-process runner",
                field="workers",
            )
        from .local import generate_many as in_process

        return in_process(specs, out_dir, fmt=fmt, overwrite=overwrite, resume=resume, progress=progress, crf=crf)
    check_options(fmt, crf)
    _check_choice(ray, workers)
    require_ray(ray)
    return _generate(list(specs), out_dir, ray, workers, fmt, overwrite, resume, progress, crf)


def _check_choice(ray: Any, workers: Any) -> None:
    if not (ray is True or (isinstance(ray, str) and ray.strip())):
        raise SpecError(
            f"ray={ray!r}: True starts a local Ray instance, a string joins a cluster (e.g. 'ray://head:10001' or "
            "'auto'), None runs in-process",
            field="ray",
        )
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SpecError(f"workers={workers!r}: a whole number of workers ≥ 1, e.g. workers=2", field="workers")


# ---- the worker (a plain class here; `ray.remote` makes it an actor in `_Driver`)


class _Worker:
    """One Ray actor: one process, one pipeline cache, one spec at a time."""

    def __init__(self, threads: int | None, cwd: str) -> None:
        if threads:
            os.environ["OMP_NUM_THREADS"] = str(threads)  # before torch is imported here
        self.threads = threads
        if os.path.isdir(cwd):  # relative input paths in specs mean what they meant for the driver
            os.chdir(cwd)

    def hello(self, check: str) -> dict[str, Any]:
        """Who this process is, and whether it sees the batch folder (the driver's marker file `check`)."""
        import socket

        from ...media.atomic import host_tag

        return {"host": socket.gethostname(), "tag": host_tag(), "pid": os.getpid(), "sees": os.path.exists(check)}

    def run(self, index: int, given: Any, out_dir: str, fmt: str, crf: int | None, replace: bool) -> dict[str, Any]:
        """`batch.run_one` here; the item as plain fields, plus this process's pipeline loads so far."""
        import pickle

        from ...loading.pipelines import CACHE
        from .local import run_one

        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        item = run_one(index, given, out_dir, fmt=fmt, crf=crf, progress=False, replace=replace)
        exception = item.exception
        if exception is not None:
            try:
                pickle.loads(pickle.dumps(exception))
            except Exception:  # noqa: BLE001 - an error that doesn't travel: its message does
                exception = None
        return {
            "status": item.status,
            "seconds": item.seconds,
            "error": item.error,
            "exception": exception,
            "spec_hash": item.spec_hash,
            "seed": item.seed,
            "pid": os.getpid(),
            "loads": CACHE.loads,
        }


# ---- the driver


@dataclass
class _Slot:
    """One actor as the driver sees it: its current process (`record`, its entry in the report's `workers`; None
    while it starts), its host tag, the group it is on, the groups it finished, the spec it runs."""

    number: int
    actor: Any
    record: dict[str, Any] | None = None
    tag: str = ""
    group: Hashable | None = None
    left: set[Hashable] = field(default_factory=set)
    job: BatchJob | None = None
    failures: int = 0  # starts failed in a row


def _generate(
    specs: list[Any],
    out_dir: Any,
    address: bool | str,
    workers: int | None,
    fmt: str,
    overwrite: bool,
    resume: bool,
    progress: bool,
    crf: int | None,
) -> Iterator[BatchItem]:
    from tqdm.auto import tqdm

    folder = batch_folder(out_dir)
    with batch_lock(folder):  # one run per folder (the driver holds it; workers write under it)
        work = batch_work(specs, folder, fmt=fmt, resume=resume, overwrite=overwrite, prepare_specs=False)
        for job in work.jobs:
            job.group = group_key(job.spec)
        report, finished = start_report(work)
        bar = tqdm(total=work.count, initial=len(finished), desc="batch", unit="video", disable=not progress)
        dead: set[tuple[str, int]] = set()  # (host tag, pid) of the worker processes gone
        try:
            yield from finished
            if not work.jobs:
                return
            with (
                session(address) as ray,
                contextlib.closing(_Driver(ray, work, report, workers, address is True, crf, dead).run()) as items,
            ):
                for item in items:
                    bar.update(1)
                    yield item
        finally:
            bar.close()
            if dead:  # every worker is gone now: what a save cut short by an interruption left goes too
                from ...media.save import clean_stale_temps

                clean_stale_temps(work.out_dir, dead=dead)


def group_key(spec: VideoSpec) -> tuple[str, str | None, str]:
    """What the Ray runner groups specs by (its affinity): model, revision and memory plan as given, the spec-level
    part of the pipeline cache key (the driver loads nothing, so it can't ask the card or the device)."""
    from ...spec.plain import plain_field

    memory = json.dumps(plain_field("memory", spec.memory), sort_keys=True, default=str)
    return (str(spec.model), spec.revision, memory)


def choose_group(waiting: Mapping[Hashable, int], working: Mapping[Hashable, int], left: Collection[Hashable]) -> Any:
    """The group a free worker moves to (`waiting`: specs waiting per group, in the work's order; `working`: the other
    workers on each group; `left`: groups this worker finished): the largest group nobody is on, else the one with
    the most specs waiting per worker on it (the worker loads its model too, for parallelism); a group it left
    last, since its model may be gone from its cache."""
    order = {group: n for n, group in enumerate(waiting)}

    def rank(g: Hashable) -> tuple:
        on = working.get(g, 0)
        return (on == 0, g not in left, waiting[g] / (on + 1), -order[g])

    return max(waiting, key=rank)


class _Driver:
    """The loop that hands specs to workers and collects them (the module docstring's scheme)."""

    def __init__(
        self,
        ray: Any,
        work: BatchWork,
        report: BatchReport,
        workers: int | None,
        local: bool,
        crf: int | None,
        dead: set[tuple[str, int]],
    ) -> None:
        self.ray, self.work, self.report, self.crf = ray, work, report, crf
        self.queues: dict[Hashable, deque[BatchJob]] = {}
        for job in work.jobs:
            self.queues.setdefault(job.group, deque()).append(job)
        self.attempts: dict[int, int] = {}
        self.dead = dead  # (host tag, pid) of worker processes gone
        self.pending: dict[Any, tuple[_Slot, BatchJob | None]] = {}  # ref → (worker, its spec; None: its hello)
        self.out_dir = str(work.out_dir.resolve())
        count, self.options, threads = worker_options(ray.cluster_resources(), workers, local)
        logger.info("batch: %d Ray worker(s), each %s, for %d specs", count, self.options, len(work.jobs))
        actor = ray.remote(max_restarts=-1, max_task_retries=0, scheduling_strategy="SPREAD", **self.options)
        self.slots = [_Slot(n, actor(_Worker).remote(threads, os.getcwd())) for n in range(count)]
        report.workers = []

    def run(self) -> Generator[BatchItem, None, None]:
        from ...media.atomic import temp_name

        check = temp_name(self.work.out_dir / "ray-check")  # a temp name: removed by the next run if we die
        check.touch()
        self.check = str(check.resolve())
        left = len(self.work.jobs)
        try:
            for slot in self.slots:
                self._hello(slot)
            while left:
                live = any(s.record is not None for s in self.slots)
                wait = None if live else START_TIMEOUT_S
                ready = self.ray.wait(list(self.pending), num_returns=1, timeout=wait)[0] if self.pending else []
                if not ready:
                    yield from self._fail_rest()
                    return
                slot, job = self.pending.pop(ready[0])
                for item in self._settle(ready[0], slot, job):
                    left -= 1
                    yield item
        finally:
            check.unlink(missing_ok=True)
            for slot in self.slots:
                with contextlib.suppress(Exception):
                    self.ray.kill(slot.actor, no_restart=True)
                if slot.record is not None:
                    self.dead.add((slot.tag, slot.record["pid"]))

    def _settle(self, ref: Any, slot: _Slot, job: BatchJob | None) -> Iterator[BatchItem]:
        errors = self.ray.exceptions
        try:
            value = self.ray.get(ref)
        except errors.RayActorError as exc:
            yield from self._died(slot, job, exc)
            return
        except errors.RayError as exc:  # not the process dying: a broken install, a bug; no retry
            if job is None:
                raise VideoGenError(f"ray: the batch's Ray workers could not start: {exc}") from exc
            value = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        if job is None:
            self._started(slot, value)
            return
        slot.job = None
        item = self._item(job, slot, value)
        self._next(slot)  # its next spec is on its way before the caller sees this one
        yield item

    def _started(self, slot: _Slot, hello: dict[str, Any]) -> None:
        if not hello["sees"]:
            raise SaveError(
                f"out_dir: the Ray worker on {hello['host']} doesn't see the batch folder {self.out_dir!r}; on a "
                "cluster, out_dir must be on a filesystem every node mounts at the same path"
            )
        slot.failures, slot.tag, slot.left = 0, hello["tag"], set()
        slot.record = {"worker": slot.number, "host": hello["host"], "pid": hello["pid"], "loads": 0, "specs": []}
        slot.record.update(died=False, lost=None)
        assert self.report.workers is not None
        self.report.workers.append(slot.record)
        self.report.write()
        self._next(slot)

    def _died(self, slot: _Slot, job: BatchJob | None, exc: Exception) -> Iterator[BatchItem]:
        """A worker process gone: its temps removed, its spec back at the head of its group (or failed, the
        `MAX_ATTEMPTS`th time), the actor (restarted by Ray) asked who it is now."""
        from ...media.save import clean_stale_temps

        what = f"pid {slot.record['pid']}" if slot.record else "starting"
        logger.warning("batch: Ray worker %d (%s) died: %s", slot.number, what, str(exc).split("\n")[0])
        if slot.record is not None:
            slot.record.update(died=True, lost=job.index if job is not None else None)
            self.dead.add((slot.tag, slot.record["pid"]))
            clean_stale_temps(self.work.out_dir, dead=self.dead)
            self.report.write()
        slot.record, slot.job, slot.group = None, None, None
        slot.failures = slot.failures + 1 if job is None else 0
        if job is not None:
            tries = self.attempts[job.index] = self.attempts.get(job.index, 0) + 1
            if tries >= MAX_ATTEMPTS:
                why = f"the Ray worker running this spec died {tries} times ({type(exc).__name__}): run it alone to see"
                yield self._item(job, slot, {"status": "failed", "error": why})
            else:
                job.replace = True  # what the dead save may have put at its name is this batch's
                self.queues[job.group].appendleft(job)
                self.report.update(job.index, status="pending")
        if slot.failures < MAX_START_FAILURES:
            self._hello(slot)
        else:
            logger.warning("batch: Ray worker %d failed to start %d times; given up", slot.number, slot.failures)
            self.slots.remove(slot)
        for other in self.slots:  # a free worker takes the lost spec now
            if other.record is not None and other.job is None:
                self._next(other)

    def _hello(self, slot: _Slot) -> None:
        self.pending[slot.actor.hello.remote(self.check)] = (slot, None)

    def _next(self, slot: _Slot) -> None:
        """Hand a free worker its group's next spec, else move it to another group (`choose_group`)."""
        if slot.group is None or not self.queues[slot.group]:
            if slot.group is not None:
                slot.left.add(slot.group)
            waiting = {g: len(q) for g, q in self.queues.items() if q}
            working = Counter(s.group for s in self.slots if s is not slot and s.group is not None)
            slot.group = choose_group(waiting, working, slot.left) if waiting else None
            if slot.group is None:
                return
        job = slot.job = self.queues[slot.group].popleft()
        self.report.update(job.index, status="running")
        self.report.write()
        ref = slot.actor.run.remote(job.index, job.given, self.out_dir, self.work.fmt, self.crf, job.replace)
        self.pending[ref] = (slot, job)

    def _item(self, job: BatchJob, slot: _Slot, value: dict[str, Any]) -> BatchItem:
        status, error = value["status"], value.get("error")
        exception = value.get("exception") or (VideoGenError(error) if status == "failed" else None)
        worker = None
        if slot.record is not None and value.get("pid") == slot.record["pid"]:
            slot.record["loads"] = value["loads"]
            slot.record["specs"].append(job.index)
            worker = {k: slot.record[k] for k in ("worker", "host", "pid", "loads")}
        item = BatchItem(
            job.index,
            job.given,
            status,
            job.path if status == "done" else None,
            value.get("seconds", 0.0),
            error,
            exception,
            spec_hash=value.get("spec_hash") or job.spec_hash,
            seed=value.get("seed"),
            worker=worker,
        )
        if status == "done":
            remove_replaced(job.earlier, job.index)
        record(self.report, item)
        self.report.write()
        return item

    def _fail_rest(self) -> Iterator[BatchItem]:
        """Every spec not finished, failed: no worker is left, or none started in time."""
        if self.slots:
            why = f"no Ray worker started within {START_TIMEOUT_S:.0f} s (each needs {self.options}; the cluster has "
            why += f"{self.ray.cluster_resources()})"
        else:
            why = f"every Ray worker failed to start {MAX_START_FAILURES} times"
        for slot in self.slots:
            if slot.job is not None:
                self.queues[slot.job.group].appendleft(slot.job)
                slot.job = None
        for queue in self.queues.values():
            while queue:
                yield self._item(queue.popleft(), _Slot(-1, None), {"status": "failed", "error": why})
