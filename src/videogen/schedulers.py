"""`spec.scheduler`: a diffusers scheduler class name (+ keyword arguments), built from the pipeline's own."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from .errors import SpecError


def parse_scheduler(value: Any) -> tuple[str, dict[str, Any]] | None:
    """(class name, kwargs) from "Name" or {"name": "Name", **kwargs}; None for the pipeline's own."""
    if value is None:
        return None
    if isinstance(value, str):
        return value, {}
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        kwargs = {k: v for k, v in value.items() if k != "name"}
        return value["name"], kwargs
    raise SpecError(
        f"scheduler={value!r}: give a diffusers scheduler class name, e.g. scheduler='UniPCMultistepScheduler', "
        "or a dict with its arguments, e.g. {'name': 'UniPCMultistepScheduler', 'flow_shift': 5.0}",
        field="scheduler",
    )


def check_scheduler_name(value: Any) -> None:
    """The name must be a diffusers scheduler class (checked before weights load)."""
    parsed = parse_scheduler(value)
    if parsed is None:
        return
    import diffusers

    name = parsed[0]
    cls = getattr(diffusers, name, None)
    if cls is None or not name.endswith("Scheduler"):
        import difflib

        names = [n for n in dir(diffusers) if n.endswith("Scheduler") and not n.startswith("_")]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise SpecError(f"scheduler={name!r} is not a diffusers scheduler class; {hint}"
                        "e.g. 'UniPCMultistepScheduler', 'FlowMatchEulerDiscreteScheduler'", field="scheduler")


#: schedulers that run a flow-matching model when given flow sigmas (diffusers' Wan/LTX/Hunyuan docs)
FLOW_SCHEDULERS = ("FlowMatchEulerDiscreteScheduler", "UniPCMultistepScheduler", "DPMSolverMultistepScheduler")


def _flow_shift(config: Mapping[str, Any]) -> float:
    return float(config.get("flow_shift") or config.get("shift") or 1.0)


def build_scheduler(pipe: Any, value: Any, model_name: str, flow_matching: bool = False) -> Any | None:
    """The scheduler the spec asks for, from the pipeline's scheduler config; None keeps the pipeline's.

    For flow-matching models, UniPC and DPM-Solver get flow sigmas and the model's shift unless the
    spec sets them, as the diffusers docs do for Wan.
    """
    parsed = parse_scheduler(value)
    if parsed is None:
        return None
    import diffusers

    name, kwargs = parsed
    cls = getattr(diffusers, name)
    current = pipe.scheduler
    compatible = {c.__name__ for c in getattr(current, "compatibles", [])} | {type(current).__name__}
    if flow_matching:
        compatible = {n for n in compatible if n in FLOW_SCHEDULERS} | set(FLOW_SCHEDULERS)
    if name not in compatible:
        raise SpecError(
            f"scheduler={name!r} can't drive {model_name} (its scheduler is {type(current).__name__}); "
            f"use one of {', '.join(sorted(compatible))}",
            field="scheduler",
        )
    defaults: dict[str, Any] = {}
    if flow_matching and name == "FlowMatchEulerDiscreteScheduler":
        defaults = {"shift": _flow_shift(current.config)}
    elif flow_matching:
        defaults = {"prediction_type": "flow_prediction", "use_flow_sigmas": True,
                    "flow_shift": _flow_shift(current.config)}
    try:
        return cls.from_config(current.config, **{**defaults, **kwargs})
    except TypeError as exc:
        raise SpecError(f"scheduler arguments {kwargs}: {exc}", field="scheduler") from None


@contextlib.contextmanager
def scheduler_for_call(pipe: Any, value: Any, model_name: str, flow_matching: bool = False) -> Iterator[None]:
    """Use the spec's scheduler for one call and put the pipeline's own back afterwards."""
    scheduler = build_scheduler(pipe, value, model_name, flow_matching)
    if scheduler is None:
        yield
        return
    original = pipe.scheduler
    pipe.scheduler = scheduler
    try:
        yield
    finally:
        pipe.scheduler = original
