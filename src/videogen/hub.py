"""The Hugging Face Hub, offline-aware: `HF_HUB_OFFLINE` honoured on every call, "no network" found once.

huggingface_hub reads `HF_HUB_OFFLINE` when it is imported and, with no network, retries for tens of
seconds before it fails. videogen asks the environment each time, and when it is not offline probes the
Hub's host once per process (about a second at most, `VIDEOGEN_HUB_PROBE_TIMEOUT`); without an answer
it uses the local Hub cache only and says how to download when something is missing there.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from urllib.parse import urlsplit

logger = logging.getLogger("videogen")

_TRUE = {"1", "true", "yes", "on"}
#: how long a probe result is trusted (seconds): a laptop may come back online
PROBE_TTL_S = 300.0
_probe: dict[str, tuple[float, str | None]] = {}
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


def unreachable_reason() -> str | None:
    """None when the Hub can be used; otherwise why not ("HF_HUB_OFFLINE=1 is set", "no network: …").

    The network answer is found once (a TCP connection to the endpoint's host, DNS included, bounded by
    a deadline) and reused for `PROBE_TTL_S` seconds.
    """
    if offline_by_env():
        return "HF_HUB_OFFLINE=1 is set"
    url = endpoint()
    now = time.monotonic()
    with _probe_lock:
        cached = _probe.get(url)
        if cached is not None and now - cached[0] < PROBE_TTL_S:
            return cached[1]
        reason = _probe_host(url, _probe_timeout())
        _probe[url] = (time.monotonic(), reason)
    if reason:
        logger.info("the Hub at %s is unreachable (%s): using the local Hub cache only", url, reason)
    return reason


def _probe_host(url: str, timeout: float) -> str | None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    outcome: list[str | None] = []

    def connect() -> None:  # in a thread: name resolution has no timeout of its own
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(None)
        except OSError as exc:
            outcome.append(f"{type(exc).__name__}: {exc}")

    worker = threading.Thread(target=connect, daemon=True, name="videogen-hub-probe")
    worker.start()
    worker.join(timeout)
    if not outcome:
        return f"no network: no answer from {host}:{port} within {timeout:g} s"
    return None if outcome[0] is None else f"no network: connecting to {host}:{port} failed ({outcome[0]})"


def forget_probe() -> None:
    """Probe again on the next call (tests; after the network came back)."""
    with _probe_lock:
        _probe.clear()


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
