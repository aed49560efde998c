"""Downloading the spec's image and video URLs: bounded in time and size, to a temporary file.

`fetch(url, field, kind)` streams an http(s) URL into a temporary file and yields its path; the
file is removed when the `with` block ends, whatever happens. Limits (docs/inputs.md):

- `VIDEOGEN_FETCH_TIMEOUT`: seconds for the whole download (connection, headers and body
  together, wall clock), default 60;
- `VIDEOGEN_FETCH_MAX_IMAGE_BYTES`: the most bytes read for an image, default 50 MiB;
- `VIDEOGEN_FETCH_MAX_VIDEO_BYTES`: the most bytes read for a video, default 500 MiB.

Every failure is a `SpecError` naming the field. A server that lets requests name URLs (`videogen serve
--allow-url-host`) downloads them `guarded`: its guard checks every URL and redirect before the request and
every address after connecting (no proxy then), so a host name can't lead into the server's own network.
"""

from __future__ import annotations

import contextvars
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Protocol

from ..errors import SpecError

if TYPE_CHECKING:
    import http.client
    import socket
    import threading
    import urllib.request
    from types import ModuleType

logger = logging.getLogger("videogen")

TIMEOUT_ENV = "VIDEOGEN_FETCH_TIMEOUT"
MAX_BYTES_ENV = {"image": "VIDEOGEN_FETCH_MAX_IMAGE_BYTES", "video": "VIDEOGEN_FETCH_MAX_VIDEO_BYTES"}
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_BYTES = {"image": 50 * 2**20, "video": 500 * 2**20}
CHUNK = 64 * 1024


class Guard(Protocol):
    """What a guarded download asks before each request and after each connection; each raises SpecError."""

    def check_url(self, url: str, field: str) -> None: ...

    def check_address(self, address: str, url: str, field: str) -> None: ...


_GUARD: contextvars.ContextVar[Guard | None] = contextvars.ContextVar("videogen_fetch_guard", default=None)


@contextmanager
def guarded(guard: Guard) -> Iterator[None]:
    """Within the block, in this thread, every download is checked by `guard`: its URL and each redirect's
    (`check_url`) before the request, the connected peer's address (`check_address`) before anything is sent;
    connections go direct (no proxy from the environment)."""
    token = _GUARD.set(guard)
    try:
        yield
    finally:
        _GUARD.reset(token)


