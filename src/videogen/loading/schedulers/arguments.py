"""The scheduler's name and arguments, before load, from the stored signatures (`signatures`): a scheduler class
that can drive the model, arguments its `__init__` takes with values that fit their annotations; then built once
with them (`check_scheduler_build`, which imports the class)."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

from ...errors import SpecError
from .build import FLOW_SCHEDULERS, flow_defaults, parse_scheduler

#: integer scheduler arguments (num_train_timesteps, solver_order, ...) size its tables: at most this
MAX_SCHEDULER_INT = 100_000


def check_scheduler_name(value: Any, model_name: str | None = None, flow_matching: bool = False) -> None:
    """Before weights load, from the stored signatures (`signatures`: no torch, no diffusers): the name must be
    a diffusers scheduler class that can drive the model (for flow-matching families: one of FLOW_SCHEDULERS),
    and every argument a parameter of its `__init__`, finite and not huge. Whether the class accepts the
    values is `check_scheduler_build`'s (it builds the class, so it imports it)."""
    parsed = parse_scheduler(value)
    if parsed is None:
        return
    from ...catalog.signatures import scheduler_info, scheduler_names

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


def check_scheduler_arguments(name: str, kwargs: Mapping[str, Any], params: Mapping[str, Any] | None) -> None:
    """Every argument a parameter of the scheduler's `__init__` (`params`: name → its stored description,
    `signatures.describe_parameter`; None: not known yet), its value fitting the parameter's annotation, its
    numbers finite, its counts not huge, and positive where the default is (a count or a scale)."""
    from ...spec.numbers import check_numbers

    for key, item in kwargs.items():
        if params is not None and key not in params:
            import difflib

            close = difflib.get_close_matches(key, list(params), n=1)
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
        if params is not None:
            _check_argument_value(name, key, item, params[key])


def _check_argument_value(name: str, key: str, value: Any, param: Mapping[str, Any]) -> None:
    """`value` fits the annotation of `name`'s `__init__` parameter `key` (`param`, as stored), and is positive
    where the default is a positive number."""
    import ast

    from ...catalog.signatures import fits

    shown = param.get("shown", "?")
    default_text = param.get("default")
    try:
        default = ast.literal_eval(default_text) if default_text is not None else None
    except (ValueError, SyntaxError):
        default = None
    example = f"e.g. {key}={default_text} (its default)" if default_text not in (None, "None") else ""
    tree = param.get("type")
    if tree is not None and not (value is None and default_text == "None"):
        verdict = fits(tree, value)
        # diffusers annotates some float knobs `bool | None` with default None (UniPC's sigma_max,
        # shift_terminal): a number is what they take
        flag_only = tree == "bool" or tree == {"union": ["bool", "None"]}
        lenient = flag_only and default_text == "None" and isinstance(value, numbers.Real)
        if verdict is False and not lenient:
            allowed = tree.get("literal") if isinstance(tree, dict) else None
            rule = f"one of {', '.join(repr(v) for v in allowed)}" if allowed else f"a {shown}"
            raise SpecError(
                f"scheduler: {key}={value!r} does not fit {name}'s {key}: it must be {rule}"
                + (f"; {example}" if example else ""),
                field="scheduler",
            )
    positive = isinstance(default, (int, float)) and not isinstance(default, bool) and default > 0
    if positive and isinstance(value, numbers.Real) and not isinstance(value, bool) and value <= 0:
        raise SpecError(
            f"scheduler: {key}={value!r} must be positive: {name}'s {key} is a count or a scale "
            f"(its default is {default_text}); {example}",
            field="scheduler",
            valid=default,
        )


def check_scheduler_build(value: Any, flow_matching: bool = False) -> None:
    """Before weights load, after `check_scheduler_name`: the scheduler class accepts the spec's arguments
    (built on its default config). Imports the class (and so torch)."""
    parsed = parse_scheduler(value)
    if parsed is None or not parsed[1]:
        return
    from ...catalog.signatures import describe_scheduler, scheduler_info
    from ...runtime.lock import diffusers_attr

    name, kwargs = parsed
    cls = diffusers_attr(name)
    if "init" not in (scheduler_info(name) or {}):  # a scheduler needing other packages: arguments read now
        check_scheduler_arguments(name, kwargs, describe_scheduler(cls).get("init"))
    try:
        cls(**{**flow_defaults(name, flow_matching, 1.0), **kwargs})
    except Exception as exc:
        raise SpecError(
            f"scheduler arguments {kwargs}: {name} refuses them ({type(exc).__name__}: {exc})", field="scheduler"
        ) from None
