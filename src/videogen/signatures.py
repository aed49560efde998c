"""Stored signatures of the diffusers classes a spec is checked against (`configs/signatures.json`).

Checking `extra`, `scheduler` and `loras` needs each pipeline's `__call__` parameters (names, simple
annotations, defaults), whether it takes LoRAs, and the schedulers' names and `__init__` parameters. Reading
them from the classes imports torch and diffusers (seconds), so they are stored, generated from the installed
diffusers, and a bad spec is refused in milliseconds. Regenerate after a diffusers upgrade:

    python -m videogen.signatures --write

tests/test_signatures.py regenerates them and compares. At run time the stored data is used only when the
installed diffusers is the version it was generated from; with another version the classes are read live
(exact, but the first check imports diffusers).

Annotations are stored as trees `validate.check_extra_types` understands: "int", "float", "bool", "str",
"None", {"list": item}, {"union": [...]}; anything else (tensors, images, enums, callables) is "other".
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .generated import installed_version, load_if_current, write_or_check

logger = logging.getLogger("videogen")

FILE = Path(__file__).parent / "configs" / "signatures.json"
REGENERATE = "python -m videogen.signatures --write"
_SIMPLE = {int: "int", float: "float", bool: "bool", str: "str", type(None): "None"}


@dataclass(frozen=True, eq=False)
class PipelineSignature:
    """A pipeline class's `__call__` parameters and whether it takes LoRAs."""

    class_name: str
    #: parameter name → {"type": annotation tree, "shown": annotation as text, "default": repr} (each optional)
    params: dict[str, dict[str, Any]]
    takes_loras: bool
    #: the parameter names (what `inspect.signature(cls.__call__).parameters` has, less self)
    names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", frozenset(self.params))


# ---- reading the stored data ---------------------------------------------------------------------
def installed_diffusers_version() -> str | None:
    """The installed diffusers' version without importing it."""
    return installed_version("diffusers")


@cache
def stored() -> dict[str, Any] | None:
    """The stored signatures, or None when they were generated from another diffusers than the installed one."""
    return load_if_current(FILE, "stored signatures", "diffusers", installed_diffusers_version(), REGENERATE)


@cache
def pipeline_signature(class_name: str) -> PipelineSignature:
    """The call signature of pipeline class `class_name`: stored, or read from the class when not stored."""
    data = stored()
    entry = data["pipelines"].get(class_name) if data else None
    if entry is None:
        from .imports import diffusers_attr

        entry = describe_pipeline(diffusers_attr(class_name))
    return PipelineSignature(class_name, entry["call"], entry["lora"])


def scheduler_names() -> list[str]:
    """Every scheduler class name diffusers exports."""
    data = stored()
    if data:
        return list(data["schedulers"])
    return list(_live_scheduler_names())


def scheduler_info(name: str) -> dict[str, Any] | None:
    """What is known of scheduler class `name` without importing it: {"init": [argument names]} for a PyTorch
    scheduler, {"backends": [packages]} for one that needs packages besides torch (its arguments are read from
    the class once they are installed), {"not_pytorch": True}; None when diffusers has no such scheduler."""
    data = stored()
    if data:
        return data["schedulers"].get(name)
    return _live_scheduler_info(name) if name in _live_scheduler_names() else None


@cache
def _live_scheduler_info(name: str) -> dict[str, Any]:
    from .imports import diffusers_attr

    return describe_scheduler(diffusers_attr(name), _optional_backends().get(name))


# ---- describing classes (what the stored data is generated from) ----------------------------------
def annotation_tree(annotation: Any) -> Any:
    """An annotation as a JSON tree: the parts `check_extra_types` checks, "other" for the rest."""
    import types
    import typing

    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return {"union": [annotation_tree(a) for a in typing.get_args(annotation)]}
    if isinstance(annotation, type) and annotation in _SIMPLE:
        return _SIMPLE[annotation]
    if origin is list:
        args = typing.get_args(annotation)
        return {"list": annotation_tree(args[0]) if len(args) == 1 else "other"}
    return "other"


def show_annotation(annotation: Any) -> str:
    """An annotation as text, the same on every Python version (`int | None`, `list[str]`, `torch.Tensor`)."""
    import types
    import typing

    if annotation is type(None) or annotation is None:
        return "None"
    if annotation is Ellipsis:
        return "..."
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, (list, tuple)):
        return "[" + ", ".join(show_annotation(a) for a in annotation) + "]"
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(show_annotation(a) for a in typing.get_args(annotation))
    if origin is typing.Literal:
        return "Literal[" + ", ".join(repr(a) for a in typing.get_args(annotation)) + "]"
    if origin is not None:
        args = typing.get_args(annotation)
        name = show_annotation(origin)
        return f"{name}[{', '.join(show_annotation(a) for a in args)}]" if args else name
    if isinstance(annotation, type):
        if annotation.__module__ == "builtins":
            return annotation.__qualname__
        return f"{annotation.__module__}.{annotation.__qualname__}"
    return repr(annotation).replace("typing.", "")