def env_limit(name: str, default: float, field: str) -> float:
    """A positive number from the environment variable `name` (a whole number when `default` is an int),
    or `default` when it is unset or empty; a bad value is a `SpecError` naming `field` and `name`."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    whole = isinstance(default, int)
    try:
        number = float(raw.replace("_", ""))
    except ValueError:
        number = float("nan")
    if not (0 < number < float("inf")) or (whole and not number.is_integer()):
        what, example = ("whole number", str(default)) if whole else ("number", f"{default:g}")
        raise SpecError(
            f"{field}: the environment variable {name}={raw!r} is not a positive {what}; set it to e.g. "
            f"{example} (the default) or unset it",
            field=field,
        )
    return int(number) if whole else number


def fetch_limits(field: str, kind: str) -> tuple[float, int]:
    """The total timeout (seconds) and the byte cap for downloading a `kind` ("image"/"video") URL."""
    timeout = env_limit(TIMEOUT_ENV, DEFAULT_TIMEOUT, field)
    max_bytes = int(env_limit(MAX_BYTES_ENV[kind], DEFAULT_MAX_BYTES[kind], field))
    return timeout, max_bytes


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB ({n} bytes)" if n >= 2**20 else f"{n} bytes"


@contextmanager
def fetch(url: str, field: str, kind: str = "image") -> Iterator[Path]:
    """Download an http(s) `url` to a temporary file and yield its path; the file is removed on exit.

    The whole download must finish within `VIDEOGEN_FETCH_TIMEOUT` seconds and stay within the byte
    cap of its `kind` ("image" or "video"); anything else is a `SpecError(field=field)`.
    """
    import tempfile
    import urllib.parse

    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise SpecError(
            f"{field}: {url!r} is not an http(s) URL; pass an http:// or https:// URL or a local path", field=field
        )
    guard = _GUARD.get()
    if guard is not None:
        guard.check_url(url, field)
    timeout, max_bytes = fetch_limits(field, kind)
    with tempfile.NamedTemporaryFile(prefix="videogen-fetch-", suffix=_suffix(url), delete=False) as out:
        path = Path(out.name)
    try:
        with open(path, "wb") as out:
            _download(url, out, field, kind, timeout, max_bytes, guard)
        yield path
    finally:
        path.unlink(missing_ok=True)


def _suffix(url: str) -> str:
    import urllib.parse

    suffix = Path(urllib.parse.urlsplit(url).path).suffix.lower()
    return suffix if 1 < len(suffix) <= 6 and suffix[1:].isalnum() else ""


def _download(
    url: str, out: BinaryIO, field: str, kind: str, timeout: float, max_bytes: int, guard: Guard | None = None
) -> None:
    """Stream `url` into the open binary file `out` within `timeout` seconds in all and `max_bytes`."""
    import socket
    import ssl
    import threading
    import urllib.error
    import urllib.request

    start = time.monotonic()
    deadline = start + timeout
    sockets: list[socket.socket] = []
    lock = threading.Lock()
    expired = threading.Event()

    def expire() -> None:  # the total deadline: wake any read blocked on a socket of this download
        expired.set()
        with lock:
            for sock in sockets:
                _shutdown(sock)

    def too_slow() -> SpecError:
        return SpecError(
            f"{field}: downloading {url!r} took longer than {timeout:g} s in all (the limit for the whole "
            f"download); raise {TIMEOUT_ENV} (seconds), or download the file and pass its local path",
            field=field,
        )

    def too_large(got: int, declared: bool) -> SpecError:
        what = (
            f"its Content-Length is {_size(got)}"
            if declared
            else f"more than {_size(max_bytes)} arrived (stopped at {got} bytes)"
        )
        return SpecError(
            f"{field}: {url!r} is too large: {what}, over the {_size(max_bytes)} limit for a downloaded "
            f"{kind}; raise {MAX_BYTES_ENV[kind]} (bytes), or pass a smaller {kind} or a local path",
            field=field,
        )

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    read = 0
    try:
        opener = _opener(sockets, lock, expired, (guard, url, field) if guard is not None else None)
        request = urllib.request.Request(url, headers={"User-Agent": "videogen", "Accept-Encoding": "identity"})
        with opener.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length is not None and length.strip().isdigit() and int(length) > max_bytes:
                raise too_large(int(length), declared=True)
            while True:
                if time.monotonic() >= deadline or expired.is_set():
                    raise too_slow()
                chunk = response.read1(CHUNK)
                if not chunk:
                    break
                read += len(chunk)
                if read > max_bytes:
                    raise too_large(read, declared=False)
                out.write(chunk)
            if expired.is_set():  # the watchdog cut the stream: what came is incomplete
                raise too_slow()
            if length is not None and length.strip().isdigit() and read < int(length):
                raise SpecError(
                    f"{field}: the connection to {url!r} closed after {read} of the {int(length)} bytes it "
                    "announced; try again, or download the file and pass its local path",
                    field=field,
                )
    except SpecError:
        raise
    except urllib.error.HTTPError as exc:
        exc.close()
        raise SpecError(
            f"{field}: downloading {url!r} failed with HTTP {exc.code} {exc.reason}; check the URL, or "
            "download the file and pass its local path",
            field=field,
        ) from None
    except Exception as exc:
        if expired.is_set() or time.monotonic() >= deadline or isinstance(exc, (socket.timeout, TimeoutError)):
            raise too_slow() from None
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise SpecError(
            f"{field}: could not download {url!r}: {_describe(reason, ssl)}; check the URL and the network, "
            "or pass a local path",
            field=field,
        ) from None
    finally:
        timer.cancel()
        with lock:
            sockets.clear()
    logger.debug("fetched %s: %d bytes in %.2f s", url, read, time.monotonic() - start)


def _describe(reason: object, ssl: ModuleType) -> str:
    """A short phrase for why a connection failed."""
    import socket

    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return f"the host name could not be resolved ({reason})"
    if isinstance(reason, ssl.SSLError):
        return f"TLS error ({reason})"
    if isinstance(reason, ConnectionResetError):
        return "the connection was reset"
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timed out"
    return str(reason) or type(reason).__name__


def _shutdown(sock: socket.socket) -> None:
    import socket

    try:  # the plain socket's shutdown (an SSLSocket's own would drop its TLS state under a reader)
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


def _checked_connection(create: Any, guard: Guard, url: str, field: str) -> Any:
    """`socket.create_connection` whose socket's peer address passes `guard` (else closed, SpecError)."""

    def connect(*args: Any, **kwargs: Any) -> Any:
        sock = create(*args, **kwargs)
        try:
            guard.check_address(sock.getpeername()[0], url, field)
        except BaseException:
            sock.close()
            raise
        return sock

    return connect


def _opener(
    sockets: list[socket.socket],
    lock: threading.Lock,
    expired: threading.Event,
    guarding: tuple[Guard, str, str] | None = None,
) -> urllib.request.OpenerDirector:
    """A urllib opener for http(s) only whose connections record their sockets in `sockets`; with `guarding`
    (the guard, the URL, the field), each connection's peer and each redirect pass the guard, and no proxy."""
    import http.client
    import urllib.request

    def tracked(base: type[http.client.HTTPConnection]) -> type[http.client.HTTPConnection]:
        class Tracked(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                if guarding is not None:  # the TCP peer checked before TLS or the request: DNS may answer anew
                    create: Any = self._create_connection  # type: ignore[has-type]
                    self._create_connection = _checked_connection(create, *guarding)

            def connect(self) -> None:
                super().connect()
                with lock:
                    sockets.append(self.sock)
                if expired.is_set():
                    _shutdown(self.sock)

        return Tracked

    http_conn, https_conn = tracked(http.client.HTTPConnection), tracked(http.client.HTTPSConnection)

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(http_conn, req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(https_conn, req, context=getattr(self, "_context", None))

    import urllib.error

    class RedirectHandler(urllib.request.HTTPRedirectHandler):
        def redirect_request(
            self,
            req: urllib.request.Request,
            fp: IO[bytes],
            code: int,
            msg: str,
            headers: http.client.HTTPMessage,
            newurl: str,
        ) -> urllib.request.Request | None:
            if not newurl.lower().startswith(("http://", "https://")):
                raise urllib.error.HTTPError(
                    newurl, code, f"{msg}, redirected to a non-http(s) URL {newurl!r}", headers, fp
                )
            if guarding is not None:
                guarding[0].check_url(newurl, guarding[2])
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler({} if guarding is not None else None),
        urllib.request.UnknownHandler(),
        HTTPHandler(),
        HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        RedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener
