"""`VideoSpec`: everything one generation needs, as a frozen value. Pure Python, no torch."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import SpecError

Task = Literal["t2v", "i2v", "flf2v", "v2v", "conditioned"]
TASKS: tuple[str, ...] = ("t2v", "i2v", "flf2v", "v2v", "conditioned")


@dataclass(frozen=True)
class LoRA:
    """One LoRA adapter: a local file/folder or Hub repo id, its weight and an optional adapter name."""

    source: str
    weight: float = 1.0
    name: str | None = None
    weight_name: str | None = None

    @property
    def adapter_name(self) -> str:
        if self.name:
            return self.name
        import hashlib

        return "lora_" + hashlib.sha1(f"{self.source}|{self.weight_name}".encode()).hexdigest()[:10]


@dataclass(frozen=True)
class VideoSpec:
    """What to generate. `None` means "the model's default"; `generate()` returns the completed spec.

    Media fields (`image`, `last_image`, `video`) take a path, a URL, a PIL image (a list of them for
    `video`) or a numpy array (H×W×3, or T×H×W×3 for `video`).
    """

    model: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    image: Any = None
    last_image: Any = None
    video: Any = None
    height: int | None = None
    width: int | None = None
    num_frames: int | None = None
    fps: int | None = None
    steps: int | None = None
    guidance_scale: float | None = None
    seed: int | None = None
    task: Task | None = None
    memory: Any = "auto"
    scheduler: Any = None
    loras: Sequence[Any] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    snap: bool = False
    #: a Hub revision (branch, tag or commit) of `model`; also `model="org/repo@rev"`
    revision: str | None = None

    def __post_init__(self) -> None:
        # Normalise containers so a frozen spec can't be changed behind its back.
        object.__setattr__(self, "extra", dict(self.extra or {}))
        object.__setattr__(self, "loras", tuple(_as_lora(item) for item in (self.loras or ())))
        if self.task is not None and self.task not in TASKS:
            raise SpecError(
                f"task={self.task!r} is not a task videogen knows; use one of {', '.join(TASKS)} "
                "(or leave it out to infer it from the inputs)",
                field="task",
                valid=TASKS,
            )

    def replace(self, **changes: Any) -> VideoSpec:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def inferred_task(self) -> str:
        """The task the inputs imply when `task` is not given."""
        if self.task:
            return self.task
        if self.video is not None:
            return "v2v"
        if self.image is not None and self.last_image is not None:
            return "flf2v"
        if self.image is not None:
            return "i2v"
        return "t2v"

    def summary(self) -> dict[str, Any]:
        """The scalar fields, for metadata and display (media fields described, not embedded)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("image", "last_image", "video"):
                out[f.name] = describe_media(value)
            elif f.name == "loras":
                out[f.name] = [dataclasses.asdict(lora) for lora in value]
            elif f.name == "memory":
                out[f.name] = value if isinstance(value, (str, type(None))) else repr(value)
            elif f.name == "extra":
                out[f.name] = {k: _jsonable(v) for k, v in value.items()}
            else:
                out[f.name] = _jsonable(value)
        return out


SPEC_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(VideoSpec))


def _as_lora(item: Any) -> LoRA:
    if isinstance(item, LoRA):
        return item
    if isinstance(item, str):
        return LoRA(item)
    if isinstance(item, Mapping):
        return LoRA(**item)
    if isinstance(item, (tuple, list)) and 1 <= len(item) <= 3:
        return LoRA(*item)
    raise SpecError(
        f"loras entry {item!r} is not a LoRA; give a path or repo id, a (source, weight[, name]) tuple "
        "or videogen.LoRA(source, weight)",
        field="loras",
    )


def describe_media(value: Any) -> Any:
    """A short, JSON-friendly description of a media input."""
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "size") and hasattr(value, "mode"):  # PIL image
        return f"<PIL image {value.size[0]}x{value.size[1]}>"
    if hasattr(value, "shape"):
        return f"<array {tuple(value.shape)}>"
    if isinstance(value, (list, tuple)):
        return f"<{len(value)} frames>"
    return f"<{type(value).__name__}>"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)
