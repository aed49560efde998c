"""Building the spec's scheduler: its name and arguments parsed, swapped in for one call from the pipeline's own
config (flow-matching models get flow sigmas and their shift unless the spec sets them)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from ...errors import SpecError


def parse_scheduler(value: Any) -> tuple[str, dict[str, Any]] | None:
    """(class name, kwargs) from "Name" or {"name": "Name", **kwargs}; None for the pipeline's own."""
    if value is None:
        return None
    if isinstance(value, str):
        return value, {}
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise SpecError(
                f"scheduler: argument name {bad[0]!r} must be a string, e.g. "
                "{'name': 'UniPCMultistepScheduler', 'flow_shift': 5.0}",
                field="scheduler",
            )
        kwargs = {k: v for k, v in value.items() if k != "name"}
        return value["name"], kwargs
    raise SpecError(
        f"scheduler={value!r}: give a diffusers scheduler class name, e.g. scheduler='UniPCMultistepScheduler', "
        "or a dict with its arguments, e.g. {'name': 'UniPCMultistepScheduler', 'flow_shift': 5.0}",
        field="scheduler",
    )


#: schedulers that run a flow-matching model when given flow sigmas (diffusers' Wan/LTX/Hunyuan docs)
FLOW_SCHEDULERS = ("FlowMatchEulerDiscreteScheduler", "UniPCMultistepScheduler", "DPMSolverMultistepScheduler")


def flow_shift(config: Mapping[str, Any]) -> float:
    """A flow-matching model's shift, from its scheduler config (UniPC's flow_shift, FlowMatchEuler's shift)."""
    return float(config.get("flow_shift") or config.get("shift") or 1.0)


def flow_defaults(name: str, flow_matching: bool, shift: float) -> dict[str, Any]:
    """The arguments a flow-matching model's scheduler gets unless the spec sets them."""
    if flow_matching and name == "FlowMatchEulerDiscreteScheduler":
        return {"shift": shift}
    if flow_matching and name in FLOW_SCHEDULERS:
        return {"prediction_type": "flow_prediction", "use_flow_sigmas": True, "flow_shift": shift}
    return {}


def build_scheduler(pipe: Any, value: Any, model_name: str, flow_matching: bool = False) -> Any | None:
    """The scheduler the spec asks for, from the pipeline's scheduler config; None keeps the pipeline's.

    For flow-matching models, UniPC and DPM-Solver get flow sigmas and the model's shift unless the
    spec sets them, as the diffusers docs do for Wan.
    """
    parsed = parse_scheduler(value)
    if parsed is None:
        return None
    from ...runtime.lock import diffusers_attr

    name, kwargs = parsed
    cls = diffusers_attr(name)
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
    defaults = flow_defaults(name, flow_matching, flow_shift(current.config))
    try:
        return cls.from_config(current.config, **{**defaults, **kwargs})
    except Exception as exc:  # the spec's arguments on this pipeline's config
        raise SpecError(
            f"scheduler arguments {kwargs}: {name} refuses them on {model_name}'s scheduler config "
            f"({type(exc).__name__}: {exc})",
            field="scheduler",
        ) from None


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
