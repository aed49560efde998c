"""`MemoryPlan`: where each component lives and which memory features are on. Pure Python, no torch.

A plan has two phases. The load-time part (dtypes, quantization, GGUF, layerwise casting, and the
placements diffusers can't undo: sequential offload and disk offload) is part of the pipeline cache key;
the post-load part (offload hooks, tiling, slicing, chunking, attention backend, compile) is applied to
a loaded pipeline and changed in place when a later spec asks for another one.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecError
from ..spec.numbers import whole_int

PLACEMENTS = ("none", "model", "sequential", "group")
OFFLOAD_TYPES = ("block_level", "leaf_level")
COMPONENT_OFFLOADS = ("resident",) + OFFLOAD_TYPES
COMPILE_KINDS = ("regional", "full")
QUANTIZATIONS = (
    "torchao-int8",
    "torchao-float8",
    "torchao-int4",
    "quanto-int8",
    "quanto-float8",
    "quanto-int4",
    "bnb-8bit",
    "bnb-4bit",
)
LAYERWISE_DTYPES = ("float8_e4m3fn", "float8_e5m2")
#: component names diffusers' video pipelines give their denoisers and text encoders
DENOISERS = ("transformer", "transformer_2", "unet")
TEXT_ENCODERS = ("text_encoder", "text_encoder_2")
#: MemoryPlan fields that are True or False
BOOL_FIELDS = (
    "use_stream",
    "record_stream",
    "low_cpu_mem_usage",
    "vae_tiling",
    "vae_slicing",
    "forward_chunking",
    "compile_fullgraph",
    "oom_retry",
)


def _err(message: str) -> SpecError:
    return SpecError(f"memory: {message}", field="memory")


def _whole(value: Any, name: str, example: int, optional: bool = False) -> int | None:
    """`value` as an int of at least 1 (a whole, finite number, not a bool); None when optional."""
    if value is None and optional:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or (not isinstance(value, numbers.Integral) and (not math.isfinite(value) or value != math.floor(value)))
    ):
        allowed = " (or None)" if optional else ""
        raise _err(f"{name}={value!r} must be a whole number{allowed}, e.g. {name}={example}")
    whole = whole_int(value)
    if whole < 1:
        raise _err(f"{name}={value!r} must be at least 1{' (or None)' if optional else ''}, e.g. {name}={example}")
    return whole


def _choice(value: Any, name: str, choices: tuple[str, ...], optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or value not in choices:
        raise _err(f"{name}={value!r} is not one of {', '.join(choices)}{' (or None)' if optional else ''}")


def _text(value: Any, name: str, example: str) -> str | None:
    """None, or a non-empty string (an os.PathLike becomes its path)."""
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise _err(f"{name}={value!r} must be a non-empty string or None, e.g. {name}={example!r}")
    return value


def _names(value: Any, name: str) -> tuple[str, ...]:
    """A tuple of component names from None, one name or a list of names."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise _err(f"{name}={value!r} must be a list of component names, e.g. {name}=['transformer']")


@dataclass(frozen=True)
class ComponentPlan:
    """Where one component lives under group offload: on the device ("resident") or offloaded by group."""

    offload: str = "block_level"
    blocks_per_group: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.offload, str) or self.offload not in COMPONENT_OFFLOADS:
            raise SpecError(
                f"memory: component offload {self.offload!r} is not one of {', '.join(COMPONENT_OFFLOADS)}",
                field="memory",
            )
        object.__setattr__(
            self, "blocks_per_group", _whole(self.blocks_per_group, "components: blocks_per_group", 1, optional=True)
        )


