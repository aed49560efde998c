"""The Hugging Face Hub, offline-aware: `HF_HUB_OFFLINE` honoured on every call, "no network" found once.

huggingface_hub reads `HF_HUB_OFFLINE` when it is imported and, with no network, retries for tens of
seconds before it fails. videogen asks the environment each time, and when it is not offline probes the
Hub's host once per process (about a second at most, `VIDEOGEN_HUB_PROBE_TIMEOUT`) the way huggingface_hub
connects: `HF_ENDPOINT`, and through the proxy `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` name unless
`NO_PROXY` covers the host (a CONNECT to the endpoint through it); without an answer
it uses the local Hub cache only and says how to download when something is missing there.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from urllib.parse import unquote, urlsplit

logger = logging.getLogger("videogen")

_TRUE = {"1", "true", "yes", "on"}
#: how long a probe result is trusted (seconds): a laptop may come back online
PROBE_TTL_S = 300.0
_probe: dict[tuple[str, str | None], tuple[float, str | None]] = {}
_probe_lock = threading.Lock()


def offline_by_env() -> bool:
    """`HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`) is set to a true value, read now."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().lower() in _TRUE


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def _probe_timeout() -> float:
    try:
        return max(0.05, float(os.environ.get("VIDEOGEN_HUB_PROBE_TIMEOUT", "1.0")))
    except ValueError:
        return 1.0


def proxy_for(url: str) -> str | None:
    """The proxy huggingface_hub's HTTP client would use for `url`, None for a direct connection.

    Its client (httpx, trusting the environment) takes `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` in either
    case (the system settings on macOS and Windows) and skips hosts `NO_PROXY` names; so does this.
    """
    import urllib.request  # ~20 ms: only when the Hub is asked

    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.netloc or parts.hostname or ""):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def unreachable_reason() -> str | None:
    """None when the Hub can be used; otherwise why not ("HF_HUB_OFFLINE=1 is set", "no network: …").

    The network answer is found once (DNS and a TCP connection to the endpoint's host, or a CONNECT through
    the proxy the Hub client would use, bounded by a deadline) and reused for `PROBE_TTL_S` seconds.
    """
    if offline_by_env():
        return "HF_HUB_OFFLINE=1 is set"
    url = endpoint()
    proxy = proxy_for(url)
    now = time.monotonic()
    with _probe_lock:
        cached = _probe.get((url, proxy))
        if cached is not None and now - cached[0] < PROBE_TTL_S:
            return cached[1]
        reason = _probe_host(url, proxy, _probe_timeout())
        _probe[(url, proxy)] = (time.monotonic(), reason)
    if reason:
        logger.info("the Hub at %s is unreachable (%s): using the local Hub cache only", url, reason)
    return reason


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _probe_host(url: str, proxy: str | None, timeout: float) -> str | None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = _address(host, port)
    outcome: list[str | None] = []

    def connect() -> None:  # in a thread: name resolution has no timeout of its own
        try:
            if proxy is None:
                with socket.create_connection((host, port), timeout=timeout):
                    outcome.append(None)
            else:
                outcome.append(_through_proxy(proxy, parts.scheme, target, timeout))
        except OSError as exc:
            via = f" through the proxy {_shown(proxy)}" if proxy else ""
            outcome.append(f"no network: connecting to {target}{via} failed ({type(exc).__name__}: {exc})")

    worker = threading.Thread(target=connect, daemon=True, name="videogen-hub-probe")
    worker.start()
    worker.join(timeout)
    if not outcome:
        via = f" through the proxy {_shown(proxy)}" if proxy else ""
        return f"no network: no answer from {target}{via} within {timeout:g} s"
    return outcome[0]


def _shown(proxy: str) -> str:
    """The proxy's address without its credentials."""
    parts = urlsplit(proxy)
    return f"{parts.scheme}://{_address(parts.hostname or '', parts.port or _PROXY_PORTS.get(parts.scheme, 80))}"


_PROXY_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080, "socks4": 1080}


def _through_proxy(proxy: str, scheme: str, target: str, timeout: float) -> str | None:
    """Ask the proxy for the endpoint as the Hub client would: CONNECT for https, an absolute-form HEAD for http.

    A SOCKS proxy is only connected to (its handshake is not spoken here). Raises OSError when the proxy
    can't be reached; returns the reason when it answers with a refusal.
    """
    import base64
    import ssl

    parts = urlsplit(proxy)
    proxy_host = parts.hostname or ""
    proxy_port = parts.port or _PROXY_PORTS.get(parts.scheme, 80)
    with socket.create_connection((proxy_host, proxy_port), timeout=timeout) as raw:
        if parts.scheme.startswith("socks"):
            return None
        sock: socket.socket = raw
        if parts.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname=proxy_host)
        if scheme == "https":
            request = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
        else:
            request = f"HEAD {scheme}://{target}/ HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n"
        if parts.username is not None:
            user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            request += f"Proxy-Authorization: Basic {base64.b64encode(user.encode()).decode()}\r\n"
        sock.sendall((request + "\r\n").encode("latin-1"))
        status = _status_line(sock)
    code = status.split(" ", 2)[1] if status.count(" ") >= 1 else ""
    method = "CONNECT" if scheme == "https" else "HEAD"
    ok = code.startswith("2") if method == "CONNECT" else code.isdigit() and int(code) < 500
    if ok:
        return None
    answer = f"answered {status!r}" if status else "closed the connection"
    return f"no network: the proxy {_shown(proxy)} {answer} to {method} {target}"


def _status_line(sock: socket.socket, limit: int = 8192) -> str:
    """The first line of the proxy's answer (at most `limit` bytes read)."""
    data = b""
    while b"\r\n" not in data and len(data) < limit:
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0][:200].decode("latin-1").strip()


def download_hint(repo: str) -> str:
    """How to get a repo into the local Hub cache and use it without network."""
    return (
        f"download it where the Hub is reachable (`hf download {repo}`, or "
        f"`huggingface_hub.snapshot_download('{repo}')`), then run with HF_HUB_OFFLINE=1; "
        "or pass the folder of a saved pipeline as model"
    )


def split_revision(ref: str) -> tuple[str, str | None]:
    """`org/repo@rev` → (`org/repo`, `rev`); a ref without `@` → (ref, None)."""
    name, sep, revision = ref.rpartition("@")
    if sep and name and revision and "/" not in revision.replace("refs/pr/", "", 1):
        return name, revision
    return ref, None
