"""Reading the spec's images and videos from paths, URLs, PIL images and arrays (writing: `writers.py`).

URLs are downloaded with `fetch.fetch` (bounded in time and bytes). Files are checked against pixel
and frame limits before they are decoded (docs/inputs.md):

- `VIDEOGEN_MAX_IMAGE_PIXELS`: width × height of an image or of one video frame, default 8192 × 8192;
- `VIDEOGEN_MAX_VIDEO_FRAMES`: frames read from one video file or folder, default 10,000;
- `VIDEOGEN_MAX_VIDEO_PIXELS`: width × height × frames of one video file or folder, default 2**30
  (1 Gpx: 3 GiB as RGB);
- `VIDEOGEN_MAX_IMAGE_BYTES`: bytes of one image file (or frame of a folder), default 256 MiB;
- `VIDEOGEN_MAX_VIDEO_BYTES`: bytes of one video file or folder of frames, default 4 GiB.

Only regular files are read (a FIFO or device would block or never end), opened without blocking and checked
against the byte limit before anything is read or hashed (`open_input`, `input_kind`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import SpecError
from .fetch import env_limit
from .save import FileTooLargeError, NotRegularFileError, open_regular

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

logger = logging.getLogger("videogen")

MAX_IMAGE_PIXELS_ENV = "VIDEOGEN_MAX_IMAGE_PIXELS"
MAX_VIDEO_FRAMES_ENV = "VIDEOGEN_MAX_VIDEO_FRAMES"
MAX_VIDEO_PIXELS_ENV = "VIDEOGEN_MAX_VIDEO_PIXELS"
DEFAULT_MAX_IMAGE_PIXELS = 8192 * 8192
DEFAULT_MAX_VIDEO_FRAMES = 10_000
DEFAULT_MAX_VIDEO_PIXELS = 2**30
MAX_BYTES_ENV = {"image": "VIDEOGEN_MAX_IMAGE_BYTES", "video": "VIDEOGEN_MAX_VIDEO_BYTES"}
DEFAULT_MAX_BYTES = {"image": 256 * 2**20, "video": 4 * 2**30}
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
ANIMATED_FORMATS = ("GIF", "WEBP")  # PIL formats read as videos even with one frame (videogen writes them)


def is_url(value: str) -> bool:
    return value.lower().startswith(("http://", "https://"))


def check_scheme(text: str, field: str) -> None:
    scheme, sep, _ = text.partition("://")
    if sep and scheme.isalpha() and len(scheme) > 1:  # "C://x" on Windows is a path, "ftp://x" is not
        raise SpecError(
            f"{field}: {text!r} is a {scheme}:// URL; videogen downloads only http:// and https:// "
            "URLs: download it yourself and pass the local path",
            field=field,
        )


def to_pil(value: Any, field: str) -> Image.Image:
    """One RGB PIL image from a path, URL, PIL image or H×W×3 / H×W array (uint8, or floats in [0, 1]).

    Files and URLs are checked against `VIDEOGEN_MAX_IMAGE_PIXELS` before decoding and turned upright
    by their EXIF orientation.
    """
    import numpy as np
    from PIL import Image

    if isinstance(value, Image.Image):
        return value.convert("RGB")
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if is_url(text):
            from .fetch import fetch

            with fetch(text, field, "image") as path:
                return open_image(path, field, text)
        check_scheme(text, field)
        path = Path(text).expanduser()
        if not (path.exists() or path.is_symlink()):
            raise SpecError(
                f"{field}: no file at {text!r}; pass an existing image path, a URL, a PIL image or an array",
                field=field,
            )
        return open_image(path, field, text)
    if isinstance(value, np.ndarray):
        return Image.fromarray(array_to_uint8(value, field))
    raise SpecError(
        f"{field}: a {type(value).__name__} is not an image; pass a path, URL, PIL image or H×W×3 array", field=field
    )


def max_bytes(kind: str, field: str) -> int:
    """The byte limit of one local `kind` ("image" or "video") input file (`VIDEOGEN_MAX_IMAGE_BYTES`,
    `VIDEOGEN_MAX_VIDEO_BYTES`)."""
    return int(env_limit(MAX_BYTES_ENV[kind], DEFAULT_MAX_BYTES[kind], field))


def input_kind(field: str) -> str:
    """ "video" for the spec's video field, "image" for the others (their byte limit)."""
    return "video" if field == "video" else "image"