def _pairs(value: Any, what: str, convert: Any = None) -> tuple[tuple[str, Any], ...]:
    """A mapping (or pairs) as sorted (name, value) pairs, so the frozen plan stays hashable."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, (str, bytes)):
        items = None
    else:
        try:
            items = [(k, v) for k, v in value]
        except (TypeError, ValueError):
            items = None
    if items is None:
        raise _err(f"{what} must be a mapping of component name to value, not {value!r}")
    out: dict[str, Any] = {}
    for key, item in items:
        if not isinstance(key, str) or not key:
            raise _err(f"{what}: key {key!r} must be a component name (a string), e.g. 'transformer'")
        if key in out:
            raise _err(f"{what}: {key!r} is given twice")
        out[key] = convert(item, f"{what}[{key!r}]") if convert else item
    return tuple(sorted(out.items(), key=lambda pair: pair[0]))


def _dtype_name(value: Any, label: str) -> str:
    if not isinstance(value, str):
        raise _err(f"{label}={value!r} must be a dtype name: 'float32', 'float16' or 'bfloat16'")
    return value


def _gguf_path(value: Any, label: str) -> str:
    path = _text(value, label, "/models/wan-q4.gguf")
    if path is None:
        raise _err(f"{label}=None: give a .gguf file path (or leave the component out)")
    return path


def _component_plan(value: Any, label: str = "components") -> ComponentPlan:
    if isinstance(value, ComponentPlan):
        return value
    if isinstance(value, str):
        return ComponentPlan(value)
    if isinstance(value, Mapping):
        names = [f.name for f in dataclasses.fields(ComponentPlan)]
        unknown = [k for k in value if k not in names]
        if unknown:
            raise _err(
                f"{label}: {unknown[0]!r} is not a ComponentPlan field; it takes {', '.join(names)}, e.g. "
                "{'offload': 'block_level', 'blocks_per_group': 2}"
            )
        return ComponentPlan(**value)
    raise _err(
        f"{label}: a component placement is 'resident', 'block_level', 'leaf_level' or a ComponentPlan, not {value!r}"
    )


@dataclass(frozen=True)
class MemoryPlan:
    """Where each component lives and which memory features are on (see docs/memory.md).

    Mapping fields (`components`, `dtypes`, `gguf`) accept dicts; they are stored as sorted pairs.
    """

    name: str = "custom"
    #: "none" (everything on the device), "model" / "sequential" (accelerate CPU offload, GPU only) or
    #: "group" (diffusers group offload; runs with the CPU as the onload device too)
    placement: str = "none"
    #: group offload: default granularity for components without an entry in `components`
    offload_type: str = "block_level"
    blocks_per_group: int = 1
    use_stream: bool = False
    record_stream: bool = False
    low_cpu_mem_usage: bool = False
    #: group offload to this folder instead of RAM (can't be undone: part of the load key)
    offload_to_disk: str | None = None
    #: group offload per component: name → "resident" | "block_level" | "leaf_level" | ComponentPlan
    components: Any = ()
    vae_tiling: bool = False
    vae_slicing: bool = False
    #: frames the VAE decodes at a time, for pipelines that take `decode_chunk_size` (SVD, I2VGen-XL)
    decode_chunk_size: int | None = None
    #: UNet feed-forward chunking (UNet3DConditionModel, I2VGenXLUNet, UNetSpatioTemporalConditionModel)
    forward_chunking: bool = False
    #: store weights in this float8 dtype, compute in the component's dtype (denoisers by default)
    layerwise_casting: str | None = None
    layerwise_components: tuple[str, ...] = ()
    #: load-time quantization: "torchao-int8", "quanto-int8", "bnb-4bit", ... (see QUANTIZATIONS)
    quantization: str | None = None
    #: components to quantize (default: the denoisers and text encoders)
    quantize_components: tuple[str, ...] = ()
    #: a GGUF file for the denoiser (a path), or component name → path
    gguf: Any = ()
    #: None, "regional" (compile_repeated_blocks; also `True`) or "full" (the whole denoiser)
    compile: str | bool | None = None
    compile_mode: str | None = None
    compile_fullgraph: bool = False
    #: diffusers attention backend for the denoiser ("native", "flash", "sage", ...)
    attention_backend: str | None = None
    #: component → dtype name ("bfloat16"); overrides the card's dtypes
    dtypes: Any = ()
    #: on a GPU out-of-memory error, free the attempt and retry once with the next more frugal plan
    oom_retry: bool = False
    #: what resolving the plan against the family and machine changed (not part of equality)
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.name, str) or not self.name:
            raise _err(f"name={self.name!r} must be a non-empty string, e.g. name='custom'")
        for name in BOOL_FIELDS:
            if not isinstance(getattr(self, name), bool):
                raise _err(f"{name}={getattr(self, name)!r} must be True or False")
        set_(self, "components", _pairs(self.components, "components", _component_plan))
        set_(self, "dtypes", _pairs(self.dtypes, "dtypes", _dtype_name))
        gguf = self.gguf
        if isinstance(gguf, (str, os.PathLike)):
            gguf = {"transformer": gguf}
        set_(self, "gguf", _pairs(gguf or (), "gguf", _gguf_path))
        if self.compile is True:
            set_(self, "compile", "regional")  # regional compile is the default kind
        elif self.compile is False:
            set_(self, "compile", None)
        for name in ("layerwise_components", "quantize_components"):
            set_(self, name, _names(getattr(self, name), name))
        set_(self, "notes", tuple(self.notes or ()))
        _choice(self.placement, "placement", PLACEMENTS)
        _choice(self.offload_type, "offload_type", OFFLOAD_TYPES)
        _choice(self.compile, "compile", COMPILE_KINDS, optional=True)
        _choice(self.quantization, "quantization", QUANTIZATIONS, optional=True)
        _choice(self.layerwise_casting, "layerwise_casting", LAYERWISE_DTYPES, optional=True)
        set_(self, "blocks_per_group", _whole(self.blocks_per_group, "blocks_per_group", 1))
        set_(self, "decode_chunk_size", _whole(self.decode_chunk_size, "decode_chunk_size", 8, optional=True))
        set_(self, "offload_to_disk", _text(self.offload_to_disk, "offload_to_disk", "/tmp/offload"))
        if self.compile_mode is not None and not isinstance(self.compile_mode, str):
            raise _err(
                f"compile_mode={self.compile_mode!r} must be None or a torch.compile mode name, e.g. "
                "compile_mode='max-autotune-no-cudagraphs'"
            )
        set_(self, "attention_backend", _text(self.attention_backend, "attention_backend", "native"))

    # ---- views ---------------------------------------------------------------------------------
    def replace(self, **changes: Any) -> MemoryPlan:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def component(self, name: str) -> ComponentPlan | None:
        return dict(self.components).get(name)

    def load_part(self) -> tuple:
        """What `from_pretrained` and irreversible hooks depend on: hashable, part of the cache key."""
        irreversible: tuple = ()
        if self.placement == "sequential":
            irreversible = ("sequential",)
        elif self.placement == "group" and self.offload_to_disk:  # disk groups can't be undone either
            irreversible = (
                self.placement,
                self.offload_type,
                self.blocks_per_group,
                self.use_stream,
                self.record_stream,
                self.low_cpu_mem_usage,
                self.components,
                self.offload_to_disk,
            )
        return (
            self.dtypes,
            self.quantization,
            self.quantize_components,
            self.gguf,
            self.layerwise_casting,
            self.layerwise_components,
            irreversible,
        )

    def summary(self) -> dict[str, Any]:
        """The fields that differ from the defaults, JSON-friendly (for result metadata)."""
        out: dict[str, Any] = {"name": self.name}
        default = MemoryPlan()
        for f in dataclasses.fields(self):
            if f.name in ("name", "notes"):
                continue
            value = getattr(self, f.name)
            if value != getattr(default, f.name):
                if f.name == "components":
                    value = {k: (v.offload if v.blocks_per_group is None else dataclasses.asdict(v)) for k, v in value}
                elif f.name in ("dtypes", "gguf"):
                    value = dict(value)
                elif isinstance(value, tuple):
                    value = list(value)
                out[f.name] = value
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain data, losslessly: its name and each field that differs from the defaults (mappings
        as dicts, tuples as lists); `MemoryPlan.from_dict` (or a spec's `memory=`) reads it back to an equal plan."""
        return self.summary()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MemoryPlan:
        """The plan of a `to_dict` dict; unknown fields are a SpecError with the closest field name."""
        if not isinstance(data, Mapping):
            raise _err(f"{data!r} is not a dict of MemoryPlan fields, e.g. {{'vae_tiling': True}}")
        return plan_from(data)

    def describe(self) -> str:
        """One line: the name and its non-default fields."""
        fields = {k: v for k, v in self.summary().items() if k not in ("name", "notes")}
        return self.name + (" (" + ", ".join(f"{k}={v}" for k, v in fields.items()) + ")" if fields else "")


def plan_from(value: Any) -> MemoryPlan:
    """A MemoryPlan from a MemoryPlan or a dict of its fields (unknown keys are a SpecError)."""
    if isinstance(value, MemoryPlan):
        return value
    if isinstance(value, Mapping):
        names = {f.name for f in dataclasses.fields(MemoryPlan)}
        for key in value:
            if not isinstance(key, str):
                raise SpecError(
                    f"memory: key {key!r} must be a MemoryPlan field name (a string), e.g. {{'vae_tiling': True}}",
                    field="memory",
                )
        unknown = sorted(set(value) - names)
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], sorted(names), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SpecError(
                f"memory: {unknown[0]!r} is not a MemoryPlan field{hint}; fields: "
                f"{', '.join(sorted(names - {'notes'}))}",
                field="memory",
            )
        return MemoryPlan(**{"name": "custom", **value})
    raise SpecError(
        f"memory={value!r} is not a preset name, 'auto', a MemoryPlan or a dict of its fields", field="memory"
    )
