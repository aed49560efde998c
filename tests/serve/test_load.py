"""A bounded load test against a real `videogen serve` (uvicorn subprocess, 127.0.0.1, a free port), driven by the
official `openai` client: 8 client threads submit 48 jobs over 3 tiny models in two rounds. Every job is
accounted for (completed, or refused with a reason), each model loads once in the worker (its model groups and a
pipeline cache bounded by memory, not by the library's default count of 2: `VIDEOGEN_CACHE_SIZE` is unset here on
purpose), and the server's resident memory settles (the second round adds little)."""

from __future__ import annotations

import threading
import urllib.request
import warnings
from pathlib import Path
from typing import Any

import pytest
from conftest import Server, openai

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the client marks videos deprecated
warnings.filterwarnings("ignore", category=DeprecationWarning)

MODELS = {  # the smallest sizes each tiny model takes, one step: the test is about the server, not the models
    "tiny-wan": {"size": "16x16", "num_frames": 5},
    "tiny-cogvideox": {"size": "16x16", "num_frames": 9},
    "tiny-hunyuanvideo": {"size": "16x16", "num_frames": 5},
}
THREADS, JOBS = 8, 48


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _until_finished(server: Server, video_id: str, timeout: float = 60) -> None:
    """Reads the job's Server-Sent Events until its last one (completed, failed or cancelled)."""
    request = urllib.request.Request(
        f"{server.base}/v1/videos/{video_id}/events", headers={"authorization": f"Bearer {server.token}"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as stream:
        for line in stream:
            if line.startswith(b"event: ") and line[7:].strip() in (b"completed", b"failed", b"cancelled"):
                return


def _round(server: Server, first: int, count: int, outcomes: dict[int, Any]) -> None:
    """Jobs first..first+count-1 from THREADS threads, each submitting and waiting for its job in turn."""
    names = list(MODELS)
    lock = threading.Lock()

    def client(n: int) -> None:
        api = server.client()
        for i in range(first + n, first + count, THREADS):
            model = names[i % len(names)]
            try:
                video = api.videos.create(
                    model=model,
                    prompt=f"job {i}",
                    size=MODELS[model]["size"],
                    extra_body={"steps": 1, "seed": i, "num_frames": MODELS[model]["num_frames"]},
                )
            except openai.APIStatusError as exc:  # refused: it must say why
                with lock:
                    outcomes[i] = ("refused", exc.status_code, exc.body)
                continue
            except openai.APIConnectionError as exc:  # not accounted for: the assertion shows it
                with lock:
                    outcomes[i] = ("lost", model, repr(exc.__cause__))
                continue
            _until_finished(server, video.id)  # the events stream, not polling: the clients cost the server little
            video = api.videos.retrieve(video.id)
            with lock:  # a failed job shows its error in the assertion
                outcomes[i] = (video.status, model, video.id) + ((video.error,) if video.status == "failed" else ())

    threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads), "a client thread didn't finish in 120 s"


@pytest.mark.slow
def test_48_jobs_from_8_threads_over_3_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIDEOGEN_CACHE_SIZE", raising=False)  # the server's own bound, not the test's
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    import videogen
    from videogen.testing import tiny_folder

    for name in MODELS:  # built before serving, as a real model is downloaded before
        tiny_folder(videogen.resolve(name).family, str(videogen.resolve(name).tiny))
    server = Server(tmp_path / "state", "--preview-every", "0").start()
    try:
        outcomes: dict[int, Any] = {}
        _round(server, 0, JOBS // 2, outcomes)  # every model loads in this round
        rss_mid = _rss(server.proc.pid)  # type: ignore[union-attr]
        _round(server, JOBS // 2, JOBS // 2, outcomes)
        rss_end = _rss(server.proc.pid)  # type: ignore[union-attr]
        status, report = server.request("GET", "/v1/status")
    finally:
        server.stop()

    assert sorted(outcomes) == list(range(JOBS)), outcomes  # every job accounted for
    assert not [o for o in outcomes.values() if o[0] == "lost"], outcomes
    refused = [o for o in outcomes.values() if o[0] == "refused"]
    for _, code, body in refused:  # none expected below --max-queued; a refusal must carry its reason
        assert code in (429, 503) and body and body.get("message"), (code, body)
    completed = [o for o in outcomes.values() if o[0] == "completed"]
    assert len(completed) + len(refused) == JOBS, [o for o in outcomes.values() if o[0] != "completed"]
    assert len(completed) == JOBS  # nothing refused under the default limits
    assert len({o[2] for o in completed}) == JOBS  # 48 distinct jobs

    assert status == 200
    (worker,) = report["workers"]  # one worker on this CPU machine
    assert worker["device"] == "cpu"
    assert worker["finished"] == JOBS
    assert worker["loads"] == {name: 1 for name in MODELS}  # one load per model per worker
    assert report["cache"]["loads"] == len(MODELS) and report["cache"]["evictions"] == 0
    assert report["cache"]["max_entries"] >= len(MODELS) and report["cache"]["held_bytes"] > 0
    assert report["jobs"] == {"queued": 0, "in_progress": 0, "completed": JOBS, "failed": 0}
    # RSS settles: the second round, every model already loaded, grows the server by little
    assert rss_end - rss_mid < max(64 * 2**20, rss_mid // 10), (rss_mid, rss_end)
    assert abs(report["rss_bytes"] - rss_end) < 64 * 2**20  # what the server reports is its own /proc figure
