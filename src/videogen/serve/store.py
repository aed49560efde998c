"""The job queue: one SQLite database (stdlib `sqlite3`, WAL) in the state folder, safe across threads.

A job is a row: its id, status (queued → in_progress → completed | failed), the spec as plain data, its uploaded
inputs' files (`uploads`: spec field → file, a list of files for an `images` input), attempts, timestamps,
progress, output file, error, idempotency key and owner. Opening the store
recovers from a process that died: a job it finds in progress is queued again (its attempt counted; failed
after `MAX_ATTEMPTS`), a job deleted while it ran is dropped, and the partial files of both are removed. A job's
uploads stay until the job itself is removed (deleted, dropped, expired), so a re-queued job runs on them again.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("videogen")

MAX_ATTEMPTS = 3
#: a queued job older than this runs next, whatever model is loaded
MAX_WAIT_S = 120.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    status TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt TEXT,
    size TEXT,
    seconds TEXT,
    spec TEXT NOT NULL,
    upload TEXT,
    uploads TEXT,
    remixed_from TEXT,
    progress INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    output TEXT,
    frames_sha256 TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    completed_at REAL,
    idempotency_key TEXT,
    owner TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idem ON jobs(owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, seq);
"""
#: columns added since the first schema, added to an older database when it is opened
ADDED_COLUMNS = {"uploads": "TEXT"}


@dataclass(frozen=True)
class Job:
    """One row of the queue."""

    seq: int
    id: str
    status: str
    model: str
    prompt: str | None
    size: str | None
    seconds: str | None
    spec: dict[str, Any]
    #: the uploaded inputs: spec field → the stored file (a list of them for an `images` input)
    uploads: dict[str, Any]
    remixed_from: str | None
    progress: int
    attempts: int
    cancel: bool
    error: dict[str, Any] | None
    output: str | None
    frames_sha256: str | None
    created_at: float
    started_at: float | None
    completed_at: float | None
    idempotency_key: str | None
    owner: str


def _job(row: sqlite3.Row) -> Job:
    values = dict(row)
    values["spec"] = json.loads(values["spec"])
    image = values.pop("upload")  # the one upload, the image, of databases from before `uploads`
    values["uploads"] = json.loads(values["uploads"]) if values["uploads"] else ({"image": image} if image else {})
    values["error"] = json.loads(values["error"]) if values["error"] else None
    values["cancel"] = bool(values["cancel"])
    return Job(**values)


