"""`VideoSpec`: everything one generation needs, as a frozen value. Pure Python, no torch."""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import SpecError
from .inputs import MEDIA_FIELDS
from .plain import describe_media  # noqa: F401 - also named here: what metadata and messages call an input

Task = Literal["t2v", "i2v", "flf2v", "v2v", "conditioned", "extend", "animate", "replace"]
TASKS: tuple[str, ...] = ("t2v", "i2v", "flf2v", "v2v", "conditioned", "extend", "animate", "replace")
#: how an input image meets the video's size (`VideoSpec.fit`, videogen.checks.fit, docs/inputs.md); first: default
FITS: tuple[str, ...] = ("follow", "crop", "pad", "stretch")


@dataclass(frozen=True)
class LoRA:
    """One LoRA adapter: a local file/folder or Hub repo id, its weight and an optional adapter name."""

    source: str
    weight: float = 1.0
    name: str | None = None
    weight_name: str | None = None

    def __post_init__(self) -> None:
        source = self.source
        if isinstance(source, os.PathLike):
            source = os.fspath(source)
        if not isinstance(source, str) or not source.strip():
            raise SpecError(
                f"loras: source {self.source!r} must be a path or Hub repo id (a non-empty string), "
                "e.g. LoRA('style.safetensors', 0.8)",
                field="loras",
            )
        object.__setattr__(self, "source", source)
        weight = self.weight
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not math.isfinite(weight):
            raise SpecError(f"loras: weight {weight!r} of {source} must be a finite number, e.g. 0.8", field="loras")
        if abs(weight) > MAX_LORA_WEIGHT:
            raise SpecError(
                f"loras: weight {weight!r} of {source} must be between -{MAX_LORA_WEIGHT} and "
                f"{MAX_LORA_WEIGHT} (it scales the adapter's update; beyond that it swamps the "
                "model's own weights), e.g. 0.8",
                field="loras",
            )
        object.__setattr__(self, "weight", float(weight))
        if self.name is not None and (not isinstance(self.name, str) or not ADAPTER_NAME.fullmatch(self.name)):
            raise SpecError(
                f"loras: name {self.name!r} of {source} must be None or letters, digits, '_' and '-' "
                "(an adapter name; no dots or spaces), e.g. name='style'",
                field="loras",
            )
        if self.weight_name is not None and (not isinstance(self.weight_name, str) or not self.weight_name.strip()):
            raise SpecError(
                f"loras: weight_name {self.weight_name!r} of {source} must be None or a file name "
                "in the repo, e.g. weight_name='pytorch_lora_weights.safetensors'",
                field="loras",
            )

    @property
    def adapter_name(self) -> str:
        if self.name:
            return self.name
        import hashlib

        return "lora_" + hashlib.sha1(f"{self.source}|{self.weight_name}".encode()).hexdigest()[:10]


