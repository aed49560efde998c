"""Stored signatures of the diffusers classes a spec is checked against (`configs/signatures.json`).

Checking `extra`, `scheduler` and `loras` needs each pipeline's `__call__` parameters (names, simple
annotations, defaults), whether it takes LoRAs, which timestep arguments its `__call__` hands the scheduler's
`set_timesteps` (`schedule`), and the schedulers' names, `__init__` parameters (annotations, defaults),
`set_timesteps` parameters and compatible classes. Reading
them from the classes imports torch and diffusers (seconds), so they are stored, generated from the installed
diffusers, and a bad spec is refused in milliseconds. Regenerate after a diffusers upgrade:

    python -m videogen.catalog.signatures --write

tests/catalog/test_signatures.py regenerates them and compares. At run time the stored data is used only when the
installed diffusers is the version it was generated from; with another version the classes are read live
(exact, but the first check imports diffusers).

Annotations are stored as trees `callcheck._fits` understands: "int", "float", "bool", "str", "None",
{"list": item}, {"union": [...]}, {"literal": [values]}; anything else (tensors, images, enums, callables) is
"other".
"""

from __future__ import annotations

import json
import logging
import numbers
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..runtime.stamps import installed_version, load_if_current, write_or_check

logger = logging.getLogger("videogen")

FILE = Path(__file__).resolve().parent.parent / "families" / "configs" / "signatures.json"
REGENERATE = "python -m videogen.catalog.signatures --write"
_SIMPLE = {int: "int", float: "float", bool: "bool", str: "str", type(None): "None"}


@dataclass(frozen=True, eq=False)
class PipelineSignature:
    """A pipeline class's `__call__` parameters, whether it takes LoRAs and what it passes `set_timesteps`."""

    class_name: str
    #: parameter name → {"type": annotation tree, "shown": annotation as text, "default": repr} (each optional)
    params: dict[str, dict[str, Any]]
    takes_loras: bool
    #: timestep argument the call hands the scheduler's `set_timesteps` (directly or through diffusers'
    #: `retrieve_timesteps`: "timesteps", "sigmas", "mu") → None when it always passes one (computed in the
    #: call), else the `__call__` parameter it passes on (only when the caller gives it)
    schedule: dict[str, str | None] = field(default_factory=dict)
    #: the call sets the scheduler's begin index (`set_begin_index`), so its steps count from there rather than
    #: look their timestep up in the schedule
    begin_index: bool = False
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
        from ..runtime.lock import diffusers_attr

        entry = describe_pipeline(diffusers_attr(class_name))
    return PipelineSignature(
        class_name, entry["call"], entry["lora"], entry.get("schedule", {}), entry.get("begin_index", False)
    )


def scheduler_names() -> list[str]:
    """Every scheduler class name diffusers exports."""
    data = stored()
    if data:
        return list(data["schedulers"])
    return list(_live_scheduler_names())


def scheduler_info(name: str) -> dict[str, Any] | None:
    """What is known of scheduler class `name` without importing it: for a PyTorch scheduler {"init": {argument:
    describe_parameter}, "set_timesteps": [its parameters, "**" when it takes any keyword], "compatibles":
    [class names `from_config` can swap it for]}; {"backends": [packages]} for one that needs packages besides
    torch (its arguments are read from the class once they are installed), {"not_pytorch": True}; None when
    diffusers has no such scheduler."""
    data = stored()
    if data:
        return data["schedulers"].get(name)
    return _live_scheduler_info(name) if name in _live_scheduler_names() else None


@cache
def _live_scheduler_info(name: str) -> dict[str, Any]:
    from ..runtime.lock import diffusers_attr

    return describe_scheduler(diffusers_attr(name), _optional_backends().get(name))


def fits(tree: Any, value: Any) -> bool | None:
    """Whether `value` fits an annotation stored as a tree (`annotation_tree`) made of int, float, bool, str,
    None, Literal[...] and list[...] of them; None when the annotation has other parts (tensors, images, enums)
    that videogen doesn't check."""
    if isinstance(tree, dict) and "union" in tree:
        verdicts = [fits(member, value) for member in tree["union"]]
        return True if any(verdicts) else None if None in verdicts else False
    if tree == "None":
        return value is None
    if tree == "bool":
        return isinstance(value, bool)
    if tree == "int":
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if tree == "float":
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if tree == "str":
        return isinstance(value, str)
    if isinstance(tree, dict) and "literal" in tree:  # equal and of the same type (True is not 1)
        return any(type(value) is type(v) and value == v for v in tree["literal"])
    if isinstance(tree, dict) and "list" in tree:
        if not isinstance(value, (list, tuple)):
            return False
        item = tree["list"]
        if item in ("int", "float"):  # list[int] timesteps are given as floats too (LTX's distilled 0.03)
            return all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
        verdicts = [fits(item, v) for v in value]
        return None if None in verdicts else all(verdicts)
    return None


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
    if origin is typing.Literal:
        values = list(typing.get_args(annotation))
        plain = all(isinstance(v, (str, int, float, bool)) or v is None for v in values)
        return {"literal": values} if plain else "other"
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
    """{"lora": takes LoRAs, "schedule": `schedule_arguments`, "begin_index": `sets_begin_index`, "call":
    {parameter: describe_parameter}} of a pipeline class."""
    import inspect

    params = inspect.signature(cls.__call__).parameters
    return {
        "lora": hasattr(cls, "load_lora_weights"),
        "schedule": schedule_arguments(cls.__call__),
        "begin_index": sets_begin_index(cls),
        "call": {name: describe_parameter(p) for name, p in params.items() if name != "self"},
    }


