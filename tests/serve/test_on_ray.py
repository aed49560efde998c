"""`serve --ray`'s protocol between the server's driver thread and a job actor, without starting Ray (a real Ray
instance costs ~10 s here): the actor class runs in this process behind a stand-in for `.remote()` and
`ray.wait`/`ray.get`. A job completes with its events drained in order; a lost actor re-queues its job, and the
third loss fails it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from ray.exceptions import RayActorError  # noqa: E402

from videogen.serve.events import Events  # noqa: E402
from videogen.serve.on_ray import JobActor, RayWorker  # noqa: E402
from videogen.serve.store import Store  # noqa: E402


class _Ref:
    def __init__(self, call: Any):
        self.call = call


class _Method:
    def __init__(self, actor: Any, name: str):
        self.actor, self.name = actor, name

    def remote(self, *args: Any) -> _Ref:
        return _Ref(lambda: self.actor.call(self.name, *args))


class _Actor:
    """`.run.remote(...)` and the others, run here when their result is asked for; `dead` makes them raise as a
    killed actor's do."""

    def __init__(self, dead: bool = False):
        self.inner, self.dead = JobActor(None), dead

    def __getattr__(self, name: str) -> _Method:
        return _Method(self, name)

    def call(self, name: str, *args: Any) -> Any:
        if self.dead:
            raise RayActorError()
        return getattr(self.inner, name)(*args)


def _stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray, "wait", lambda refs, timeout=None: (refs, []))
    monkeypatch.setattr(ray, "get", lambda ref: ref.call() if isinstance(ref, _Ref) else [r.call() for r in ref])


def _job(store: Store) -> str:
    spec = {"model": "tiny-wan", "prompt": "x", "steps": 2, "seed": 3}
    return store.add(spec, model="tiny-wan", prompt="x", size=None, seconds=None)[0].id


def test_a_job_on_an_actor_completes_with_its_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import videogen

    _stand_in(monkeypatch)
    store, events = Store(tmp_path), Events()
    job_id = _job(store)
    job = store.claim()
    assert job is not None
    RayWorker(_Actor(), store, events, number=0).run(job)
    done = store.get(job_id)
    assert done is not None and done.status == "completed", done
    direct = videogen.generate(model="tiny-wan", prompt="x", steps=2, seed=3, progress=False)
    assert done.frames_sha256 == direct.frames_sha256
    kinds = [e["event"] for e in events.since(job_id, 0)]
    assert kinds == ["started", "step", "preview", "step", "preview", "completed"]


def test_a_lost_actor_requeues_its_job_and_the_third_loss_fails_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stand_in(monkeypatch)
    store, events = Store(tmp_path), Events()
    job_id = _job(store)
    worker = RayWorker(_Actor(dead=True), store, events, number=0)
    for attempt in (1, 2, 3):
        job = store.claim()
        assert job is not None and job.attempts == attempt
        (store.outputs / f".{job_id}.mp4.deadbeef-1-abc.tmp.mp4").write_bytes(b"partial")
        worker.run(job)
        assert not list(store.outputs.iterdir())  # the dead save's leftovers removed
    failed = store.get(job_id)
    assert failed is not None and failed.status == "failed" and failed.error is not None
    assert failed.error["code"] == "worker_lost"
    assert [e["event"] for e in events.since(job_id, 0)].count("queued") == 2