def open_input(path: str | os.PathLike[str], field: str, source: str, kind: str) -> IO[bytes]:
    """A local input file opened for reading, if it is a regular file within its byte limit; a FIFO, device,
    socket, an oversized or unreadable file is a SpecError naming the field."""
    try:
        return open_regular(path, max_bytes(kind, field))
    except OSError as exc:
        raise input_error(exc, field, source, kind) from None


def input_error(exc: OSError, field: str, source: str, kind: str) -> SpecError:
    """The SpecError for an input file that can't be read (`open_regular`'s errors, or any `OSError`)."""
    a_kind = "an image" if kind == "image" else "a video"
    if isinstance(exc, FileNotFoundError):
        return SpecError(f"{field}: no file at {source!r}; pass an existing {kind} file or a URL", field=field)
    if isinstance(exc, NotRegularFileError):
        return SpecError(
            f"{field}: {source!r} is {exc.strerror}; videogen reads only regular files: pass {a_kind} file", field=field
        )
    if isinstance(exc, FileTooLargeError):
        env = MAX_BYTES_ENV[kind]
        return SpecError(
            f"{field}: {source!r} is {exc.strerror}, the limit for {a_kind} input ({env}); pass a smaller file "
            f"or raise {env}",
            field=field,
        )
    why = exc.strerror or exc
    return SpecError(f"{field}: cannot read {source!r} ({why}); pass a readable {kind} file", field=field)


def _max_image_pixels(field: str) -> int:
    return int(env_limit(MAX_IMAGE_PIXELS_ENV, DEFAULT_MAX_IMAGE_PIXELS, field))


def _check_pixels(size: tuple[int, int], field: str, source: str, budget: int, what: str = "") -> None:
    width, height = size
    if width * height > budget:
        raise SpecError(
            f"{field}: {source!r}{what} is {width}×{height} = {width * height:,} pixels, over the limit of "
            f"{budget:,} pixels per image ({MAX_IMAGE_PIXELS_ENV}); pass a smaller image (models run near "
            f"1 megapixel) or raise {MAX_IMAGE_PIXELS_ENV}",
            field=field,
        )


def open_image(path: Path, field: str, source: str, budget: int | None = None) -> Image.Image:
    """An image file as RGB, upright by its EXIF orientation; its size checked before it is decoded."""
    from PIL import Image, ImageOps

    budget = _max_image_pixels(field) if budget is None else budget
    try:
        with open_input(path, field, source, "image") as f, Image.open(f) as img:  # reads the header only
            _check_pixels(img.size, field, source, budget)
            upright = ImageOps.exif_transpose(img)  # as diffusers' load_image does for URLs
            return upright.convert("RGB")
    except SpecError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SpecError(
            f"{field}: {source!r} is too large to decode safely ({exc}); pass a smaller image", field=field
        ) from None
    except Exception as exc:
        raise SpecError(
            f"{field}: {source!r} is not an image PIL can read ({exc}); pass a PNG, JPEG or WebP file", field=field
        ) from None


def array_to_uint8(array: np.ndarray, field: str) -> np.ndarray:
    import numpy as np

    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise SpecError(f"{field}: an image array must be H×W×3 (got shape {array.shape})", field=field)
    array = array[..., :3]
    if array.dtype != np.uint8:
        array = (np.clip(array.astype(np.float64), 0.0, 1.0) * 255).round().astype(np.uint8)
    return array


def to_frames(value: Any, field: str = "video") -> list[Image.Image]:
    """A list of RGB PIL frames from a video path or URL, a folder of images, a list or a T×H×W×3 array."""
    import numpy as np

    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if is_url(text):
            from .fetch import fetch

            with fetch(text, field, "video") as path:
                frames, _ = decode_media(path, field, text, as_pil=True)
            return frames
        check_scheme(text, field)
        path = Path(text).expanduser()
        if not path.exists():
            raise SpecError(
                f"{field}: no file at {text!r}; pass a video path, a folder of frames, a URL, "
                "a list of PIL images or a T×H×W×3 array",
                field=field,
            )
        frames, _ = decode_media(path, field, text, as_pil=True)
        return frames
    if isinstance(value, np.ndarray):
        if value.ndim != 4:
            raise SpecError(f"{field}: a video array must be T×H×W×3 (got shape {value.shape})", field=field)
        return [to_pil(frame, field) for frame in value]
    if isinstance(value, (list, tuple)):
        if not value:
            raise SpecError(f"{field}: the frame list is empty", field=field)
        return [to_pil(frame, field) for frame in value]
    raise SpecError(
        f"{field}: a {type(value).__name__} is not a video; pass a path, URL, list of PIL images or T×H×W×3 array",
        field=field,
    )