def describe_parameter(param: Any) -> dict[str, Any]:
    import inspect

    out: dict[str, Any] = {}
    if param.annotation is not inspect.Parameter.empty:
        out["type"] = annotation_tree(param.annotation)
        out["shown"] = show_annotation(param.annotation)
    if param.default is not inspect.Parameter.empty:
        out["default"] = repr(param.default)
    return out


def describe_pipeline(cls: type) -> dict[str, Any]:
    """{"lora": takes LoRAs, "call": {parameter: describe_parameter}} of a pipeline class."""
    import inspect

    params = inspect.signature(cls.__call__).parameters
    return {
        "lora": hasattr(cls, "load_lora_weights"),
        "call": {name: describe_parameter(p) for name, p in params.items() if name != "self"},
    }


def scheduler_init_names(cls: Any) -> list[str]:
    import inspect

    return [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "args", "kwargs")]


def describe_scheduler(cls: Any, backends: list[str] | None = None) -> dict[str, Any]:
    if backends:  # stored the same whether or not the packages are installed here
        return {"backends": list(backends)}
    import diffusers

    if getattr(cls, "_backends", None):  # a diffusers placeholder for a class whose packages are missing
        return {"backends": list(cls._backends)}
    if not (isinstance(cls, type) and issubclass(cls, diffusers.SchedulerMixin)):
        return {"not_pytorch": True}
    return {"init": sorted(scheduler_init_names(cls))}


@cache
def _live_scheduler_names() -> list[str]:
    import diffusers

    return sorted(n for n in dir(diffusers) if n.endswith("Scheduler") and not n.startswith("_"))


@cache
def _optional_backends() -> dict[str, list[str]]:
    """Scheduler classes that need packages besides torch, from diffusers' placeholder modules
    (`diffusers/utils/dummy_*_objects.py`, present whether or not those packages are installed)."""
    import importlib
    import pkgutil

    import diffusers.utils

    out: dict[str, list[str]] = {}
    for module in pkgutil.iter_modules(diffusers.utils.__path__):
        if not (module.name.startswith("dummy_") and module.name.endswith("_objects")):
            continue
        for name, obj in vars(importlib.import_module(f"diffusers.utils.{module.name}")).items():
            backends = getattr(obj, "_backends", None)
            if isinstance(obj, type) and name.endswith("Scheduler") and backends and set(backends) - {"torch"}:
                out[name] = list(backends)
    return out


def generate() -> dict[str, Any]:
    """The stored data, read from the installed diffusers: every catalog pipeline class and every scheduler."""
    import diffusers

    from .families import known_pipeline_classes
    from .imports import diffusers_attr

    backends = _optional_backends()
    return {
        "diffusers": diffusers.__version__,
        "regenerate": REGENERATE,
        "pipelines": {name: describe_pipeline(diffusers_attr(name)) for name in sorted(known_pipeline_classes())},
        "schedulers": {
            name: describe_scheduler(diffusers_attr(name), backends.get(name)) for name in _live_scheduler_names()
        },
    }


def dumps(data: dict[str, Any]) -> str:
    """The stored file's text: one pipeline parameter or scheduler per line (readable diffs)."""

    def one(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = [
        "{",
        f' "diffusers": {one(data["diffusers"])},',
        f' "regenerate": {one(data["regenerate"])},',
        ' "pipelines": {',
    ]
    for i, (name, entry) in enumerate(data["pipelines"].items()):
        lines.append(f'  {one(name)}: {{"lora": {one(entry["lora"])}, "call": {{')
        params = [f"   {one(p)}: {one(d)}" for p, d in entry["call"].items()]
        lines.append(",\n".join(params))
        lines.append("  }}" + ("," if i < len(data["pipelines"]) - 1 else ""))
    lines.append(" },")
    lines.append(' "schedulers": {')
    lines.append(",\n".join(f"  {one(name)}: {one(entry)}" for name, entry in data["schedulers"].items()))
    lines.append(" }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    description = (__doc__ or "").split("\n\n")[0]
    return write_or_check(
        argv, "python -m videogen.signatures", description, FILE, lambda: dumps(generate()), REGENERATE
    )


if __name__ == "__main__":
    raise SystemExit(main())
