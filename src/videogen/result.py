"""`VideoResult`: the frames of one generation, its complete spec and metadata; saving and display."""

from __future__ import annotations

import base64
import html
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from .spec import VideoSpec


@dataclass(frozen=True, eq=False)
class VideoResult:
    """Frames (uint8 T×H×W×3), playback fps, the seed used, the complete spec and metadata."""

    frames: np.ndarray
    fps: int
    seed: int
    spec: VideoSpec
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    def save(self, path: str | os.PathLike, overwrite: bool = False, *, crf: int | None = None) -> Path:
        """Write .mp4 (H.264), .gif, .webp or a folder of .png frames, plus the sidecar `<name>.json`
        (`clip.mp4` → `clip.mp4.json`, folder `frames` → `frames.json`) with the metadata and what the save did.

        `crf` (.mp4 only): libx264 quality, 0–51, lower is better and bigger; default 18, visually lossless.
        Odd mp4 sizes are padded to even and GIF rates rounded to 100/n fps, with a `SaveWarning` (details:
        `videogen.writers.write_video`). Atomic; refuses to replace an existing output unless `overwrite=True`.
        Returns the path written.
        """
        from .writers import _write

        return _write(self.frames, path, self.fps, self.metadata, overwrite, crf=crf)

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
        """An inline, playable video with its key settings (Jupyter)."""
        from .writers import SaveWarning, write_video

        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore", SaveWarning)  # an odd size padded for display is no news
            clip = write_video(self.frames, Path(tmp) / "clip.mp4", self.fps)
            data = base64.b64encode(clip.read_bytes()).decode()
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
            "seconds": self.metadata.get("timings", {}).get("total_s"),
        }
        table = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(str(k))}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in rows.items()
            if v is not None
        )
        return (
            "<div style='display:flex;gap:1em;align-items:flex-start'>"
            f"<video controls loop autoplay muted width='{min(self.width * 2, 640)}' "
            f"src='data:video/mp4;base64,{data}'></video>"
            f"<table>{table}</table></div>"
        )