class Store:
    """The queue in `<state>/jobs.sqlite3`; outputs in `<state>/outputs`, uploads in `<state>/uploads`."""

    def __init__(self, state: str | Path):
        self.state = Path(state)
        self.outputs = self.state / "outputs"
        self.uploads = self.state / "uploads"
        for folder in (self.state, self.outputs, self.uploads):
            folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._stopping: set[str] = set()  # running jobs deleted in this process: the worker reads it every step
        self._db = sqlite3.connect(self.state / "jobs.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives the process being killed (not a power cut); no fsync per step
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        have = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        for name, kind in ADDED_COLUMNS.items():
            if name not in have:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
        self.recovered = self._recover()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- recovery -------------------------------------------------------------------------------------------
    def _recover(self) -> list[str]:
        """Jobs a dead process left in progress: re-queued (or failed after MAX_ATTEMPTS); deleted ones dropped."""
        touched = []
        with self._tx() as db:
            for row in db.execute("SELECT * FROM jobs WHERE status = 'in_progress'").fetchall():
                job = _job(row)
                touched.append(job.id)
                self.remove_files(job, keep_upload=not job.cancel)
                if job.cancel:
                    db.execute("DELETE FROM jobs WHERE id = ?", (job.id,))
                elif job.attempts >= MAX_ATTEMPTS:
                    error = {
                        "code": "interrupted",
                        "message": f"the server stopped while this job ran, {job.attempts} times; not retried",
                    }
                    db.execute(
                        "UPDATE jobs SET status='failed', error=?, completed_at=?, output=NULL WHERE id=?",
                        (json.dumps(error), time.time(), job.id),
                    )
                else:
                    db.execute(
                        "UPDATE jobs SET status='queued', progress=0, started_at=NULL, output=NULL WHERE id=?",
                        (job.id,),
                    )
        if touched:
            logger.warning("recovered %d job(s) interrupted by a restart: %s", len(touched), ", ".join(touched))
        return touched

    def remove_files(self, job: Job, *, keep_upload: bool = False) -> None:
        """The job's output, its sidecar, thumbnail and leftovers of an interrupted save (and its uploads)."""
        from ..media.save import clean_stale_temps

        for path in self.outputs.glob(f"{job.id}.*"):
            path.unlink(missing_ok=True)
        for path in self.outputs.glob(f".{job.id}.*"):  # temp names: .<name>.<host>-<pid>-<id>.tmp<suffix>
            path.unlink(missing_ok=True)
        clean_stale_temps(self.outputs)
        if not keep_upload:
            remove_uploads(job.uploads)

    def copy_uploads(self, uploads: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of a job's upload files under new names (a remix's own), the mapping's shape kept; files gone
        already are left out."""
        copied: dict[str, Any] = {}
        try:
            for name, value in uploads.items():
                paths = [Path(p) for p in (value if isinstance(value, list) else [value])]
                if not all(p.exists() for p in paths):
                    continue
                copies = [self.uploads / f"{uuid.uuid4().hex}{p.suffix}" for p in paths]
                for source, target in zip(paths, copies, strict=True):
                    shutil.copyfile(source, target)
                copied[name] = [str(c) for c in copies] if isinstance(value, list) else str(copies[0])
        except BaseException:
            remove_uploads(copied)
            raise
        return copied

    # -- submit and read ------------------------------------------------------------------------------------
    def add(
        self,
        spec: dict[str, Any],
        *,
        model: str,
        prompt: str | None,
        size: str | None,
        seconds: str | None,
        uploads: Mapping[str, Any] | None = None,
        remixed_from: str | None = None,
        idempotency_key: str | None = None,
        owner: str = "",
        max_queued: int | None = None,
    ) -> tuple[Job, bool]:
        """A new queued job, or (with an idempotency key seen before from this owner) that job; the bool says
        whether it is new. Raises QueueFull when the owner has `max_queued` jobs waiting."""
        with self._tx() as db:
            if idempotency_key is not None:
                row = db.execute(
                    "SELECT * FROM jobs WHERE owner = ? AND idempotency_key = ?", (owner, idempotency_key)
                ).fetchone()
                if row is not None:
                    return _job(row), False
            if max_queued is not None:
                (waiting,) = db.execute(
                    "SELECT COUNT(*) FROM jobs WHERE owner = ? AND status IN ('queued', 'in_progress')", (owner,)
                ).fetchone()
                if waiting >= max_queued:
                    raise QueueFull(max_queued)
            job_id = "video_" + secrets.token_hex(12)
            db.execute(
                "INSERT INTO jobs (id, status, model, prompt, size, seconds, spec, uploads, remixed_from, created_at,"
                " idempotency_key, owner) VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    model,
                    prompt,
                    size,
                    seconds,
                    json.dumps(spec),
                    json.dumps(dict(uploads)) if uploads else None,
                    remixed_from,
                    time.time(),
                    idempotency_key,
                    owner,
                ),
            )
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row), True

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _job(row)

    def page(self, *, after: str | None, limit: int, newest_first: bool) -> tuple[list[Job], bool]:
        """Jobs in submission order (or newest first) after the job `after`; the bool says whether more follow."""
        order, compare = ("DESC", "<") if newest_first else ("ASC", ">")
        with self._lock:
            cursor = self._db.execute("SELECT seq FROM jobs WHERE id = ?", (after,)).fetchone() if after else None
            if after and cursor is None:
                return [], False
            where = f"WHERE seq {compare} {int(cursor['seq'])}" if cursor else ""
            rows = self._db.execute(f"SELECT * FROM jobs {where} ORDER BY seq {order} LIMIT ?", (limit + 1,)).fetchall()
        return [_job(r) for r in rows[:limit]], len(rows) > limit

    def counts(self) -> dict[str, int]:
        """How many jobs are in each status."""
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        return {status: 0 for status in ("queued", "in_progress", "completed", "failed")} | {
            str(r[0]): int(r[1]) for r in rows
        }

    def position(self, job: Job) -> int:
        """How many queued jobs are ahead of `job`."""
        with self._lock:
            (ahead,) = self._db.execute(
                "SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND seq < ?", (job.seq,)
            ).fetchone()
        return int(ahead)

    # -- the worker's side ----------------------------------------------------------------------------------
    def claim(self, prefer: Sequence[str] = (), *, max_wait_s: float = MAX_WAIT_S) -> Job | None:
        """The next queued job, marked in progress: those that waited over `max_wait_s` first, oldest first (no job
        starves), then the models in `prefer` in that order (the one running, the ones loaded: fewer loads), then
        the oldest."""
        rank = " ".join(f"WHEN ? THEN {i}" for i in range(len(prefer)))
        order = f"CASE model {rank} ELSE {len(prefer)} END, " if prefer else ""
        with self._tx() as db:
            row = db.execute(
                "SELECT * FROM jobs WHERE status = 'queued' AND cancel = 0 "
                f"ORDER BY created_at < ? DESC, CASE WHEN created_at < ? THEN seq ELSE 0 END, {order}seq LIMIT 1",
                (time.time() - max_wait_s, time.time() - max_wait_s, *prefer),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET status='in_progress', attempts=attempts+1, started_at=?, progress=0 WHERE id=?",
                (time.time(), row["id"]),
            )
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone()
        return _job(row)

    def requeue(self, job_id: str) -> None:
        """A claimed job back in the queue (its worker was lost; the attempt stays counted)."""
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET status='queued', progress=0, started_at=NULL, output=NULL WHERE id=?", (job_id,)
            )

    def set_progress(self, job_id: str, progress: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE jobs SET progress = ? WHERE id = ?", (progress, job_id))

    def stopping(self, job_id: str) -> bool:
        """Whether a running job was deleted (in memory: cheap enough for every step)."""
        return job_id in self._stopping

    def complete(self, job_id: str, output: str, frames_sha256: str) -> bool:
        """Marks the job completed; False (and nothing changed) when it was deleted meanwhile."""
        with self._tx() as db:
            done = db.execute(
                "UPDATE jobs SET status='completed', progress=100, output=?, frames_sha256=?, completed_at=? "
                "WHERE id=? AND cancel=0",
                (output, frames_sha256, time.time(), job_id),
            ).rowcount
        return bool(done)

    def fail(self, job_id: str, error: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET status='failed', error=?, completed_at=? WHERE id=?",
                (json.dumps(error), time.time(), job_id),
            )

    # -- delete ---------------------------------------------------------------------------------------------
    def delete(self, job_id: str) -> Job | None:
        """Removes a job that isn't running (and its files); a running one is marked to stop at its next step
        (the worker removes it then). Returns the job as it was, None if there is none."""
        with self._tx() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            job = _job(row)
            if job.status == "in_progress":
                db.execute("UPDATE jobs SET cancel = 1 WHERE id = ?", (job_id,))
                self._stopping.add(job_id)
            else:
                db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        if job.status != "in_progress":
            self.remove_files(job)
        return job

    def drop(self, job: Job) -> None:
        """Removes a cancelled job's row and files (the worker, once it stopped)."""
        with self._tx() as db:
            db.execute("DELETE FROM jobs WHERE id = ?", (job.id,))
        self._stopping.discard(job.id)
        self.remove_files(job)

    def expire(self, older_than: float) -> list[str]:
        """Removes completed or failed jobs finished before the unix time `older_than`; returns their ids."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT * FROM jobs WHERE status IN ('completed', 'failed') AND completed_at < ?", (older_than,)
            ).fetchall()
            db.executemany("DELETE FROM jobs WHERE id = ?", [(r["id"],) for r in rows])
        for row in rows:
            self.remove_files(_job(row))
        return [r["id"] for r in rows]

    def trim(self, max_bytes: int) -> list[str]:
        """Removes finished jobs, the oldest first, while the outputs take more than `max_bytes`."""
        sizes: dict[str, int] = {}
        for path in self.outputs.iterdir():
            job_id = path.name.lstrip(".").split(".")[0]
            sizes[job_id] = sizes.get(job_id, 0) + path.stat().st_size
        total = sum(sizes.values())
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE status IN ('completed', 'failed') ORDER BY completed_at"
            ).fetchall()
        removed = []
        for row in rows:
            if total <= max_bytes:
                break
            job = _job(row)
            with self._tx() as db:
                db.execute("DELETE FROM jobs WHERE id = ?", (job.id,))
            self.remove_files(job)
            total -= sizes.get(job.id, 0)
            removed.append(job.id)
        return removed


def remove_uploads(uploads: Mapping[str, Any]) -> None:
    """Removes the files of an `uploads` mapping (field → file, or a list of files)."""
    for value in uploads.values():
        for path in value if isinstance(value, list) else [value]:
            Path(path).unlink(missing_ok=True)


class QueueFull(Exception):
    """An owner has as many jobs waiting as the server allows."""

    def __init__(self, limit: int):
        super().__init__(f"at most {limit} jobs may wait per token; wait for some to finish")
        self.limit = limit