def read_video(path: str | os.PathLike, field: str = "video") -> tuple[np.ndarray, float | None]:
    """Frames (uint8 T×H×W×3) and fps of a video file (.mp4 and whatever ffmpeg reads, animated
    .gif/.webp) or a folder of image frames; anything unreadable is a `SpecError(field=field)`."""
    import numpy as np

    source = os.fspath(path)
    path = Path(path).expanduser()
    if not path.exists():
        raise SpecError(f"{field}: no file at {source!r}; pass a video file or a folder of frames", field=field)
    frames, fps = decode_media(path, field, source, as_pil=False)
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise SpecError(
            f"{field}: the frames of {source!r} differ in size ({sorted(shapes)}); every frame "
            "must have the same width and height",
            field=field,
        )
    return np.stack(frames), fps


class _Budget:
    """The frame and total-pixel limits of one video, counted as frames arrive."""

    def __init__(self, field: str, source: str):
        self.field, self.source = field, source
        self.image_pixels = _max_image_pixels(field)
        self.max_frames = int(env_limit(MAX_VIDEO_FRAMES_ENV, DEFAULT_MAX_VIDEO_FRAMES, field))
        self.max_pixels = int(env_limit(MAX_VIDEO_PIXELS_ENV, DEFAULT_MAX_VIDEO_PIXELS, field))
        self.frames = 0
        self.pixels = 0

    def frame_size(self, size: tuple[int, int]) -> None:
        """Refuse a frame size over the per-image pixel limit (before any frame is decoded)."""
        _check_pixels(size, self.field, self.source, self.image_pixels, " (each frame)")

    def add(self, size: tuple[int, int], count: int = 1) -> None:
        """Count `count` more frames of `size`; refuse when a limit is passed."""
        self.frames += count
        self.pixels += size[0] * size[1] * count
        if self.frames > self.max_frames:
            raise SpecError(
                f"{self.field}: {self.source!r} has more than {self.max_frames:,} frames, the limit for a "
                f"video input ({MAX_VIDEO_FRAMES_ENV}); trim the video (models use a few hundred frames at "
                f"most) or raise {MAX_VIDEO_FRAMES_ENV}",
                field=self.field,
            )
        if self.pixels > self.max_pixels:
            raise SpecError(
                f"{self.field}: {self.source!r} holds more than {self.max_pixels:,} pixels over its first "
                f"{self.frames} frames of {size[0]}×{size[1]}, the limit for a video input "
                f"({MAX_VIDEO_PIXELS_ENV}); trim or downscale the video, or raise {MAX_VIDEO_PIXELS_ENV}",
                field=self.field,
            )


def decode_media(path: Path, field: str, source: str, as_pil: bool) -> tuple[list[Any], float | None]:
    """The frames (RGB: PIL images, or uint8 arrays) and fps of a video file or folder of frames."""
    budget = _Budget(field, source)
    if path.is_dir():
        images = _folder_frames(path, field, source, budget)
        if as_pil:
            return images, None
        import numpy as np

        return [np.asarray(f) for f in images], None
    with open_input(path, field, source, "video") as f:  # a regular file within the byte limit
        head = f.read(16)
    if not head:
        raise SpecError(f"{field}: {source!r} is empty (0 bytes); pass a video file", field=field)
    if not is_container(head):
        pil = _pil_frames(path, field, source, budget, as_pil)
        if pil is not None:
            return pil
        if is_url(source):  # a downloaded playlist or concat list could make ffmpeg read this machine's files
            raise SpecError(
                f"{field}: {source!r} is neither an image nor an MP4/MOV, Matroska/WebM or AVI video (a downloaded "
                "video must be one of these); pass an .mp4/.webm/.mov file or an animated .gif/.webp",
                field=field,
            )
    return _ffmpeg_frames(path, field, source, budget, as_pil)


#: ffmpeg's demuxers for the containers `is_container` recognises: all a downloaded video may be read with
REMOTE_DEMUXERS = "mov,matroska,avi"


def is_container(head: bytes) -> bool:
    """Whether the first bytes are those of a video container (MP4/MOV, Matroska/WebM, AVI)."""
    return head[4:8] == b"ftyp" or head[:4] == b"\x1a\x45\xdf\xa3" or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")


