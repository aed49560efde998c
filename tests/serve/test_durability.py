"""Restarts: a job interrupted three times fails with a reason (the SIGKILL test of a real server is the first
test of test_api.py, whose server it restarts); the start-up refusal off loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from videogen.cli.command import main


def test_a_job_interrupted_three_times_fails_with_a_reason(tmp_path: Path) -> None:
    from videogen.serve.store import MAX_ATTEMPTS, Store

    store = Store(tmp_path)
    job, _ = store.add({"model": "tiny-wan"}, model="tiny-wan", prompt=None, size=None, seconds=None)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        claimed = store.claim()
        assert claimed is not None and claimed.attempts == attempt
        (store.outputs / f".{job.id}.mp4.deadbeef-1-abc.tmp.mp4").write_bytes(b"partial")
        store.close()
        store = Store(tmp_path)  # a restart
        assert not list(store.outputs.iterdir())  # the partial output removed
    failed = store.get(job.id)
    assert failed is not None and failed.status == "failed" and failed.error
    assert "3 times" in failed.error["message"]


def test_off_loopback_without_a_token_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    assert "--token" in capsys.readouterr().err
