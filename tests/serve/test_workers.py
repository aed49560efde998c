"""One in-process worker per device: the device list (faked GPUs), each worker's thread pinned to its device (what
`pick_device` answers there, torch's current CUDA device), the jobs shared among them each run once. No GPU is
needed: the generation is replaced by a recorder; that real jobs run on each of several GPUs needs a multi-GPU
machine."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from videogen.runtime.devices import pick_device, pin_device  # noqa: E402
from videogen.serve import worker as worker_module  # noqa: E402
from videogen.serve.events import Events  # noqa: E402
from videogen.serve.store import Store  # noqa: E402
from videogen.serve.worker import Worker, worker_devices  # noqa: E402


def test_one_worker_per_visible_gpu_else_one() -> None:
    assert worker_devices("cuda", 3) == ["cuda:0", "cuda:1", "cuda:2"]
    assert worker_devices("cpu", 0) == ["cpu"]
    assert worker_devices("mps", 0) == ["mps"]
    assert worker_devices("cuda:1", 4) == ["cuda:1"]  # VIDEOGEN_DEVICE=cuda:1: that GPU only


def test_the_app_makes_a_worker_per_device(tmp_path: Path) -> None:
    from videogen.serve.app import Settings, create_app
    from videogen.serve.retention import Keep

    keep = Keep(days=3)
    app = create_app(Settings(state=tmp_path, devices=["cuda:0", "cuda:1"], keep=keep))
    workers = app.state.workers
    assert [w.device for w in workers] == ["cuda:0", "cuda:1"]
    assert workers[0].keep is keep and workers[1].keep.days is None  # retention applied by one of them
    assert [w.status()["name"] for w in workers] == ["videogen-serve-worker-cuda:0", "videogen-serve-worker-cuda:1"]
    app.state.store.close()


def test_pin_device_holds_in_its_thread_only() -> None:
    before = pick_device()
    seen: dict[str, str] = {}
    with pin_device("mps"):
        seen["inside"] = pick_device()
        other = threading.Thread(target=lambda: seen.setdefault("other thread", pick_device()))
        other.start()
        other.join()
    assert seen == {"inside": "mps", "other thread": before} and pick_device() == before


def test_each_worker_runs_jobs_on_its_own_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    current: list[int] = []
    monkeypatch.setattr(torch.cuda, "set_device", current.append)  # no GPU here: record what it is told
    ran: list[tuple[str, str, str]] = []
    lock = threading.Lock()

    def recorder(spec: dict[str, Any], output: Path, **_: Any) -> dict[str, Any]:
        time.sleep(0.1)  # long enough for both workers to take jobs
        with lock:
            ran.append((spec["prompt"], pick_device(), threading.current_thread().name))
        return {"status": "failed", "error": {"code": "recorded", "message": "recorded", "param": None}}

    monkeypatch.setattr(worker_module, "execute", recorder)
    store, events = Store(tmp_path), Events()
    jobs = [store.add({"model": "tiny-wan", "prompt": str(i)}, model="tiny-wan", prompt=str(i), size=None,
                      seconds=None)[0] for i in range(6)]  # fmt: skip
    workers = [Worker(store, events, device=d) for d in ("cuda:0", "cuda:1")]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 20
    while len(ran) < len(jobs) and time.monotonic() < deadline:
        time.sleep(0.02)
    for w in workers:
        w.stop()
    store.close()

    assert sorted(p for p, _, _ in ran) == [j.prompt for j in jobs]  # each job ran once
    for _, device, thread in ran:
        assert thread == f"videogen-serve-worker-{device}"  # the job saw its worker's device
    assert {d for _, d, _ in ran} == {"cuda:0", "cuda:1"}  # both workers took jobs
    assert sorted(current) == [0, 1]  # each thread made its GPU torch's current device
    assert sum(w.finished for w in workers) == len(jobs)