def sets_begin_index(cls: type) -> bool:
    """Whether the pipeline's `__call__` (or the `get_timesteps` it calls for video-to-video) sets the scheduler's
    begin index: its steps then count from there instead of looking their timestep up in the schedule."""
    import inspect

    for method in (cls.__call__, getattr(cls, "get_timesteps", None)):
        try:
            if method is not None and ".set_begin_index(" in inspect.getsource(method):
                return True
        except (OSError, TypeError):
            continue
    return False


#: the parameters of diffusers' `retrieve_timesteps(scheduler, num_inference_steps, device, timesteps, sigmas,
#: **kwargs)` and of a scheduler's `set_timesteps(num_inference_steps, device, ...)`, in order
_RETRIEVE = ("scheduler", "num_inference_steps", "device", "timesteps", "sigmas")
_SET_TIMESTEPS = ("num_inference_steps", "device")


def schedule_arguments(function: Any) -> dict[str, str | None]:
    """The timestep arguments `function` (a pipeline's `__call__`) passes the scheduler's `set_timesteps`, read
    from its source: its calls of `retrieve_timesteps(...)` and `*.set_timesteps(...)`. Argument → None when it
    is always passed (a value the call computes), or the `__call__` parameter passed on as it is (the argument
    is passed only when the caller gives that parameter). A literal None is not passed."""
    import ast
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return {}
    definition = tree.body[0]
    if not isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return {}
    params = {a.arg for a in definition.args.args + definition.args.kwonlyargs}
    #: (where the assignment ends, the name it assigns, the statement): a parameter assigned before the call is
    #: computed, unless the assignment is in the other branch of an `if` (AnimateDiff video-to-video's two calls)
    assignments = [
        ((stmt.end_lineno or 0, stmt.end_col_offset or 0), name.id, stmt)
        for stmt in ast.walk(definition)
        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign))
        for name in ast.walk(stmt)
        if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Store)
    ]
    branches = [
        ({id(n) for s in branch.body for n in ast.walk(s)}, {id(n) for s in branch.orelse for n in ast.walk(s)})
        for branch in ast.walk(definition)
        if isinstance(branch, ast.If)
    ]

    def exclusive(a: ast.AST, b: ast.AST) -> bool:
        return any((id(a) in x and id(b) in y) or (id(a) in y and id(b) in x) for x, y in branches)

    out: dict[str, str | None] = {}
    for node in ast.walk(definition):
        if not isinstance(node, ast.Call):
            continue
        assigned = {
            name
            for end, name, stmt in assignments
            if end <= (node.lineno, node.col_offset) and not exclusive(stmt, node)
        }
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        positional = {"retrieve_timesteps": _RETRIEVE, "set_timesteps": _SET_TIMESTEPS}.get(called)
        if positional is None:
            continue
        given = dict(zip(positional, node.args, strict=False))
        given.update({kw.arg: kw.value for kw in node.keywords if kw.arg})
        for arg, value in given.items():
            if arg in _RETRIEVE[:3] or (isinstance(value, ast.Constant) and value.value is None):
                continue
            if not (isinstance(value, ast.Name) and value.id in params and value.id not in assigned):
                out[arg] = None  # computed in the call: always passed
            elif out.get(arg, "") is not None:
                out[arg] = value.id  # the caller's parameter, passed on as it is
    return dict(sorted(out.items()))


def scheduler_init_names(cls: Any) -> list[str]:
    import inspect

    return [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "args", "kwargs")]


def set_timesteps_names(cls: Any) -> list[str]:
    """The parameters of a scheduler's `set_timesteps` (less self), "**" for a `**kwargs`."""
    import inspect

    params = inspect.signature(cls.set_timesteps).parameters.values()
    return sorted("**" if p.kind is p.VAR_KEYWORD else p.name for p in params if p.name != "self")


def describe_scheduler(cls: Any, backends: list[str] | None = None) -> dict[str, Any]:
    if backends:  # stored the same whether or not the packages are installed here
        return {"backends": list(backends)}
    import inspect

    import diffusers

    if getattr(cls, "_backends", None):  # a diffusers placeholder for a class whose packages are missing
        return {"backends": list(cls._backends)}
    if not (isinstance(cls, type) and issubclass(cls, diffusers.SchedulerMixin)):
        return {"not_pytorch": True}
    scheduler: Any = cls
    params = inspect.signature(scheduler.__init__).parameters
    return {
        "init": {name: describe_parameter(params[name]) for name in sorted(scheduler_init_names(scheduler))},
        "set_timesteps": set_timesteps_names(scheduler) if hasattr(scheduler, "set_timesteps") else [],
        "compatibles": sorted({c.__name__ for c in scheduler._get_compatibles()} | {scheduler.__name__}),
    }


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

    from ..families import known_pipeline_classes
    from ..runtime.lock import diffusers_attr

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
        head = f'"lora": {one(entry["lora"])}, "schedule": {one(entry.get("schedule", {}))}'
        head += f', "begin_index": {one(entry.get("begin_index", False))}'
        lines.append(f'  {one(name)}: {{{head}, "call": {{')
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
        argv, "python -m videogen.catalog.signatures", description, FILE, lambda: dumps(generate()), REGENERATE
    )


if __name__ == "__main__":
    raise SystemExit(main())