@dataclass(frozen=True)
class VideoSpec:
    """What to generate. `None` means "the model's default"; `generate()` returns the completed spec.

    Media fields (`image`, `last_image`, `video`, `mask`, `reference_images`, `pose_video`, `face_video`: the
    table `spec.inputs.INPUTS`, docs/inputs.md) take a path, a URL, a PIL image (a list of them for a video) or a
    numpy array (H×W×3, or T×H×W×3 for a video); `reference_images` one image or a list of them.
    """

    model: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    image: Any = None
    last_image: Any = None
    video: Any = None
    #: white where the video is generated: an image (every frame) or a video (VACE with `video`; Wan Animate's
    #: replace: where the character is)
    mask: Any = None
    #: one image or a list of them (VACE: subjects, style)
    reference_images: Any = None
    #: the driving videos of Wan Animate (task "animate"; "replace" with `video` and `mask`)
    pose_video: Any = None
    face_video: Any = None
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
    #: step cache (docs/speed.md): None/"none", a method ("fbc", "taylorseer", "magcache", "pab",
    #: "fastercache"), "auto" (the model's best), or {"method": name, **knobs}; checked in validate.complete
    cache: Any = None
    #: context parallelism for one video over several GPUs under torchrun (docs/scale.md): None, "ulysses=2",
    #: "ring=2", "ulysses=2,ring=2" or {"ulysses": 2, "ring": 1}; stored as {"ulysses": u, "ring": r}
    parallel: Any = None
    #: how an input image meets the video's size (docs/inputs.md): "follow" (the video takes the image's aspect
    #: ratio when height/width aren't given; an image of another shape is center-cropped to a given size),
    #: "crop", "pad" (black bars) or "stretch"
    fit: str = "follow"
    #: sound (docs/sound.md): None (with sound where the model makes it: LTX-2), False (a silent result and file),
    #: True (a model that makes sound is required: a silent one is a SpecError)
    audio: bool | None = None

    def __post_init__(self) -> None:
        # Normalise containers so a frozen spec can't be changed behind its back.
        object.__setattr__(self, "extra", _as_extra(self.extra))
        object.__setattr__(self, "loras", _as_loras(self.loras))
        object.__setattr__(self, "parallel", _as_parallel(self.parallel))
        if isinstance(self.cache, Mapping):  # a copy: the frozen spec's setting can't change behind its back
            object.__setattr__(self, "cache", copy.deepcopy(dict(self.cache)))
        elif self.cache is not None and not isinstance(self.cache, str):
            raise SpecError(
                f"cache={self.cache!r} must be None, a method name or a dict {{'method': name, **knobs}}, "
                "e.g. cache='taylorseer' (see docs/speed.md)",
                field="cache",
            )
        if self.task is not None and (not isinstance(self.task, str) or self.task not in TASKS):
            raise SpecError(
                f"task={self.task!r} is not a task videogen knows; use one of {', '.join(TASKS)} "
                "(or leave it out to infer it from the inputs)",
                field="task",
                valid=TASKS,
            )
        if self.fit is None:  # a spec file's null: the default
            object.__setattr__(self, "fit", FITS[0])
        if not isinstance(self.fit, str) or self.fit not in FITS:
            raise SpecError(
                f"fit={self.fit!r} is not a way to fit an input image to the video; use one of "
                f"{', '.join(repr(f) for f in FITS)} (default 'follow': the video takes the image's aspect ratio "
                "when height/width aren't given), e.g. fit='pad'",
                field="fit",
                valid=FITS,
            )
        if self.audio is not None and not isinstance(self.audio, bool):
            raise SpecError(
                f"audio={self.audio!r} must be None (sound where the model makes it), True or False, e.g. audio=False",
                field="audio",
                valid=(None, True, False),
            )
        revision = self.revision
        if revision is not None and (
            not isinstance(revision, str) or not revision or any(c.isspace() for c in revision)
        ):
            raise SpecError(
                f"revision={revision!r} must be None or a Hub branch, tag or commit hash (a non-empty string "
                "without spaces), e.g. revision='main'",
                field="revision",
            )

    def replace(self, **changes: Any) -> VideoSpec:
        """A copy with some fields changed (a completed spec stays a `CompleteSpec`)."""
        return dataclasses.replace(self, **changes)

    def __eq__(self, other: object) -> bool:
        """Equal when every field is: a completed spec equals the plain spec with the same values."""
        if not isinstance(other, VideoSpec):
            return NotImplemented
        names = [f.name for f in dataclasses.fields(VideoSpec)]  # as dataclasses compare: tuples (identity first)
        return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)

    def inferred_task(self) -> str:
        """The task the inputs imply when `task` is not given."""
        if self.task:
            return self.task
        if self.pose_video is not None or self.face_video is not None:  # Wan Animate's driving videos
            return "replace" if self.video is not None or self.mask is not None else "animate"
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
            if f.name in MEDIA_FIELDS:
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

    def to_dict(self, *, compact: bool = False) -> dict[str, Any]:
        """Every field as plain, JSON-able data that `from_dict` turns back into this spec (docs/specfiles.md):
        inputs as path/URL strings (an in-memory image or frame list is a SpecError: save it, pass its path), a
        `MemoryPlan` as the dict of its fields, LoRAs as dicts. `compact` leaves out fields at their default."""
        from .plain import to_plain

        return to_plain(self, compact)

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        source: str | os.PathLike[str] | None = None,
        entry: str | int | None = None,
        base: str | os.PathLike[str] | None = None,
    ) -> VideoSpec:
        """The spec of a `to_dict` dict (or a spec file's entry). Unknown keys and wrong types are SpecErrors
        naming `source` and `entry` (a file and its line or index) and the field; relative input paths resolve
        against `base`. A memory plan stays the dict of its fields (`generate` reads it as that `MemoryPlan`)."""
        from .plain import from_plain

        return from_plain(cls, data, source=source, entry=entry, base=base)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> VideoSpec:
        """The one spec in a .json, .jsonl, .yaml/.yml or .toml file (`videogen.load_specs` reads a list);
        relative input paths resolve against the file's folder."""
        from .formats import read_entries

        entries = read_entries(path)
        if len(entries) != 1:
            raise SpecError(
                f"{os.fspath(path)}: holds {len(entries)} specs and VideoSpec.from_file reads one; "
                "use videogen.load_specs(path) for a list",
                field="spec",
            )
        entry, data = entries[0]
        base = os.path.dirname(os.path.abspath(os.path.expanduser(os.fspath(path))))
        return cls.from_dict(data, source=path, entry=entry, base=base)


