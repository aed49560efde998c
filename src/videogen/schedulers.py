"""`spec.scheduler`: a diffusers scheduler class name (+ keyword arguments), built from the pipeline's own."""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator, Mapping
from typing import Any

from .errors import SpecError

#: integer scheduler arguments (num_train_timesteps, solver_order, ...) size its tables: at most this
MAX_SCHEDULER_INT = 100_000


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


def check_scheduler_name(value: Any, model_name: str | None = None, flow_matching: bool = False) -> None:
    """Before weights load, from the stored signatures (`signatures`: no torch, no diffusers): the name must be
    a diffusers scheduler class that can drive the model (for flow-matching families: one of FLOW_SCHEDULERS),
    and every argument a parameter of its `__init__`, finite and not huge. Whether the class accepts the
    values is `check_scheduler_build`'s (it builds the class, so it imports it)."""
    parsed = parse_scheduler(value)
    if parsed is None:
        return
    from .signatures import scheduler_info, scheduler_names

    name, kwargs = parsed
    info = scheduler_info(name) if name.endswith("Scheduler") else None
    if info is None:
        import difflib

        close = difflib.get_close_matches(name, scheduler_names(), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise SpecError(
            f"scheduler={name!r} is not a diffusers scheduler class; {hint}"
            "e.g. 'UniPCMultistepScheduler', 'FlowMatchEulerDiscreteScheduler'",
            field="scheduler",
        )
    if info.get("not_pytorch"):
        raise SpecError(
            f"scheduler={name!r} is not a PyTorch diffusers scheduler (a SchedulerMixin); "
            "e.g. 'UniPCMultistepScheduler'",
            field="scheduler",
        )
    if flow_matching and name not in FLOW_SCHEDULERS:
        raise SpecError(
            f"scheduler={name!r} can't drive {model_name or 'this model'} (a flow-matching model); "
            f"use one of {', '.join(sorted(FLOW_SCHEDULERS))}",
            field="scheduler",
        )
    if "backends" in info:  # needs packages besides torch: present, or the scheduler can't be used
        import importlib.util

        missing = [b for b in info["backends"] if b != "torch" and importlib.util.find_spec(b) is None]
        if missing:
            raise SpecError(
                f"scheduler={name!r} needs {', '.join(missing)}, which is not installed: "
                f"pip install {' '.join(missing)}, or use another scheduler, e.g. "
                "'UniPCMultistepScheduler'",
                field="scheduler",
            )
    if kwargs:
        check_scheduler_arguments(name, kwargs, info.get("init"))


def check_scheduler_arguments(name: str, kwargs: Mapping[str, Any], params: list[str] | None) -> None:
    """Every argument a parameter of the scheduler's `__init__` (`params`; None: not known yet), its numbers
    finite and its counts not huge."""
    from .finite import check_numbers

    for key, item in kwargs.items():
        if params is not None and key not in params:
            import difflib

            close = difflib.get_close_matches(key, params, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise SpecError(
                f"scheduler: {key!r} is not an argument of {name}; {hint}it takes: {', '.join(params)}",
                field="scheduler",
            )
        check_numbers(item, f"scheduler[{key!r}]", "scheduler")
        if isinstance(item, numbers.Integral) and not isinstance(item, bool) and abs(int(item)) > MAX_SCHEDULER_INT:
            raise SpecError(
                f"scheduler: {key}={item!r} is too large; scheduler counts and orders are at most "
                f"{MAX_SCHEDULER_INT} (e.g. num_train_timesteps=1000, solver_order=2): the scheduler "
                "allocates tables of that size",
                field="scheduler",
            )


def check_scheduler_build(value: Any, flow_matching: bool = False) -> None:
    """Before weights load, after `check_scheduler_name`: the scheduler class accepts the spec's arguments
    (built on its default config). Imports the class (and so torch)."""
    parsed = parse_scheduler(value)
    if parsed is None or not parsed[1]:
        return
    from .imports import diffusers_attr
    from .signatures import scheduler_info, scheduler_init_names

    name, kwargs = parsed
    cls = diffusers_attr(name)
    if "init" not in (scheduler_info(name) or {}):  # a scheduler needing other packages: arguments read now
        check_scheduler_arguments(name, kwargs, sorted(scheduler_init_names(cls)))
    try:
        cls(**{**_flow_defaults(name, flow_matching, 1.0), **kwargs})
    except Exception as exc:
        raise SpecError(
            f"scheduler arguments {kwargs}: {name} refuses them ({type(exc).__name__}: {exc})", field="scheduler"
        ) from None


#: schedulers that run a flow-matching model when given flow sigmas (diffusers' Wan/LTX/Hunyuan docs)
FLOW_SCHEDULERS = ("FlowMatchEulerDiscreteScheduler", "UniPCMultistepScheduler", "DPMSolverMultistepScheduler")


def _flow_shift(config: Mapping[str, Any]) -> float:
    return float(config.get("flow_shift") or config.get("shift") or 1.0)


def _flow_defaults(name: str, flow_matching: bool, shift: float) -> dict[str, Any]:
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
    from .imports import diffusers_attr

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
    defaults = _flow_defaults(name, flow_matching, _flow_shift(current.config))
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
