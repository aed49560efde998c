"""Reading media inputs: bounded URL downloads, pixel and frame limits, unreadable videos, EXIF orientation.

A local http.server plays the misbehaving hosts; limits are set small through the environment so
the whole file runs in a few seconds.
"""

from __future__ import annotations

import http.server
import socket
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from videogen.errors import SpecError
from videogen.media.read import read_video, to_frames, to_pil

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


class Server:
    """A ThreadingHTTPServer on 127.0.0.1 whose paths are served by functions the tests register."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.stop = threading.Event()
        self.sent: dict[str, int] = {}  # bytes of body each streaming route managed to send
        self.done: dict[str, threading.Event] = {}
        server = self

        class RequestHandler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    server.done.setdefault(self.path, threading.Event()).set()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def bytes(self, path: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        def serve(h: http.server.BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)

        self.routes[path] = serve
        return self.url + path

    def wait_done(self, path: str, timeout: float = 5.0) -> None:
        assert self.done.setdefault(path, threading.Event()).wait(timeout), f"the handler of {path} never ended"


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.stop.set()  # streaming handlers end their loops
        srv.httpd.shutdown()
        srv.httpd.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def small_limits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Short download limits and a temp dir of our own (to see that nothing is left in it)."""
    monkeypatch.setenv("VIDEOGEN_FETCH_TIMEOUT", "1")
    monkeypatch.setenv("VIDEOGEN_FETCH_MAX_IMAGE_BYTES", str(64 * 1024))
    monkeypatch.setenv("VIDEOGEN_FETCH_MAX_VIDEO_BYTES", str(256 * 1024))
    for name in ("VIDEOGEN_MAX_IMAGE_PIXELS", "VIDEOGEN_MAX_VIDEO_FRAMES", "VIDEOGEN_MAX_VIDEO_PIXELS"):
        monkeypatch.delenv(name, raising=False)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return temp


def spec_error(field: str, call: Callable[[], object]) -> SpecError:
    """Run `call`, which must raise a SpecError for `field` (and nothing else)."""
    with pytest.raises(SpecError) as info:
        call()
    assert type(info.value) is SpecError
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}:")
    return info.value


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """Five 48×32 frames of 8×8 blocks (H.264 keeps them close)."""
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 256, size=(5, 4, 6, 3), dtype=np.uint8)
    return np.kron(blocks, np.ones((1, 8, 8, 1), np.uint8))


@pytest.fixture
def mp4(tmp_path: Path, frames: np.ndarray) -> Path:
    """An 8 fps H.264 mp4 written with imageio (as videogen's writer does), independent of videogen."""
    import imageio.v2 as iio2

    path = tmp_path / "clip.mp4"
    writer = iio2.get_writer(
        str(path),
        format="FFMPEG",
        mode="I",
        fps=8,
        codec="libx264",
        quality=8,
        pixelformat="yuv420p",
        macro_block_size=2,
        ffmpeg_log_level="error",
    )
    try:
        for frame in frames:
            writer.append_data(frame)
    finally:
        writer.close()
    return path


