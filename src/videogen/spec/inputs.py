"""The spec's inputs (its media fields), in one table: what each one is, how it is read and how the command line
names it. Everything that handles inputs reads this table — the readers (`generation.flow.load_media` through
`media.inputs.read_input`), spec files and hashes (`spec.plain`, `spec.files`), replay, the command line's flags,
the server's refusal of named files and its upload fields (`serve/uploads.py`) — so a new input is one row here
and one field in `VideoSpec` (a test checks the two agree). Which tasks and families take an input is checked
before load (`checks.rules.check_task`, `Family.inputs`). Pure Python.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

#: how an input is read: one image; one video (a file, a folder of frames, frames); an image or a video (a mask:
#: one image for every frame, or one per frame); one or several images
Kind = Literal["image", "video", "image_or_video", "images"]


@dataclass(frozen=True)
class Input:
    """One media field of `VideoSpec`."""

    name: str
    kind: Kind
    #: what it is, for the command line's help and messages
    help: str
    #: the command line's option when it isn't `--name` (`--reference-image`, repeatable)
    option: str | None = None

    @property
    def flag(self) -> str:
        return self.option or "--" + self.name.replace("_", "-")

    @property
    def byte_kind(self) -> str:
        """Which byte limit a file of this input is held to (`media.read.max_bytes`): "image" or "video"."""
        return "video" if self.kind in ("video", "image_or_video") else "image"


#: every media field of VideoSpec, in its field order
INPUTS: dict[str, Input] = {
    i.name: i
    for i in (
        Input("image", "image", "path or URL of the (first) image; Wan Animate: the character"),
        Input("last_image", "image", "path or URL of the last image (first-last-frame models)"),
        Input(
            "video",
            "video",
            "path or URL of the input video, or a folder of frames (VACE: the control or source video; Wan "
            "Animate's replace: the video whose character is replaced)",
        ),
        Input(
            "mask",
            "image_or_video",
            "path or URL of a mask, white where the video is generated: one image for every frame or a video "
            "(VACE in/outpainting with --video; Wan Animate's replace: where the character is)",
        ),
        Input(
            "reference_images",
            "images",
            "path or URL of a reference image (VACE: subjects or style; repeatable)",
            option="--reference-image",
        ),
        Input("pose_video", "video", "path or URL of the driving pose video (Wan Animate)"),
        Input("face_video", "video", "path or URL of the driving face video (Wan Animate)"),
    )
}
#: the input fields: a path or URL in a spec file (a list of them for `images` inputs)
MEDIA_FIELDS: tuple[str, ...] = tuple(INPUTS)
#: the most images an `images` input takes (each within the image limits of docs/inputs.md)
MAX_IMAGES = 16


def items(name: str, value: Any) -> Iterator[tuple[str, Any]]:
    """Each file-like item of input `name` with the label messages and hashes use: (`name`, value) for one item,
    (`name[i]`, item) for each entry of an `images` input given as a list."""
    if INPUTS[name].kind == "images" and isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield f"{name}[{i}]", item
    elif value is not None:
        yield name, value


def is_reference(value: Any) -> bool:
    """Whether an input item is a path or URL (what a spec file holds), not pixels in memory."""
    return isinstance(value, (str, os.PathLike))