def _folder_frames(path: Path, field: str, source: str, budget: _Budget) -> list[Image.Image]:
    try:
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and p.is_file())
    except OSError as exc:
        raise SpecError(f"{field}: cannot list the folder {source!r} ({exc.strerror or exc})", field=field) from None
    if not files:
        raise SpecError(
            f"{field}: the folder {source!r} holds no {'/'.join(FRAME_SUFFIXES)} frames; pass a "
            "folder of image frames or a video file",
            field=field,
        )
    if len(files) > budget.max_frames:
        budget.add((0, 0), len(files))  # refuses: too many frames, before any is decoded
    total, limit = 0, max_bytes("video", field)
    for file in files:
        try:
            total += file.stat().st_size
        except OSError as exc:
            raise input_error(exc, field, str(file), "image") from None
        if total > limit:
            raise input_error(FileTooLargeError(0, f"over {limit:,} bytes of frames"), field, source, "video")
    frames = []
    for file in files:
        frame = open_image(file, field, str(file), budget.image_pixels)
        budget.add(frame.size)
        frames.append(frame)
    return frames


def _pil_frames(
    path: Path, field: str, source: str, budget: _Budget, as_pil: bool
) -> tuple[list[Any], float | None] | None:
    """An animated GIF/WebP/PNG read with PIL; None when PIL does not know the format (ffmpeg's turn)."""
    import numpy as np
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        img = Image.open(path)
    except UnidentifiedImageError:
        return None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SpecError(
            f"{field}: {source!r} is too large to decode safely ({exc}); pass a smaller video", field=field
        ) from None
    except Exception as exc:
        raise SpecError(f"{field}: {source!r} is not a video videogen can read ({exc})", field=field) from None
    with img:
        try:
            n_frames = getattr(img, "n_frames", 1)
            if img.format not in ANIMATED_FORMATS and n_frames <= 1:
                raise SpecError(
                    f"{field}: {source!r} is a still image ({img.format}, one frame), not a video; pass it as "
                    "image= (image-to-video), or pass a video file or a folder of frames as video=",
                    field=field,
                )
            budget.frame_size(img.size)
            budget.add(img.size, n_frames)  # all frames of an animation share the canvas size
            frames = [f.convert("RGB") if as_pil else np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(img)]
            duration = img.info.get("duration")
        except SpecError:
            raise
        except Exception as exc:
            raise SpecError(f"{field}: {source!r} is not a video videogen can read ({exc})", field=field) from None
    if not frames:
        raise SpecError(f"{field}: {source!r} holds no frames; pass a video with frames", field=field)
    fps = 1000.0 / float(duration) if duration else None
    return frames, fps


def _ffmpeg_frames(
    path: Path, field: str, source: str, budget: _Budget, as_pil: bool
) -> tuple[list[Any], float | None]:
    """Frames of anything ffmpeg reads (mp4, mov, mkv, webm, avi, ...), limits checked as they arrive."""
    import imageio_ffmpeg
    import numpy as np
    from PIL import Image

    def unreadable(exc: BaseException) -> SpecError:
        return SpecError(
            f"{field}: {source!r} is not a video videogen can read ({_ffmpeg_reason(exc)}); pass "
            "an .mp4/.webm/.mov file, an animated .gif/.webp or a folder of frames",
            field=field,
        )

    frames: list[Any] = []
    # a generator: the metadata, then raw RGB frames; local files only (a playlist can't make ffmpeg fetch URLs)
    params = ["-protocol_whitelist", "file"]
    if is_url(source):  # downloaded: only the containers `is_container` knows (no playlist or concat demuxer)
        params += ["-format_whitelist", REMOTE_DEMUXERS]
    reader = imageio_ffmpeg.read_frames(str(path), input_params=params)
    try:
        meta = next(reader)
        width, height = meta["size"]
        budget.frame_size((width, height))
        for raw in reader:
            budget.add((width, height))
            array = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
            frames.append(Image.fromarray(array) if as_pil else array)
        fps = meta.get("fps") or None
    except SpecError:
        raise
    except Exception as exc:
        raise unreadable(exc) from None
    finally:
        reader.close()  # stops ffmpeg
    if not frames:
        raise SpecError(f"{field}: {source!r} holds no video frames; pass a video with frames", field=field)
    return frames, fps


def _ffmpeg_reason(exc: BaseException) -> str:
    """The last line of an ffmpeg error (its reason) without the version banner before it."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and not line.startswith("===")]
    reason = lines[-1] if lines else type(exc).__name__
    return reason if len(reason) <= 300 else reason[:300] + "…"