@pytest.fixture
def png(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    path = tmp_path / "picture.png"
    Image.fromarray(rng.integers(0, 256, size=(24, 40, 3), dtype=np.uint8)).save(path)
    return path


# ---- downloads -----------------------------------------------------------------------------------


def test_url_404_names_status_and_field(server: Server, small_limits: Path) -> None:
    err = spec_error("image", lambda: to_pil(server.url + "/missing.png", "image"))
    assert "HTTP 404 Not Found" in str(err)
    err = spec_error("last_image", lambda: to_pil(server.url + "/missing.png", "last_image"))
    assert "404" in str(err)
    assert list(small_limits.iterdir()) == []


def test_png_over_http_equals_local_file(server: Server, png: Path, small_limits: Path) -> None:
    url = server.bytes("/p.png", png.read_bytes(), "image/png")
    remote = to_pil(url, "image")
    assert remote.mode == "RGB"
    assert np.array_equal(np.asarray(remote), np.asarray(to_pil(str(png), "image")))
    assert np.array_equal(np.asarray(remote), np.asarray(Image.open(png).convert("RGB")))
    assert list(small_limits.iterdir()) == []  # the downloaded copy is removed after decoding


def test_endless_body_stops_at_the_byte_cap(server: Server, small_limits: Path) -> None:
    def endless(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "image/png")
        h.end_headers()  # no Content-Length: the body runs until the connection closes
        chunk = b"\0" * 65536
        sent = 0
        for _ in range(16384):  # 1 GiB at most
            if server.stop.is_set():
                break
            h.wfile.write(chunk)
            sent += len(chunk)
            server.sent["/endless"] = sent

    server.routes["/endless"] = endless
    start = time.monotonic()
    err = spec_error("image", lambda: to_pil(server.url + "/endless", "image"))
    assert time.monotonic() - start < 1.0
    assert "too large" in str(err) and "VIDEOGEN_FETCH_MAX_IMAGE_BYTES" in str(err)
    assert "65536 bytes" in str(err)
    server.wait_done("/endless")
    # the reader stopped: the server could only fill the socket buffers past the 64 KiB cap, not the GiB
    assert server.sent["/endless"] < 64 * 2**20
    assert list(small_limits.iterdir()) == []


def test_content_length_over_the_cap_is_refused_before_reading(
    server: Server, monkeypatch: pytest.MonkeyPatch, small_limits: Path
) -> None:
    monkeypatch.setenv("VIDEOGEN_FETCH_TIMEOUT", "5")

    def huge(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(10**9))
        h.end_headers()
        h.wfile.flush()
        server.stop.wait(5)  # sends no body: a client that waited for it would time out instead

    server.routes["/huge.png"] = huge
    start = time.monotonic()
    err = spec_error("image", lambda: to_pil(server.url + "/huge.png", "image"))
    assert time.monotonic() - start < 2.0
    assert "Content-Length" in str(err) and "1000000000" in str(err) and "too large" in str(err)
    assert list(small_limits.iterdir()) == []


def test_trickling_body_hits_the_total_deadline(server: Server, small_limits: Path) -> None:
    def trickle(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100")
        h.end_headers()
        for _ in range(100):  # a byte every 0.3 s: each read is quick, the whole would take 30 s
            if server.stop.wait(0.3):
                break
            h.wfile.write(b"x")
            h.wfile.flush()

    server.routes["/slow.png"] = trickle
    start = time.monotonic()
    err = spec_error("image", lambda: to_pil(server.url + "/slow.png", "image"))
    elapsed = time.monotonic() - start
    assert 0.9 < elapsed < 2.0
    assert "longer than 1 s" in str(err) and "VIDEOGEN_FETCH_TIMEOUT" in str(err)
    assert list(small_limits.iterdir()) == []


def test_trickling_headers_hit_the_total_deadline(server: Server, small_limits: Path) -> None:
    def slow_headers(h: http.server.BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.0 200 OK\r\n")
        for _ in range(100):
            if server.stop.wait(0.3):
                break
            h.wfile.write(b"X")
            h.wfile.flush()

    server.routes["/slowhead.png"] = slow_headers
    start = time.monotonic()
    err = spec_error("image", lambda: to_pil(server.url + "/slowhead.png", "image"))
    assert time.monotonic() - start < 2.0
    assert "longer than 1 s" in str(err)


def test_redirects_followed_to_http_only(server: Server, png: Path, small_limits: Path) -> None:
    def redirect(to: str) -> Handler:
        def serve(h: http.server.BaseHTTPRequestHandler) -> None:
            h.send_response(302)
            h.send_header("Location", to)
            h.send_header("Content-Length", "0")
            h.end_headers()

        return serve

    url = server.bytes("/p.png", png.read_bytes(), "image/png")
    server.routes["/moved"] = redirect(url)
    assert np.array_equal(np.asarray(to_pil(server.url + "/moved", "image")), np.asarray(to_pil(str(png), "image")))
    server.routes["/sneaky"] = redirect("file:///etc/passwd")
    spec_error("image", lambda: to_pil(server.url + "/sneaky", "image"))
    assert list(small_limits.iterdir()) == []


def test_body_cut_short(server: Server, small_limits: Path) -> None:
    def short(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "5000")
        h.end_headers()
        h.wfile.write(b"\x89PNG\r\n\x1a\n")  # then the connection closes

    server.routes["/short.png"] = short
    assert "closed after 8 of the 5000 bytes" in str(
        spec_error("image", lambda: to_pil(server.url + "/short.png", "image"))
    )
    assert list(small_limits.iterdir()) == []


def test_connection_refused(small_limits: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    err = spec_error("image", lambda: to_pil(f"http://127.0.0.1:{port}/a.png", "image"))
    assert "connection refused" in str(err)
    assert list(small_limits.iterdir()) == []


def test_a_page_that_is_not_an_image(server: Server, small_limits: Path) -> None:
    url = server.bytes("/page.png", b"<html><body>moved</body></html>", "text/html")
    err = spec_error("image", lambda: to_pil(url, "image"))
    assert "not an image" in str(err)
    assert list(small_limits.iterdir()) == []


def test_only_http_urls(small_limits: Path) -> None:
    err = spec_error("image", lambda: to_pil("ftp://example.com/a.png", "image"))
    assert "http://" in str(err) and "https://" in str(err)
    spec_error("video", lambda: to_frames("file:///etc/passwd", "video"))


def test_bad_limit_values_are_spec_errors(server: Server, monkeypatch: pytest.MonkeyPatch, png: Path) -> None:
    url = server.bytes("/p.png", png.read_bytes())
    monkeypatch.setenv("VIDEOGEN_FETCH_TIMEOUT", "soon")
    err = spec_error("image", lambda: to_pil(url, "image"))
    assert "VIDEOGEN_FETCH_TIMEOUT='soon'" in str(err) and "60" in str(err)
    monkeypatch.setenv("VIDEOGEN_FETCH_TIMEOUT", "2.5")
    assert to_pil(url, "image").size == (40, 24)  # fractional seconds are fine
    monkeypatch.setenv("VIDEOGEN_FETCH_MAX_IMAGE_BYTES", "-1")
    assert "VIDEOGEN_FETCH_MAX_IMAGE_BYTES" in str(spec_error("image", lambda: to_pil(url, "image")))
    monkeypatch.setenv("VIDEOGEN_MAX_IMAGE_PIXELS", "lots")
    assert "VIDEOGEN_MAX_IMAGE_PIXELS" in str(spec_error("image", lambda: to_pil(str(png), "image")))


def test_video_url(server: Server, mp4: Path, frames: np.ndarray, small_limits: Path) -> None:
    local = to_frames(str(mp4))
    for path in ("/clip.mp4", "/clip?id=3"):  # the suffix does not matter: the content is sniffed
        remote = to_frames(server.bytes(path, mp4.read_bytes(), "video/mp4"))
        assert len(remote) == len(frames) == len(local)
        assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(remote, local))
        assert remote[0].size == (48, 32)
    assert list(small_limits.iterdir()) == []


def test_video_url_failures(server: Server, png: Path, monkeypatch: pytest.MonkeyPatch, small_limits: Path) -> None:
    assert "HTTP 404" in str(spec_error("video", lambda: to_frames(server.url + "/nope.mp4")))
    url = server.bytes("/big.mp4", b"\0" * 300_000)
    err = spec_error("video", lambda: to_frames(url))
    assert "too large" in str(err) and "VIDEOGEN_FETCH_MAX_VIDEO_BYTES" in str(err)
    url = server.bytes("/junk.mp4", b"\0\0\0\x18ftypisom" + b"\1" * 4000)
    assert "not a video" in str(spec_error("video", lambda: to_frames(url)))
    url = server.bytes("/still.png", png.read_bytes())
    assert "image=" in str(spec_error("video", lambda: to_frames(url)))
    assert list(small_limits.iterdir()) == []


def test_a_downloaded_playlist_cannot_make_ffmpeg_read_local_files(
    server: Server, mp4: Path, small_limits: Path
) -> None:
    """An HLS playlist naming a file on this machine reads that file when it is local (the user's own), never
    when it was downloaded: only MP4/MOV, Matroska/WebM and AVI (or images) come in from a URL."""
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{mp4}\n#EXT-X-ENDLIST\n"
    local = mp4.parent / "local.m3u8"
    local.write_text(playlist)
    assert len(to_frames(str(local))) == len(to_frames(str(mp4)))  # what a downloaded one would leak
    url = server.bytes("/clip.m3u8", playlist.encode(), "application/vnd.apple.mpegurl")
    assert "MP4/MOV, Matroska/WebM or AVI" in str(spec_error("video", lambda: to_frames(url)))
    assert list(small_limits.iterdir()) == []


# ---- pixel and frame limits ----------------------------------------------------------------------


def big_png(path: Path, width: int, height: int) -> Path:
    """A valid 1-bit PNG of width × height written without decoding it: a few KB of compressed zeros."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )
    return path


def test_pixel_budget_refuses_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import ImageFile

    loads: list[object] = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self) or real_load(self))
    path = big_png(tmp_path / "big.png", 9000, 9000)  # 81 Mpx, over the 64 Mpx default
    assert path.stat().st_size < 100_000
    err = spec_error("image", lambda: to_pil(str(path), "image"))
    assert "9000×9000" in str(err) and "VIDEOGEN_MAX_IMAGE_PIXELS" in str(err)
    assert loads == []  # refused on the header alone
    monkeypatch.setenv("VIDEOGEN_MAX_IMAGE_PIXELS", "400")
    small = big_png(tmp_path / "small.png", 30, 20)
    assert "600 pixels" in str(spec_error("last_image", lambda: to_pil(str(small), "last_image")))
    assert loads == []
    monkeypatch.setenv("VIDEOGEN_MAX_IMAGE_PIXELS", "600")
    assert to_pil(str(small), "image").size == (30, 20)
    assert loads  # the same file decodes once it fits


def test_pixel_budget_over_http(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEOGEN_MAX_IMAGE_PIXELS", "400")
    url = server.bytes("/small.png", big_png(tmp_path / "small.png", 30, 20).read_bytes())
    assert "VIDEOGEN_MAX_IMAGE_PIXELS" in str(spec_error("image", lambda: to_pil(url, "image")))


def test_video_limits(mp4: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frames: np.ndarray) -> None:
    assert read_video(mp4)[0].shape == frames.shape  # 5 frames of 48×32 = 1536 pixels
    monkeypatch.setenv("VIDEOGEN_MAX_IMAGE_PIXELS", "1000")
    err = spec_error("video", lambda: to_frames(str(mp4)))
    assert "48×32" in str(err) and "each frame" in str(err)
    monkeypatch.delenv("VIDEOGEN_MAX_IMAGE_PIXELS")
    monkeypatch.setenv("VIDEOGEN_MAX_VIDEO_FRAMES", "3")
    err = spec_error("video", lambda: to_frames(str(mp4)))
    assert "more than 3 frames" in str(err) and "VIDEOGEN_MAX_VIDEO_FRAMES" in str(err)
    gif = tmp_path / "clip.gif"
    Image.fromarray(frames[0]).save(gif, save_all=True, append_images=[Image.fromarray(f) for f in frames[1:]])
    assert "VIDEOGEN_MAX_VIDEO_FRAMES" in str(spec_error("video", lambda: read_video(gif)))
    monkeypatch.setenv("VIDEOGEN_MAX_VIDEO_FRAMES", "5")
    assert len(to_frames(str(mp4))) == 5
    monkeypatch.setenv("VIDEOGEN_MAX_VIDEO_PIXELS", str(1536 * 4))
    assert "VIDEOGEN_MAX_VIDEO_PIXELS" in str(spec_error("video", lambda: to_frames(str(mp4))))


def test_folder_frame_cap_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(5):
        (folder / f"{i:03d}.png").write_bytes(b"not decoded")  # a decode would fail with another message
    monkeypatch.setenv("VIDEOGEN_MAX_VIDEO_FRAMES", "4")
    assert "more than 4 frames" in str(spec_error("video", lambda: to_frames(str(folder))))
    monkeypatch.setenv("VIDEOGEN_MAX_VIDEO_FRAMES", "5")
    assert "not an image" in str(spec_error("video", lambda: to_frames(str(folder))))


# ---- unreadable videos ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["passwd", "truncated", "empty", "png", "jpeg", "folder", "gif", "text", "dir"])
def test_unreadable_videos_are_spec_errors(case: str, mp4: Path, png: Path, tmp_path: Path) -> None:
    if case == "passwd":
        path = Path("/etc/passwd")
    elif case == "truncated":
        data = mp4.read_bytes()
        path = tmp_path / "truncated.mp4"
        path.write_bytes(data[: len(data) // 2])
    elif case == "empty":
        path = tmp_path / "empty.mp4"
        path.write_bytes(b"")
    elif case == "png":
        path = png
    elif case == "jpeg":
        path = tmp_path / "photo.mp4"  # the suffix lies: the content decides
        Image.open(png).save(path, format="JPEG")
    elif case == "folder":
        path = tmp_path / "frames"
        path.mkdir()
        (path / "000.png").write_bytes(png.read_bytes())
        (path / "001.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    elif case == "gif":
        path = tmp_path / "broken.gif"
        path.write_bytes(b"GIF89a" + b"\xff" * 64)
    elif case == "text":
        path = tmp_path / "notes.webm"
        path.write_text("hello\n")
    else:
        path = tmp_path / "no-frames"
        path.mkdir()
        (path / "readme.txt").write_text("x")
    for call in (lambda: to_frames(str(path)), lambda: to_frames(path), lambda: read_video(path)):
        err = spec_error("video", call)
        assert str(path) in str(err)
        assert "ffmpeg version" not in str(err)  # no banner
    if case in ("png", "jpeg"):
        assert "image=" in str(err)  # a still picture: the message points to the image field


def test_prepare_refuses_a_bad_video_before_any_weights(tmp_path: Path, server: Server) -> None:
    from videogen.generation.flow import prepare

    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for bad in ("/etc/passwd", str(empty), server.url + "/gone.mp4"):
        spec_error("video", lambda bad=bad: prepare(model="tiny-wan", prompt="x", video=bad))
    spec_error("image", lambda: prepare(model="tiny-wan", prompt="x", image=server.url + "/gone.png"))


# ---- readable videos and EXIF --------------------------------------------------------------------


def test_good_videos_still_read(mp4: Path, tmp_path: Path, frames: np.ndarray) -> None:
    back, fps = read_video(mp4)
    assert back.shape == frames.shape and fps == pytest.approx(8)
    assert np.abs(back.astype(int) - frames).mean() < 10  # lossy H.264: close, not exact
    import imageio.v2 as iio2  # what videogen read mp4 files with before: the same pixels

    reader = iio2.get_reader(str(mp4), format="FFMPEG")
    try:
        assert np.array_equal(back, np.stack([np.asarray(f) for f in reader]))
    finally:
        reader.close()
    webp = tmp_path / "clip.webp"
    Image.fromarray(frames[0]).save(
        webp, save_all=True, append_images=[Image.fromarray(f) for f in frames[1:]], lossless=True, duration=125
    )
    back, fps = read_video(webp)
    assert np.array_equal(back, frames) and fps == pytest.approx(8)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"{i:03d}.png")
    assert np.array_equal(read_video(folder)[0], frames)
    assert np.array_equal(np.stack([np.asarray(f) for f in to_frames(str(folder))]), frames)
    # arrays and frame lists keep their behaviour
    assert len(to_frames(frames)) == 5 and len(to_frames([Image.fromarray(f) for f in frames])) == 5


def test_exif_orientation_local_and_http_alike(server: Server, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    pixels = np.kron(rng.integers(0, 256, size=(4, 8, 3), dtype=np.uint8), np.ones((8, 8, 1), np.uint8))
    path = tmp_path / "rotated.jpg"  # stored 64 wide × 32 high; orientation 6: show it turned 90° clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(path, exif=exif, quality=95)
    stored = Image.open(path).convert("RGB")
    assert stored.size == (64, 32)
    local = to_pil(str(path), "image")
    assert local.size == (32, 64)
    assert np.array_equal(np.asarray(local), np.asarray(stored.transpose(Image.Transpose.ROTATE_270)))
    remote = to_pil(server.bytes("/rotated.jpg", path.read_bytes(), "image/jpeg"), "image")
    assert np.array_equal(np.asarray(remote), np.asarray(local))
    from diffusers.utils import load_image  # what diffusers itself gives for the same file

    assert np.array_equal(np.asarray(load_image(str(path))), np.asarray(local))
