"""The Hub without network: offline detected once and fast, HF_HUB_OFFLINE honoured, revisions pinned."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import videogen
from videogen.catalog import hub
from videogen.catalog.hub import split_revision
from videogen.testing import tiny_pipeline


def closed_port() -> int:
    """A loopback port nobody listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_python(code: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout)


def no_network_env(tmp_path: Path) -> dict[str, str]:
    """HF_HUB_OFFLINE unset, the Hub endpoint a refused loopback port, an empty Hub cache."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{closed_port()}", HF_HUB_CACHE=str(tmp_path / "empty-hub"))
    return env


@pytest.mark.parametrize(
    "ref, expected",
    [
        ("org/repo@v1.0", ("org/repo", "v1.0")),
        ("org/repo@refs/pr/46", ("org/repo", "refs/pr/46")),
        ("org/repo@0123abc", ("org/repo", "0123abc")),
        ("org/repo", ("org/repo", None)),
        ("wan2.1-t2v-1.3b@main", ("wan2.1-t2v-1.3b", "main")),
        ("org/repo@", ("org/repo@", None)),
    ],
)
def test_split_revision(ref: str, expected: tuple) -> None:
    assert split_revision(ref) == expected


def test_repo_id_without_network_fails_in_about_a_second_with_one_line(tmp_path: Path) -> None:
    """Without the probe huggingface_hub retries a refused connection for ~25 s (measured: 24.3 s)."""
    code = (
        "import time, videogen\n"
        "start = time.perf_counter()\n"
        "try:\n"
        "    videogen.resolve('someone/not-cached')\n"
        "except videogen.ModelNotFoundError as err:\n"
        "    print(round(time.perf_counter() - start, 3)); print(err.field); print(err)\n"
    )
    out = run_python(code, no_network_env(tmp_path))
    assert out.returncode == 0, out.stderr
    seconds, field, message = out.stdout.split("\n", 2)
    assert float(seconds) < 3.0
    assert field == "model"
    assert "hf download someone/not-cached" in message and "HF_HUB_OFFLINE=1" in message
    assert "no network" in message and message.strip().count("\n") == 0


def test_catalog_model_offline_is_one_line_from_the_cli(tmp_path: Path) -> None:
    """A catalog model not in the Hub cache, HF_HUB_OFFLINE=1: exit 2, one line, no diffusers stack text."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty-hub")}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "videogen.cli.command",
            "generate",
            "-m",
            "wan2.1-t2v-1.3b",
            "-p",
            "a cat",
            "--height",
            "64",
            "--width",
            "64",
            "--num-frames",
            "5",
            "--steps",
            "1",
            "-q",
            "-o",
            str(tmp_path / "x.mp4"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 2, out.stderr
    # torch/torchao may log import-time warnings of their own; videogen's error is one line, the last
    lines = [line for line in out.stderr.strip().splitlines() if line.startswith("videogen")]
    assert len(lines) == 1 and out.stderr.strip().splitlines()[-1] == lines[0], out.stderr
    assert lines[0].startswith("videogen: error:")
    assert "Wan-AI/Wan2.1-T2V-1.3B-Diffusers" in lines[0] and "HF_HUB_OFFLINE=1 is set" in lines[0]
    assert "stacktrace" not in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_locate_offline_takes_about_a_second(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import DiffusionPipeline  # noqa: F401 - imported before the clock starts

    from videogen.families import get_family
    from videogen.loading.pipelines import locate

    for key, value in no_network_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    forget_probe()
    card = videogen.resolve("wan2.1-t2v-1.3b")
    start = time.perf_counter()
    with pytest.raises(videogen.ModelNotFoundError, match="no network") as info:
        locate(card, get_family("wan"))
    assert time.perf_counter() - start < 3.0
    assert info.value.field == "model"
    forget_probe()


def hub_cache_with_two_revisions(root: Path) -> tuple[str, str]:
    """A Hub cache holding someone/my-wan at two commits: `main` and the tag `v1` (a different scheduler shift,
    so the frames differ)."""
    import json

    main_sha, v1_sha = "1" * 40, "2" * 40
    repo = root / "models--someone--my-wan"
    for sha in (main_sha, v1_sha):
        shutil.copytree(tiny_pipeline("wan", "t2v"), repo / "snapshots" / sha)
    config = repo / "snapshots" / v1_sha / "scheduler" / "scheduler_config.json"
    data = json.loads(config.read_text())
    data["flow_shift"] = 7.0
    config.write_text(json.dumps(data))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(main_sha)
    (repo / "refs" / "v1").write_text(v1_sha)
    return main_sha, v1_sha


def test_revision_is_pinned_recorded_and_changes_the_weights_used(tmp_path: Path) -> None:
    main_sha, v1_sha = hub_cache_with_two_revisions(tmp_path / "hub")
    code = (
        "import hashlib, videogen\n"
        "kw = dict(prompt='a', height=32, width=32, num_frames=5, steps=2, seed=3, progress=False)\n"
        "runs = [('someone/my-wan', None), ('someone/my-wan@v1', None), ('someone/my-wan', 'v1'),"
        f" ('someone/my-wan', '{main_sha}')]\n"
        "for model, rev in runs:\n"
        "    r = videogen.generate(model=model, revision=rev, **kw)\n"
        "    digest = hashlib.sha1(r.frames.tobytes()).hexdigest()\n"
        "    print(r.spec.revision, r.metadata['model']['revision'], digest)\n"
    )
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    out = run_python(code, env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [line.split() for line in out.stdout.strip().splitlines()]
    (r_main, c_main, f_main), (r_at, c_at, f_at), (r_kw, c_kw, f_kw), (r_sha, c_sha, f_sha) = rows
    assert (r_main, c_main) == ("None", main_sha)
    assert (r_at, c_at) == ("v1", v1_sha) and (r_kw, c_kw) == ("v1", v1_sha)
    assert (r_sha, c_sha) == (main_sha, main_sha)
    assert f_at == f_kw != f_main == f_sha


def test_revision_refused_where_there_is_nothing_to_pin(tmp_path: Path) -> None:
    for ref, revision in [("tiny-wan", "main"), ("tiny-wan@main", None), (str(tiny_pipeline("wan", "t2v")), "v1")]:
        with pytest.raises(videogen.SpecError, match="no Hub revision to pin") as info:
            videogen.resolve(ref, revision)
        assert info.value.field == "revision"
    with pytest.raises(videogen.SpecError, match="differs") as info:
        videogen.resolve("wan2.1-t2v-1.3b@v1", "v2")
    assert info.value.field == "revision"
    for bad in (42, "", "two words"):
        with pytest.raises(videogen.SpecError) as info:
            videogen.resolve("wan2.1-t2v-1.3b", bad)
        assert info.value.field == "revision"


def test_cli_revision_flag_reaches_the_spec(tmp_path: Path) -> None:
    from videogen.cli.command import build_parser, spec_fields

    args = build_parser().parse_args(["generate", "-m", "org/repo", "-p", "x", "--revision", "v2"])
    assert spec_fields(args)["revision"] == "v2"


class ConnectProxy:
    """A tiny HTTP proxy on 127.0.0.1: records each request line and answers `status` (no tunnel behind it)."""

    def __init__(self, status: str = "200 Connection established") -> None:
        import threading

        self.status = status
        self.lines: list[str] = []
        self.headers: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        deadline = time.monotonic() + 60  # bounded: the test is over long before
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                data = b""
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                head = data.decode("latin-1").split("\r\n")
                self.lines.append(head[0])
                self.headers.extend(line for line in head[1:] if line)
                conn.sendall(f"HTTP/1.1 {self.status}\r\n\r\n".encode())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch):
    """No proxy variables from the outside; the probe forgotten before and after."""

    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    forget_probe()
    yield monkeypatch
    forget_probe()


def test_probe_goes_through_https_proxy_with_connect(proxy_env: pytest.MonkeyPatch) -> None:
    """Behind a proxy the endpoint's host is not resolvable directly; the Hub client would use the proxy."""
    from videogen.catalog.hub import unreachable_reason

    proxy = ConnectProxy()
    try:
        proxy_env.setenv("HF_ENDPOINT", "https://hub.example.invalid")
        proxy_env.setenv("https_proxy", f"http://user:p%40ss@127.0.0.1:{proxy.port}")
        assert unreachable_reason() is None
        assert proxy.lines == ["CONNECT hub.example.invalid:443 HTTP/1.1"]
        assert "Proxy-Authorization: Basic dXNlcjpwQHNz" in proxy.headers  # user:p@ss
        assert unreachable_reason() is None and len(proxy.lines) == 1  # the answer is reused
    finally:
        proxy.close()


def test_probe_reports_a_proxy_that_refuses(proxy_env: pytest.MonkeyPatch) -> None:
    from videogen.catalog.hub import unreachable_reason

    proxy = ConnectProxy("403 Forbidden")
    try:
        proxy_env.setenv("HF_ENDPOINT", "https://hub.example.invalid:8443")
        proxy_env.setenv("HTTPS_PROXY", f"127.0.0.1:{proxy.port}")  # no scheme: http, as httpx reads it
        reason = unreachable_reason()
        assert proxy.lines == ["CONNECT hub.example.invalid:8443 HTTP/1.1"]
        assert reason is not None and reason.startswith("no network: the proxy")
        assert "403 Forbidden" in reason and f"127.0.0.1:{proxy.port}" in reason
    finally:
        proxy.close()


def test_probe_reports_an_unreachable_proxy_quickly(proxy_env: pytest.MonkeyPatch) -> None:
    from videogen.catalog.hub import unreachable_reason

    proxy_env.setenv("HF_ENDPOINT", "https://hub.example.invalid")
    proxy_env.setenv("HTTPS_PROXY", f"http://u:secret@127.0.0.1:{closed_port()}")
    start = time.perf_counter()
    reason = unreachable_reason()
    assert time.perf_counter() - start < 3.0
    assert reason is not None and "through the proxy http://127.0.0.1:" in reason and "secret" not in reason


def test_probe_http_endpoint_through_http_proxy(proxy_env: pytest.MonkeyPatch) -> None:
    from videogen.catalog.hub import unreachable_reason

    proxy = ConnectProxy("200 OK")
    try:
        proxy_env.setenv("HF_ENDPOINT", "http://mirror.example.invalid:8080/")
        proxy_env.setenv("ALL_PROXY", f"http://127.0.0.1:{proxy.port}")
        assert unreachable_reason() is None
        assert proxy.lines == ["HEAD http://mirror.example.invalid:8080/ HTTP/1.1"]
    finally:
        proxy.close()


def test_no_proxy_host_is_probed_directly(proxy_env: pytest.MonkeyPatch) -> None:
    from videogen.catalog.hub import proxy_for, unreachable_reason

    proxy = ConnectProxy()
    try:
        port = closed_port()
        proxy_env.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
        proxy_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        proxy_env.setenv("NO_PROXY", "localhost,127.0.0.1")
        assert proxy_for(f"http://127.0.0.1:{port}") is None
        reason = unreachable_reason()
        assert reason is not None and f"connecting to 127.0.0.1:{port} failed" in reason
        assert proxy.lines == []
        proxy_env.setenv("NO_PROXY", "*")
        assert proxy_for("https://huggingface.co") is None
        proxy_env.setenv("NO_PROXY", "example.org")
        assert proxy_for("http://huggingface.co") == f"http://127.0.0.1:{proxy.port}"
    finally:
        proxy.close()


def forget_probe() -> None:
    """Probe again on the next call (as after the network came back)."""
    with hub._probe_lock:
        hub._probe.clear()
