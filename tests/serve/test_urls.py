"""`videogen serve --allow-url-host`: which URLs a request may name, without the internet. The host list, https
only, every resolved address public, and the address each connection reaches checked again (a local HTTP server
stands for a host that resolves to the server's own network), redirects included."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from videogen.errors import SpecError, VideoGenError
from videogen.media.fetch import fetch, guarded
from videogen.serve.main import allowed_hosts
from videogen.serve.urls import HostGuard, check_inputs, host_allowed, is_public

FIELDS = ("image", "last_image", "video", "reference_images")


def test_hosts_exact_or_by_suffix() -> None:
    allowed = ("media.example.org", ".cdn.example.com")
    assert host_allowed("media.example.org", allowed) and host_allowed("a.b.cdn.example.com", allowed)
    for host in ("example.org", "cdn.example.com", "evilcdn.example.com", "media.example.org.evil.net"):
        assert not host_allowed(host, allowed), host


def test_public_addresses_only() -> None:
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.9", "172.16.0.1", "169.254.169.254", "100.64.0.1", "::1",
                    "fe80::1", "fd00::1", "::ffff:127.0.0.1", "0.0.0.0", "224.0.0.1", "not an ip"):  # fmt: skip
        assert not is_public(address), address
    assert is_public("93.184.216.34") and is_public("2606:2800:220:1::1")


def _refusal(body: dict[str, Any], allowed: tuple[str, ...]) -> SpecError:
    with pytest.raises(SpecError) as caught:
        check_inputs(body, FIELDS, allowed)
    return caught.value


def test_a_url_needs_the_list_https_and_an_allowed_host() -> None:
    error = _refusal({"image": "https://media.example.org/cat.png"}, ())
    assert error.field == "image" and "--allow-url-host" in str(error)
    error = _refusal({"video": "https://elsewhere.net/a.mp4"}, ("media.example.org",))
    assert error.field == "video" and "--allow-url-host" in str(error) and "'elsewhere.net'" in str(error)
    error = _refusal({"image": "http://media.example.org/cat.png"}, ("media.example.org",))
    assert error.field == "image" and "https" in str(error)
    error = _refusal({"reference_images": ["/etc/passwd"]}, ("media.example.org",))
    assert error.field == "reference_images" and "/etc/passwd" not in str(error)
    error = _refusal({"last_image": "file:///etc/passwd"}, ("media.example.org",))
    assert error.field == "last_image" and "/etc/passwd" not in str(error)


def test_an_allowed_host_resolving_into_the_servers_network_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    error = _refusal({"image": "https://localhost/cat.png"}, ("localhost",))  # /etc/hosts: loopback
    assert error.field == "image" and ("127.0.0.1" in str(error) or "::1" in str(error))

    def answers(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        # one public address and one private: any private one refuses the host
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in ("93.184.216.34", "10.0.0.7")]

    monkeypatch.setattr(socket, "getaddrinfo", answers)
    error = _refusal({"image": "https://media.example.org/cat.png"}, ("media.example.org",))
    assert error.field == "image" and "10.0.0.7" in str(error)


@pytest.fixture
def local_http() -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on 127.0.0.1: a host that leads into the server's own network. `/go` redirects to `/png`
    on `localhost`; what it was asked for is recorded."""
    asked: list[str] = []
    port: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            asked.append(self.path)
            if self.path == "/go":
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{port[0]}/png")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"data")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port.append(server.server_port)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server.server_port, asked
    server.shutdown()


class _NamesPass(HostGuard):
    """The guard with the host check passed (as if DNS had answered a public address, then rebound)."""

    def check_url(self, url: str, field: str) -> None:
        pass


def test_the_connected_address_is_checked_again(local_http: tuple[int, list[str]]) -> None:
    port, asked = local_http
    with fetch(f"http://127.0.0.1:{port}/png", "image") as path:  # unguarded, the library downloads it
        assert path.read_bytes() == b"data"
    with guarded(_NamesPass(("x",))), pytest.raises(SpecError) as caught:
        with fetch(f"http://127.0.0.1:{port}/png", "image"):
            pass
    assert caught.value.field == "image" and "127.0.0.1" in str(caught.value)
    assert asked == ["/png"]  # the guarded download sent nothing


def test_redirects_pass_the_guard(local_http: tuple[int, list[str]]) -> None:
    port, asked = local_http

    class LoopbackAllowed(HostGuard):  # addresses all allowed here; the URL check applies to the redirect
        def check_url(self, url: str, field: str) -> None:
            if "localhost" in url:
                raise SpecError(f"{field}: not allowed", field=field)

        def check_address(self, address: str, url: str, field: str) -> None:
            pass

    with guarded(LoopbackAllowed(())), pytest.raises(SpecError) as caught:
        with fetch(f"http://127.0.0.1:{port}/go", "image"):
            pass
    assert caught.value.field == "image" and asked == ["/go"]  # the redirect's target never asked


def test_the_flag_takes_host_names_only() -> None:
    assert allowed_hosts(["Media.Example.org", ".cdn.example.com", "media.example.org"]) == (
        "media.example.org",
        ".cdn.example.com",
    )
    for bad in ("https://media.example.org", "media.example.org:443", "10.0.0.1", "a/b", ""):
        with pytest.raises(VideoGenError, match="--allow-url-host"):
            allowed_hosts([bad])
