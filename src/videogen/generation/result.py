"""`VideoResult`: the frames of one generation, its complete spec and metadata; saving and display."""

from __future__ import annotations

import base64
import html
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from ..media.audio import Audio
    from ..spec.videospec import VideoSpec


@dataclass(frozen=True, eq=False)
class VideoResult:
    """Frames (uint8 T×H×W×3), playback fps, the seed used, the complete spec and metadata; `audio`: the sound
    (`videogen.media.audio.Audio`: `waveform` float32 channels × samples, `sample_rate`), None for a silent model."""

    frames: np.ndarray
    fps: int
    seed: int
    spec: VideoSpec
    metadata: dict[str, Any] = field(default_factory=dict)
    audio: Audio | None = None
    #: the notebook display's encoded clip, made on the first display (not the saved file's quality)
    _display: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def frames_sha256(self) -> str:
        """The SHA-256 of the frames' bytes (uint8 T×H×W×3): what `save()` records as `saved.frames_sha256`
        and a replay that makes the same video matches."""
        from ..media.write import frames_sha256

        return frames_sha256(self.frames)

    def save(self, path: str | os.PathLike, overwrite: bool = False, *, crf: int | None = None) -> Path:
        """Write .mp4 (H.264), .gif, .webp or a folder of .png frames, plus the sidecar `<name>.json`
        (`clip.mp4` → `clip.mp4.json`, folder `frames` → `frames.json`) with the metadata and what the save did.

        `crf` (.mp4 only): libx264 quality, 0–51, lower is better and bigger; default 18, visually lossless.
        Odd mp4 sizes are padded to even and GIF rates rounded to 100/n fps, with a `SaveWarning` (details:
        `videogen.media.write.write_video`). Atomic; refuses to replace an existing output unless `overwrite=True`.
        With `audio`, an .mp4 carries the sound as AAC; .gif/.webp/png have none (a `SaveWarning`; `save_audio`).
        Returns the path written.
        """
        from ..media.write import write_frames

        return write_frames(self.frames, path, self.fps, self.metadata, overwrite, crf=crf, audio=self.audio)

    def save_audio(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the sound alone as a 16-bit PCM .wav (atomic; refuses to replace a file unless `overwrite=True`).
        A result without sound raises `SpecError`."""
        from ..errors import SpecError
        from ..media.audio import save_wav

        if self.audio is None:
            raise SpecError(
                f"audio: {self.spec.model!r} makes no sound, so this result has none to save; models with sound: "
                "the ltx2 family (videogen models --family ltx2)",
                field="audio",
            )
        return save_wav(self.audio, path, overwrite)

    def to_pil(self) -> list[Any]:
        """The frames as PIL images."""
        from PIL import Image

        return [Image.fromarray(f) for f in self.frames]

    def __repr__(self) -> str:
        return (
            f"VideoResult({self.num_frames} frames, {self.width}x{self.height}, {self.fps} fps, "
            f"seed={self.seed}, model={self.spec.model!r})"
        )

    def _repr_html_(self) -> str:
        """An inline, playable video with its key settings (Jupyter).

        The clip is encoded once per result, for display: H.264 at CRF `DISPLAY_CRF`, at most
        `DISPLAY_MAX_WIDTH` pixels wide, at most `DISPLAY_MAX_BYTES` (the notebook stores it); a longer clip
        shows its first frames, one that still doesn't fit a still of its first frame, each with a note.
        `save()` writes the full-quality video.
        """
        if "media" not in self._display:
            self._display.update(display_media(self.frames, self.fps, self.audio))
        media, note = self._display["media"], self._display["note"]
        s = self.spec
        rows = {
            "model": s.model,
            "task": s.task,
            "prompt": s.prompt,
            "size": f"{self.width}x{self.height}",
            "frames": self.num_frames,
            "fps": self.fps,
            "steps": s.steps,
            "guidance": s.guidance_scale,
            "seed": self.seed,
            "sound": f"{self.audio.sample_rate} Hz, {self.audio.channels} ch" if self.audio is not None else None,
            "seconds": self.metadata.get("timings", {}).get("total_s"),
        }
        table = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(str(k))}</th>"
            f"<td style='text-align:left'>{html.escape(_short(v))}</td></tr>"
            for k, v in rows.items()
            if v is not None
        )
        caption = f"<div style='font-size:smaller'>{html.escape(note)}</div>" if note else ""
        return (
            "<div style='display:flex;gap:1em;align-items:flex-start'>"
            f"<div>{media}{caption}</div><table>{table}</table></div>"
        )


#: the notebook display's quality: H.264 CRF (the saved default is 18), width and size caps
DISPLAY_CRF, DISPLAY_MAX_WIDTH, DISPLAY_MAX_BYTES = 28, 640, 1_500_000


def _short(value: Any, limit: int = 300) -> str:
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def display_mp4(frames: np.ndarray, fps: float, crf: int = DISPLAY_CRF, audio: Audio | None = None) -> bytes:
    """The frames as a display-quality mp4: scaled down to `DISPLAY_MAX_WIDTH` when wider, even-sized; with
    `audio` as AAC (cut to the frames shown)."""
    import numpy as np

    from ..media.write import write_mp4

    t, h, w = (int(n) for n in frames.shape[:3])
    if w > DISPLAY_MAX_WIDTH:
        from PIL import Image

        size = (DISPLAY_MAX_WIDTH, max(2, round(h * DISPLAY_MAX_WIDTH / w / 2) * 2))
        frames = np.stack([np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BILINEAR)) for f in frames])
    elif h % 2 or w % 2:  # yuv420p: even sizes (edge pixels repeated, as save() does)
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "display.mp4"
        if audio is not None:
            from ..media.audio import fit_to_video

            audio, _ = fit_to_video(audio, t, fps)
        write_mp4(frames, path, {"fps": fps, "crf": crf}, "", audio=audio)
        return path.read_bytes()


def display_media(frames: np.ndarray, fps: float, audio: Audio | None = None) -> dict[str, str]:
    """The HTML of the display (a `<video>`, or an `<img>` still) and its note ("" when the whole clip shows).
    With `audio` the video has sound and starts on a click (browsers play sound only after one)."""
    total = int(frames.shape[0])
    width = min(int(frames.shape[2]) * 2, DISPLAY_MAX_WIDTH)
    data = display_mp4(frames, fps, audio=audio)
    note = ""
    if len(data) > DISPLAY_MAX_BYTES:
        shown = int(total * DISPLAY_MAX_BYTES / len(data) * 0.9)
        if shown >= 2:
            data = display_mp4(frames[:shown], fps, audio=audio)
        if shown < 2 or len(data) > DISPLAY_MAX_BYTES:
            return {"media": _still(frames[0], width), "note": _over_cap(total, "a still of the first frame")}
        note = _over_cap(total, f"the first {shown} of {total} frames")
    attributes = "controls loop" if audio is not None else "controls loop autoplay muted"
    video = (
        f"<video {attributes} width='{width}' src='data:video/mp4;base64,{base64.b64encode(data).decode()}'></video>"
    )
    return {"media": video, "note": note}


def _over_cap(total: int, shown: str) -> str:
    return (
        f"Shown: {shown} (the {total}-frame clip is over the {DISPLAY_MAX_BYTES / 1e6:g} MB kept inline in the "
        "notebook); save() writes the whole video"
    )


def _still(frame: np.ndarray, width: int) -> str:
    import io

    from PIL import Image

    image = Image.fromarray(frame)
    if image.width > DISPLAY_MAX_WIDTH:
        image = image.resize((DISPLAY_MAX_WIDTH, max(1, round(image.height * DISPLAY_MAX_WIDTH / image.width))))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return f"<img width='{width}' src='data:image/jpeg;base64,{base64.b64encode(buffer.getvalue()).decode()}'>"
