"""The job store without a server: which job runs next, the per-token limit, idempotency keys, retention."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from videogen.serve.store import SCHEMA, QueueFull, Store


def _add(store: Store, model: str, **kw: object) -> str:
    job, _ = store.add({"model": model}, model=model, prompt=None, size=None, seconds=None, **kw)  # type: ignore[arg-type]
    return job.id


def test_claim_prefers_the_loaded_models_but_no_job_starves(tmp_path: Path) -> None:
    store = Store(tmp_path)
    a1, b1, c1, b2 = (_add(store, m) for m in ("a", "b", "c", "b"))
    assert [store.claim(["b", "c"]).id for _ in range(3)] == [b1, b2, c1]  # type: ignore[union-attr]
    assert store.claim(["b"]).id == a1  # type: ignore[union-attr]
    a2, b3 = _add(store, "a"), _add(store, "b")
    assert store.claim(["b"], max_wait_s=-1).id == a2  # type: ignore[union-attr]  # waited too long: first
    assert store.claim(["b"]).id == b3  # type: ignore[union-attr]
    assert store.claim(["b"]) is None


def test_limits_keys_and_retention(tmp_path: Path) -> None:
    store = Store(tmp_path)
    first = _add(store, "a", owner="alice", idempotency_key="k", max_queued=2)
    assert _add(store, "a", owner="alice", idempotency_key="k", max_queued=2) == first  # same key: same job
    assert _add(store, "a", owner="bob", idempotency_key="k", max_queued=2) != first  # keys are per token
    _add(store, "a", owner="alice", max_queued=2)
    with pytest.raises(QueueFull, match="at most 2"):
        _add(store, "a", owner="alice", max_queued=2)
    done = store.claim()
    assert done is not None
    (store.outputs / f"{done.id}.mp4").write_bytes(b"video")
    assert store.complete(done.id, str(store.outputs / f"{done.id}.mp4"), "hash")
    from videogen.serve.app import video_object
    from videogen.serve.retention import Keep

    finished = store.get(done.id)
    assert finished is not None and finished.completed_at is not None
    assert video_object(finished, store, Keep(days=1))["expires_at"] == int(finished.completed_at + 86400)
    assert video_object(finished, store, Keep())["expires_at"] is None
    assert store.expire(time.time() - 3600) == []  # finished just now: kept
    assert store.expire(time.time() + 1) == [done.id]
    assert store.get(done.id) is None and not list(store.outputs.iterdir())


def test_a_job_that_fails_reports_the_field(tmp_path: Path) -> None:
    """A spec the API let through that fails when it runs (here: put in the store directly) ends failed, with
    the SpecError's field and message, and a `failed` event."""
    from videogen.serve.events import Events
    from videogen.serve.worker import Worker

    store, events = Store(tmp_path), Events()
    job, _ = store.add(
        {"model": "tiny-wan", "prompt": "x", "steps": 0}, model="tiny-wan", prompt="x", size=None, seconds=None
    )
    claimed = store.claim()
    assert claimed is not None
    Worker(store, events).run(claimed)
    failed = store.get(job.id)
    assert failed is not None and failed.status == "failed" and failed.error is not None
    assert failed.error["param"] == "steps" and "steps" in failed.error["message"]
    assert [e["event"] for e in events.since(job.id, 0)] == ["started", "failed"]


def test_keep_by_size_removes_the_oldest_finished_first(tmp_path: Path) -> None:
    from videogen.errors import VideoGenError
    from videogen.serve.retention import Keep, parse_keep

    assert parse_keep("7") == parse_keep("7d") == Keep(days=7)
    assert parse_keep("2GB") == Keep(bytes=2_000_000_000) and parse_keep("500MiB") == Keep(bytes=500 * 2**20)
    with pytest.raises(VideoGenError, match="--keep 'soon'"):
        parse_keep("soon")
    store = Store(tmp_path)
    ids = [_add(store, "a") for _ in range(3)]
    for job_id in ids:
        assert store.claim() is not None
        (store.outputs / f"{job_id}.mp4").write_bytes(bytes(1000))
        assert store.complete(job_id, str(store.outputs / f"{job_id}.mp4"), "hash")
        time.sleep(0.01)  # completed in this order
    waiting = _add(store, "a")
    assert Keep(bytes=2500).apply(store) == [ids[0]]  # 3000 bytes → 2000
    assert Keep(bytes=0).apply(store) == ids[1:]
    assert store.get(waiting) is not None and not list(store.outputs.iterdir())  # queued jobs stay


def test_uploads_stay_with_a_requeued_job_and_go_with_it(tmp_path: Path) -> None:
    """A job's upload files (a list for reference_images) outlive a restart that re-queues it, go with the job when
    it is deleted, and a database from before `uploads` reads its one image upload as `image`."""
    import sqlite3

    store = Store(tmp_path)
    files = [store.uploads / name for name in ("v.mp4", "r0.png", "r1.png")]
    for path in files:
        path.write_bytes(b"x")
    uploads = {"video": str(files[0]), "reference_images": [str(files[1]), str(files[2])]}
    job_id = _add(store, "a", uploads=uploads)
    assert store.claim() is not None
    store.close()
    store = Store(tmp_path)  # the process died while it ran
    assert store.recovered == [job_id]
    job = store.get(job_id)
    assert job is not None and job.status == "queued" and job.uploads == uploads and all(p.exists() for p in files)
    store.delete(job_id)
    assert not any(p.exists() for p in files)

    old = tmp_path / "old"
    old.mkdir()
    with sqlite3.connect(old / "jobs.sqlite3") as db:  # the first schema: no `uploads` column
        db.executescript(SCHEMA.replace("    uploads TEXT,\n", ""))
        db.execute(
            "INSERT INTO jobs (id, status, model, spec, upload, created_at) VALUES ('v1', 'queued', 'a', '{}', ?, 0)",
            (str(old / "cat.png"),),
        )
    again = Store(old)
    assert again.get("v1").uploads == {"image": str(old / "cat.png")}  # type: ignore[union-attr]
    added = _add(again, "a", uploads={"image": "x.png"})  # the column was added
    assert again.get(added).uploads == {"image": "x.png"}  # type: ignore[union-attr]
