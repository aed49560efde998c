"""`spec.scheduler`: a diffusers scheduler class name (+ keyword arguments), built from the pipeline's own.

Before weights load, from the stored signatures (`signatures`): the name is a scheduler class, its arguments
are its `__init__`'s with values that fit their annotations (`check_scheduler_name`); the class is one the
model's scheduler can be swapped for, takes the timestep arguments the pipeline hands its `set_timesteps`, and
makes the schedule the call asks for (`check_schedule`: the model's scheduler config from its folder or its
family, and for a swapped scheduler one `set_timesteps` run, which imports the class).
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .errors import SpecError

if TYPE_CHECKING:
    from .card import ModelCard
    from .families.base import Family
    from .spec import VideoSpec

#: integer scheduler arguments (num_train_timesteps, solver_order, ...) size its tables: at most this
MAX_SCHEDULER_INT = 100_000
#: how a scheduler's refusal of its arguments (the class raising as it is built) starts
REFUSES = "refuses them"


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


def check_scheduler_arguments(name: str, kwargs: Mapping[str, Any], params: Mapping[str, Any] | None) -> None:
    """Every argument a parameter of the scheduler's `__init__` (`params`: name → its stored description,
    `signatures.describe_parameter`; None: not known yet), its value fitting the parameter's annotation, its
    numbers finite, its counts not huge, and positive where the default is (a count or a scale)."""
    from .finite import check_numbers

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

    from .signatures import fits

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
    from .imports import diffusers_attr
    from .signatures import describe_scheduler, scheduler_info

    name, kwargs = parsed
    cls = diffusers_attr(name)
    if "init" not in (scheduler_info(name) or {}):  # a scheduler needing other packages: arguments read now
        check_scheduler_arguments(name, kwargs, describe_scheduler(cls).get("init"))
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


# ---- the model's scheduler and the schedule the call asks for, before load ------------------------------
def pipeline_scheduler(card: ModelCard, family: Family) -> dict[str, Any] | None:
    """The config of the scheduler the model's pipeline loads (`_class_name` and its settings), without loading
    it: the model's folder (a local folder, the tiny build, or the Hub cache's snapshot), else what its family
    says the checkpoint ships (`Family.scheduler_config`); None when neither knows."""
    found = _folder_scheduler(card)
    if found is not None:
        return found
    declared = family.scheduler_config(card)
    return dict(declared) if declared.get("_class_name") else None


def _folder_scheduler(card: ModelCard) -> dict[str, Any] | None:
    import json
    from pathlib import Path

    path: Path | None = None
    if card.tiny:
        from .testing import tiny_folder

        path = tiny_folder(card.family, card.tiny) / "scheduler" / "scheduler_config.json"
    elif card.path:
        path = Path(card.path) / "scheduler" / "scheduler_config.json"
    elif card.repo:
        repo, sub = card.components.get("scheduler", (card.repo, "scheduler"))
        name = f"{sub}/scheduler_config.json" if sub else "scheduler_config.json"
        if Path(repo).expanduser().is_dir():
            path = Path(repo).expanduser() / name
        else:
            try:
                from huggingface_hub import try_to_load_from_cache

                revision = card.revision if repo == card.repo else None
                found = try_to_load_from_cache(repo, name, revision=revision)
            except Exception:  # noqa: BLE001 - any failure means: not on this machine
                found = None
            path = Path(found) if isinstance(found, str) else None
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("_class_name"), str) else None


def compatible_schedulers(own: str, flow_matching: bool) -> list[str]:
    """The scheduler classes the model's scheduler `own` can be swapped for (diffusers' `compatibles`, stored);
    for a flow-matching model the ones that run it with flow sigmas (FLOW_SCHEDULERS)."""
    from .signatures import scheduler_info

    if flow_matching:
        return sorted(FLOW_SCHEDULERS)
    info = scheduler_info(own) or {}
    return sorted(set(info.get("compatibles") or ()) | {own})


def usable_schedulers(card: ModelCard, family: Family, class_name: str) -> list[str]:
    """The scheduler classes a spec can name for `card` run by pipeline `class_name` without the class itself
    being refused: compatible with the model's scheduler, taking the timestep arguments the pipeline always
    passes, installed (its arguments and the schedule at the spec's steps are checked per spec)."""
    config = pipeline_scheduler(card, family)
    if config is None:
        return sorted(FLOW_SCHEDULERS) if family.flow_matching else []
    always = {arg: None for arg, source in _schedule_arguments(class_name).items() if source is None}
    names = compatible_schedulers(config["_class_name"], family.flow_matching)
    return [n for n in _takes(names, always) if _installed(n)]


def _schedule_arguments(class_name: str) -> dict[str, str | None]:
    from .signatures import pipeline_signature

    return pipeline_signature(class_name).schedule


def _passed_arguments(spec: VideoSpec, card: ModelCard, class_name: str) -> dict[str, str | None]:
    """The timestep arguments this call hands the scheduler's `set_timesteps` (argument → the `extra` key or
    card default it comes from; None: the pipeline computes it)."""
    out = {}
    for arg, source in _schedule_arguments(class_name).items():
        if source is None or spec.extra.get(source) is not None or card.call_defaults.get(source) is not None:
            out[arg] = source
    return out


def check_schedule(spec: VideoSpec, card: ModelCard, family: Family, class_name: str) -> None:
    """Before load, after `check_scheduler_name`: the scheduler the call runs with (the spec's, else the model's
    own) can drive the model (`compatible_schedulers`), takes the timestep arguments the pipeline passes its
    `set_timesteps` (stored signatures), and makes the schedule: a one-step schedule ending at `shift_terminal`
    is refused; a swapped scheduler is built from the model's scheduler config and run once (`set_timesteps`,
    which imports its class: torch)."""
    parsed = parse_scheduler(spec.scheduler)
    passed = _passed_arguments(spec, card, class_name)
    steps = spec.filled_int("steps")
    from_spec = any(source is not None and source in spec.extra for source in passed.values())
    if parsed is None and steps > 1 and not from_spec and not (card.tiny or card.path):
        return  # the catalog model's own scheduler at its schedule: nothing to read its config for
    config = pipeline_scheduler(card, family)
    if config is None:
        return
    own = config["_class_name"]
    name, kwargs = parsed if parsed is not None else (own, {})
    if parsed is not None:
        compatible = compatible_schedulers(own, family.flow_matching)
        if name not in compatible:
            raise SpecError(
                f"scheduler={name!r} can't drive {card.name} (its scheduler is {own}, which diffusers swaps only "
                f"for compatible classes); use one of "
                f"{', '.join(n for n in _takes(compatible, passed) if _installed(n))}",
                field="scheduler",
            )
    missing = _missing_arguments(name, passed)
    if missing:
        arg = missing[0]
        source = passed[arg]
        given = f"extra[{source!r}]" if source is not None and source in spec.extra else None
        why = f"{class_name} passes {given} on" if given else f"{class_name} always passes custom {arg}"
        if parsed is None and given:  # the model's own scheduler and the user's extra
            raise SpecError(
                f"{given}: {card.name}'s scheduler {own} takes no custom {arg} in set_timesteps, so "
                f"{class_name} can't use them; leave {given} out (steps={steps} sets the schedule)",
                field="extra",
            )
        usable = [n for n in _takes(compatible_schedulers(own, family.flow_matching), passed) if _installed(n)]
        whose = f"scheduler={name!r}" if parsed is not None else f"{card.name}'s own scheduler {own}"
        raise SpecError(
            f"{whose} can't run {class_name}: {why} to the scheduler's set_timesteps, which {name} doesn't "
            f"take; use one of {', '.join(usable) or own}",
            field="scheduler",
        )
    if parsed is not None:
        _check_dry_run(spec, card, family, class_name, config, name, kwargs, passed, swapped=True)
    elif steps == 1 or from_spec:  # the model's own scheduler on a schedule its defaults don't vouch for
        if name == "FlowMatchEulerDiscreteScheduler":  # its set_timesteps always stretches to shift_terminal
            _check_one_step(spec, card, name, config, passed)
        _check_dry_run(spec, card, family, class_name, config, name, {}, passed, swapped=False)


def _takes(names: list[str], passed: Mapping[str, Any]) -> list[str]:
    """Of `names`, the schedulers whose `set_timesteps` takes every argument in `passed`."""
    return [n for n in names if not _missing_arguments(n, passed)]


def _missing_arguments(name: str, passed: Mapping[str, Any]) -> list[str]:
    """The arguments in `passed` scheduler `name`'s `set_timesteps` doesn't take (unknown: none)."""
    from .signatures import scheduler_info

    params = (scheduler_info(name) or {}).get("set_timesteps")
    if params is None or "**" in params:
        return []
    return sorted(arg for arg in passed if arg not in params)


def _check_one_step(
    spec: VideoSpec, card: ModelCard, name: str, config: Mapping[str, Any], passed: Mapping[str, Any]
) -> None:
    """A schedule stretched to `shift_terminal` divides by 1 minus its last sigma: a one-step schedule that
    starts at sigma 1 (every computed one) gives NaN timesteps (an IndexError in the first step, or a black
    video)."""
    terminal = config.get("shift_terminal")
    if not terminal or isinstance(terminal, bool) or spec.filled_int("steps") != 1:
        return
    custom = next((spec.extra[k] for k in ("timesteps", "sigmas") if k in passed and k in spec.extra), None)
    if isinstance(custom, (list, tuple)) and len(custom) == 1:
        scale = float(config.get("num_train_timesteps") or 1000) if "timesteps" in passed else 1.0
        if isinstance(custom[0], numbers.Real) and float(custom[0]) < scale:
            return  # one custom step below the top: the stretch is defined
    raise SpecError(
        f"steps=1 is not valid for {card.name}: its scheduler ({name}, shift_terminal={terminal}) stretches the "
        "schedule to end at shift_terminal, dividing by 1 minus the last sigma, which is 1 in a one-step "
        "schedule (NaN timesteps); steps must be at least 2; nearest valid value: steps=2",
        field="steps",
        valid=2,
    )


def _check_dry_run(
    spec: VideoSpec,
    card: ModelCard,
    family: Family,
    class_name: str,
    config: Mapping[str, Any],
    name: str,
    kwargs: Mapping[str, Any],
    passed: Mapping[str, Any],
    swapped: bool,
) -> None:
    """The scheduler (`swapped`: the spec's, built from the model's config with the spec's arguments; else the
    model's own) makes the schedule the call asks for (`_schedule_problem`): else a SpecError with what works."""
    steps = spec.filled_int("steps")

    def attempt(scheduler_name: str, arguments: Mapping[str, Any], n: int) -> str | None:
        return _schedule_problem(spec, card, family, class_name, config, scheduler_name, arguments, passed, n)

    problem = attempt(name, kwargs, steps)
    if problem is None:
        return
    if not swapped:
        custom = next((s for s in passed.values() if s is not None and s in spec.extra), None)
        if custom is not None:
            raise SpecError(
                f"extra[{custom!r}]: {card.name}'s scheduler {name} can't make a schedule of them for "
                f"{class_name} ({problem}); leave extra[{custom!r}] out, or give values it can (steps sets "
                "the schedule)",
                field="extra",
            )
        more = next((n for n in range(steps + 1, steps + 9) if attempt(name, kwargs, n) is None), None)
        raise SpecError(
            f"steps={steps} is not valid for {card.name}: its scheduler {name} can't make a {steps}-step "
            f"schedule ({problem})" + (f"; nearest valid value: steps={more}" if more else ""),
            field="steps",
            valid=more,
        )
    if kwargs and attempt(name, {}, steps) is None:
        from .signatures import scheduler_info

        init = (scheduler_info(name) or {}).get("init") or {}
        defaults = ", ".join(f"{k}={init[k].get('default')}" for k in kwargs if k in init)
        what = problem if problem.startswith(REFUSES) else f"can't make {card.name}'s {steps}-step schedule with them"
        why = "" if problem.startswith(REFUSES) else f" ({problem})"
        raise SpecError(
            f"scheduler arguments {dict(kwargs)}: {name} {what}{why}; its defaults: {defaults or 'leave them out'}",
            field="scheduler",
        )
    more = next((n for n in range(steps + 1, steps + 9) if attempt(name, kwargs, n) is None), None)
    usable = [
        n
        for n in _takes(compatible_schedulers(config["_class_name"], family.flow_matching), passed)
        if n != name and _installed(n) and attempt(n, {}, steps) is None
    ]
    hints = ([f"steps={more} or more"] if more else []) + ([f"one of {', '.join(usable)}"] if usable else [])
    instead = " or ".join(hints) or "the model's own scheduler (leave scheduler out)"
    raise SpecError(
        f"scheduler={name!r} can't make {card.name}'s {steps}-step schedule for {class_name} ({problem}); "
        f"use {instead}",
        field="scheduler",
    )


def _installed(name: str) -> bool:
    """Whether scheduler `name` can be imported (packages besides torch it needs are installed)."""
    import importlib.util

    from .signatures import scheduler_info

    info = scheduler_info(name) or {}
    return all(b == "torch" or importlib.util.find_spec(b) is not None for b in info.get("backends", ()))


def _schedule_problem(
    spec: VideoSpec,
    card: ModelCard,
    family: Family,
    class_name: str,
    config: Mapping[str, Any],
    name: str,
    kwargs: Mapping[str, Any],
    passed: Mapping[str, Any],
    steps: int,
) -> str | None:
    """What goes wrong when scheduler `name` (from `config`, with `kwargs` and the flow defaults) sets the
    `steps`-step schedule as `class_name` will (its custom timesteps or sigmas, `mu`); None when nothing does
    (finite, non-empty timesteps and sigmas)."""
    import numpy as np

    from .imports import diffusers_attr

    arguments: dict[str, Any] = {}
    if "timesteps" in passed:
        given = spec.extra.get("timesteps", card.call_defaults.get("timesteps"))
        if not isinstance(given, (list, tuple)) or len(given) != steps:
            given = [float(t) for t in np.linspace(1.0, 1.0 / steps, steps) * 1000]
        arguments["timesteps"] = list(given)
    elif "sigmas" in passed:
        given = spec.extra.get("sigmas")
        arguments["sigmas"] = list(given) if isinstance(given, (list, tuple)) else np.linspace(1.0, 1.0 / steps, steps)
    if "mu" in passed:
        arguments["mu"] = 1.0  # the pipeline's resolution-dependent shift: a number near its usual range
    try:
        cls = diffusers_attr(name)
        defaults = _flow_defaults(name, family.flow_matching, _flow_shift(config))
        scheduler = family.call_scheduler(cls.from_config(dict(config), **{**defaults, **kwargs}), class_name)
    except Exception as exc:  # noqa: BLE001 - the class refuses the arguments on this config
        return f"{REFUSES} on {card.name}'s scheduler config ({_raised(exc)})"
    try:
        if "timesteps" in arguments or "sigmas" in arguments:
            scheduler.set_timesteps(device="cpu", **arguments)
        else:
            scheduler.set_timesteps(steps, device="cpu", **arguments)
        timesteps = np.asarray(scheduler.timesteps, dtype=np.float64)
        sigmas = getattr(scheduler, "sigmas", None)
        sigmas = np.asarray(sigmas, dtype=np.float64) if sigmas is not None else np.zeros(1)
    except Exception as exc:  # noqa: BLE001 - whatever the scheduler raises is the answer
        return _raised(exc)
    from .signatures import pipeline_signature

    start = 0
    if spec.task == "v2v":  # diffusers' get_timesteps: the last int(steps * strength) steps of the schedule
        strength = spec.extra.get("strength", family.v2v_strength)
        start = (steps - min(int(steps * float(strength)), steps)) * int(getattr(scheduler, "order", 1))
    if timesteps[start:].size == 0:
        return "it makes no timesteps"
    # the part the call runs (a video-to-video call runs the tail, whose sigmas its steps check)
    if not (np.isfinite(timesteps[start:]).all() and (start or np.isfinite(sigmas).all())):
        return "it makes non-finite timesteps or sigmas (NaN: a black video)"
    return _simulate(scheduler, start, pipeline_signature(class_name).begin_index)


def _simulate(scheduler: Any, start: int, begin_index: bool) -> str | None:
    """The schedule from `start` run on a toy latent with a toy prediction (noise), as the pipeline steps through
    it (setting the begin index when it does): the scheduler's own arithmetic must stay finite (some classes
    divide by a zero sigma on a short or foreign schedule: a black video). Schedulers whose `step` needs more than
    (model_output, timestep, sample), which their pipelines call specially, are not run."""
    import inspect

    import torch

    params = inspect.signature(scheduler.step).parameters
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = {n for n, p in params.items() if p.kind in positional and p.default is p.empty} - {"self"}
    if required - {"model_output", "timestep", "sample"}:
        return None
    generator = torch.Generator("cpu").manual_seed(0)
    extra = {"generator": generator} if "generator" in params else {}
    sample = torch.randn((1, 4, 4, 4), generator=generator) * float(getattr(scheduler, "init_noise_sigma", 1.0))
    if begin_index and hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(start)
    try:
        for t in scheduler.timesteps[start:]:
            if hasattr(scheduler, "scale_model_input"):
                scheduler.scale_model_input(sample, t)  # Euler-like classes check it was called
            prediction = 0.1 * torch.randn(sample.shape, generator=generator)
            result = scheduler.step(prediction, t, sample, **extra)
            sample = result[0] if isinstance(result, tuple) else result.prev_sample
            if not torch.isfinite(sample).all():
                return f"its step at timestep {float(t):g} makes non-finite latents: a black video"
    except Exception as exc:  # noqa: BLE001 - what its step raises is what the call would raise
        return f"its step raises {_raised(exc)}"
    return None


def _raised(exc: BaseException) -> str:
    """An exception as `Type: message` (the type alone when it has no message)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


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
