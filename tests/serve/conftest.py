"""A real `videogen serve` in a subprocess (uvicorn on 127.0.0.1, a free port) and the official `openai` client."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
openai = pytest.importorskip("openai")

TOKEN = "test-token-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`videogen serve` as a child process; `start`, `kill` (SIGKILL) and start again on the same state."""

    def __init__(self, state: Path, *args: str, token: str | None = TOKEN):
        self.state, self.args, self.token = state, args, token
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log = state.parent / f"{state.name}.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Server:
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "videogen",
            "-v",
            "serve",
            "--port",
            str(self.port),
            "--state",
            str(self.state),
        ]
        command += [*self.args, *(["--token", self.token] if self.token else [])]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(command, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                self.request("GET", "/v1/models")
                return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"the server didn't answer in {timeout} s:\n{self.log.read_text()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self, api_key: str | None = None) -> Any:
        return openai.OpenAI(base_url=f"{self.base}/v1", api_key=api_key or self.token or "none", max_retries=0)

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, token: bool = True
    ) -> tuple[int, Any]:
        """Plain HTTP (as curl would): (status, parsed JSON or bytes)."""
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"content-type": "application/json", **(headers or {})}
        if token and self.token:
            all_headers["authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, data=data, headers=all_headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                status, raw, kind = response.status, response.read(), response.headers.get("content-type", "")
        except urllib.error.HTTPError as exc:
            status, raw, kind = exc.code, exc.read(), exc.headers.get("content-type", "")
        return status, json.loads(raw) if kind.startswith("application/json") else raw

    def wait(self, video_id: str, until: Any, timeout: float = 60) -> dict[str, Any]:
        """Poll GET /v1/videos/{id} until `until(video)` holds (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, video = self.request("GET", f"/v1/videos/{video_id}")
            if status == 200 and until(video):
                return video
            time.sleep(0.05)
        raise AssertionError(f"{video_id}: condition not met in {timeout} s: {video}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import videogen
    from videogen.testing import tiny_folder

    mine = tiny_folder("wan", str(videogen.resolve("tiny-wan").tiny))  # a local pipeline folder, offered as "mine"
    srv = Server(
        tmp_path_factory.mktemp("serve") / "state",
        "--max-upload-bytes",
        "100000",
        "--model",
        f"mine={mine}",
        "--allow-url-host",
        "localhost",  # allowed, yet it resolves to loopback: URLs on it are still refused
    ).start()
    yield srv
    srv.stop()