SPEC_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(VideoSpec))


#: |weight| of a LoRA above this is refused (see LoRA.__post_init__)
MAX_LORA_WEIGHT = 100.0
#: what peft accepts as an adapter name (it becomes a module key: no dots)
ADAPTER_NAME = re.compile(r"[A-Za-z0-9_\-]+")
LORA_FORMS = (
    "give a path or Hub repo id, a (source, weight[, name]) tuple, a dict with source/weight/name/"
    "weight_name, or videogen.LoRA(source, weight) — or a list of these"
)


def _as_extra(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SpecError(
            f"extra={value!r} must be a dict of keyword arguments for the pipeline, e.g. "
            "extra={'max_sequence_length': 256}",
            field="extra",
        )
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise SpecError(
            f"extra: key {bad[0]!r} must be a string (the name of a pipeline argument), e.g. "
            "extra={'max_sequence_length': 256}",
            field="extra",
        )
    return dict(value)


#: the kinds of context parallelism (`VideoSpec.parallel`), in their canonical order
PARALLEL_KINDS: tuple[str, ...] = ("ulysses", "ring")
#: a degree above this is refused (more GPUs than one job gets)
MAX_PARALLEL_DEGREE = 1024
PARALLEL_FORMS = (
    "give None, 'ulysses=N', 'ring=N', 'ulysses=N,ring=M' or a dict {'ulysses': N, 'ring': M} (whole degrees "
    "of at least 1 whose product, the GPU count, is at least 2), e.g. parallel='ulysses=2'"
)


def _as_parallel(value: Any) -> dict[str, int] | None:
    """`parallel` as {"ulysses": u, "ring": r} (both keys, JSON-able), or None for no parallelism."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "none"):
            return None
        pairs: list[tuple[Any, Any]] = []
        for part in text.split(","):
            match = re.fullmatch(r"\s*([a-z_]+)\s*=\s*([0-9]+)\s*", part)
            if match is None:
                raise SpecError(
                    f"parallel={value!r}: {part.strip()!r} is not kind=N; {PARALLEL_FORMS}", field="parallel"
                )
            pairs.append((match[1], int(match[2])))
    elif isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        raise SpecError(f"parallel={value!r} is not a parallelism setting; {PARALLEL_FORMS}", field="parallel")
    out = dict.fromkeys(PARALLEL_KINDS, 1)
    seen: set[Any] = set()
    for kind, degree in pairs:
        if kind not in PARALLEL_KINDS or kind in seen:
            what = "is given twice" if kind in seen else f"is not one of {', '.join(PARALLEL_KINDS)}"
            raise SpecError(f"parallel={value!r}: {kind!r} {what}; {PARALLEL_FORMS}", field="parallel")
        if (
            isinstance(degree, bool)
            or not isinstance(degree, numbers.Integral)
            or not 1 <= int(degree) <= MAX_PARALLEL_DEGREE
        ):
            raise SpecError(
                f"parallel={value!r}: {kind} degree {degree!r} must be a whole number from 1 to "
                f"{MAX_PARALLEL_DEGREE}; {PARALLEL_FORMS}",
                field="parallel",
            )
        seen.add(kind)
        out[kind] = int(degree)
    if out["ulysses"] * out["ring"] < 2:
        raise SpecError(
            f"parallel={value!r} splits over one GPU, which is no parallelism: leave parallel out, or {PARALLEL_FORMS}",
            field="parallel",
        )
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _as_loras(value: Any) -> tuple[LoRA, ...]:
    """`loras` as a tuple of LoRA: one LoRA (a path, a LoRA, a dict, a (source, weight) pair) or a list."""
    if value is None:
        return ()
    if isinstance(value, (str, os.PathLike, LoRA, Mapping)):
        return (_as_lora(value),)
    if isinstance(value, (list, tuple)):
        # ("style.safetensors", 0.8): one LoRA with its weight (a number is never a LoRA of its own)
        if 2 <= len(value) <= 3 and isinstance(value[0], (str, os.PathLike)) and _is_number(value[1]):
            return (_as_lora(value),)
        return tuple(_as_lora(item) for item in value)
    raise SpecError(f"loras={value!r} is not a LoRA or a list of them; {LORA_FORMS}", field="loras")


def _as_lora(item: Any) -> LoRA:
    if isinstance(item, LoRA):
        return item
    if isinstance(item, (str, os.PathLike)):
        return LoRA(os.fspath(item))
    if isinstance(item, Mapping):
        names = [f.name for f in dataclasses.fields(LoRA)]
        unknown = [k for k in item if k not in names]
        if unknown or "source" not in item:
            what = f"has unknown key {unknown[0]!r}" if unknown else "has no 'source'"
            raise SpecError(
                f"loras entry {item!r} {what}; a LoRA dict takes {', '.join(names)} (source "
                "required), e.g. {'source': 'style.safetensors', 'weight': 0.8}",
                field="loras",
            )
        return LoRA(**item)
    if isinstance(item, (tuple, list)) and 1 <= len(item) <= 3:
        return LoRA(*item)
    raise SpecError(f"loras entry {item!r} is not a LoRA; {LORA_FORMS}", field="loras")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


#: the fields `checks.rules.complete` fills: never None in a `CompleteSpec`
FILLED = ("task", "height", "width", "num_frames", "fps", "steps", "guidance_scale", "seed")


@dataclass(frozen=True, eq=False)
class CompleteSpec(VideoSpec):
    """A spec after its card's defaults and rules were applied (what `prepare` and `generate` hand on and
    `VideoResult.spec` holds): the task, size, frames, fps, steps, guidance and seed are filled."""

    task: Task = None  # type: ignore[assignment]  # filled: checked in __post_init__
    height: int = None  # type: ignore[assignment]
    width: int = None  # type: ignore[assignment]
    num_frames: int = None  # type: ignore[assignment]
    fps: int = None  # type: ignore[assignment]
    steps: int = None  # type: ignore[assignment]
    guidance_scale: float = None  # type: ignore[assignment]
    seed: int = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        super().__post_init__()
        missing = [name for name in FILLED if getattr(self, name) is None]
        if missing:
            raise TypeError(f"CompleteSpec needs {', '.join(missing)} filled (checks.rules.complete fills them)")

    def replace(self, **changes: Any) -> CompleteSpec:
        """A copy with some fields changed, still completed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def of(cls, spec: VideoSpec, **filled: Any) -> CompleteSpec:
        """`spec` with `filled` set, as a completed spec."""
        values = {f.name: getattr(spec, f.name) for f in dataclasses.fields(VideoSpec) if f.init}
        return cls(**(values | filled))
