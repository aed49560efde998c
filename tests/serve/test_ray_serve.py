"""`videogen serve --ray` for real: a local Ray instance, one job of a tiny model through a Ray actor, the video
and the worker's status (test_on_ray.py covers the protocol's failure paths without Ray). Skipped when Ray isn't
installed or a local instance doesn't start here. Costs ~40-60 s on the shared 2-core machine: Ray's start
(~14 s) and the actor's first torch/diffusers import and load."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from conftest import Server

pytest.importorskip("ray")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
warnings.filterwarnings("ignore", category=DeprecationWarning)
START_S = 90  # a local Ray instance and its actor: ~10-20 s on this 2-core machine


@pytest.mark.slow
@pytest.mark.exclusive("ray")  # a Ray instance of its own: never beside another Ray test (they count Ray's processes)
def test_one_job_through_a_ray_actor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import videogen
    from videogen.media.read import read_video
    from videogen.testing import tiny_folder

    tiny_folder("wan", str(videogen.resolve("tiny-wan").tiny))  # built before serving
    monkeypatch.setenv("RAY_ADDRESS", "")  # a local instance, never a cluster found in the environment
    server = Server(tmp_path / "state", "--ray", "--preview-every", "0")
    try:
        try:
            server.start(timeout=START_S)
        except AssertionError:
            log = server.log.read_text()
            ray_failed = "/ray/_private/" in log or "raylet" in log.lower()  # raised inside Ray's start
            slow = server.proc is not None and server.proc.poll() is None and "Ray worker(s) ready" not in log
            if ray_failed or slow:
                pytest.skip(f"a local Ray instance didn't start here in {START_S} s: {log[-300:]}")
            raise
        client = server.client()
        video = client.videos.create_and_poll(
            model="tiny-wan",
            prompt="a ferret",
            size="16x16",
            poll_interval_ms=100,
            extra_body={"steps": 1, "seed": 5, "num_frames": 5},
            timeout=120,
        )
        assert video.status == "completed", video
        (tmp_path / "out.mp4").write_bytes(client.videos.download_content(video.id).read())
        frames, _ = read_video(tmp_path / "out.mp4")
        assert frames.shape == (5, 16, 16, 3)  # the actor's video, as asked (test_api compares frames in-process)
        assert (server.state / "outputs" / f"{video.id}.mp4.json").exists()  # with its sidecar: replayable
        status, report = server.request("GET", "/v1/status")
        assert status == 200
        (worker,) = report["workers"]  # one actor on this CPU-only Ray instance
        assert worker["name"].startswith("videogen-serve-ray-") and worker["finished"] == 1
        assert worker["loads"] == {"tiny-wan": 1}
    finally:
        server.stop()
