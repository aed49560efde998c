"""The model's scheduler and the schedule a call asks for, before load: the scheduler config the model ships (its
folder, else its family), the classes it can be swapped for, the timestep arguments the pipeline hands
`set_timesteps` (stored signatures), and for a swapped scheduler or a schedule the defaults don't vouch for, one
run of it (`dry_run`)."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...errors import SpecError
from .build import FLOW_SCHEDULERS, parse_scheduler
from .dry_run import REFUSES, installed, schedule_problem

if TYPE_CHECKING:
    from ...families.base import Family
    from ...families.card import ModelCard
    from ...spec.videospec import CompleteSpec


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
        from ...testing import tiny_folder

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
    from ...catalog.signatures import scheduler_info

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
    return [n for n in _takes(names, always) if installed(n)]


def _schedule_arguments(class_name: str) -> dict[str, str | None]:
    from ...catalog.signatures import pipeline_signature

    return pipeline_signature(class_name).schedule


def _passed_arguments(spec: CompleteSpec, card: ModelCard, class_name: str) -> dict[str, str | None]:
    """The timestep arguments this call hands the scheduler's `set_timesteps` (argument → the `extra` key or
    card default it comes from; None: the pipeline computes it)."""
    out = {}
    for arg, source in _schedule_arguments(class_name).items():
        if source is None or spec.extra.get(source) is not None or card.call_defaults.get(source) is not None:
            out[arg] = source
    return out


def check_schedule(spec: CompleteSpec, card: ModelCard, family: Family, class_name: str) -> None:
    """Before load, after `check_scheduler_name`: the scheduler the call runs with (the spec's, else the model's
    own) can drive the model (`compatible_schedulers`), takes the timestep arguments the pipeline passes its
    `set_timesteps` (stored signatures), and makes the schedule: a one-step schedule ending at `shift_terminal`
    is refused; a swapped scheduler is built from the model's scheduler config and run once (`set_timesteps`,
    which imports its class: torch)."""
    parsed = parse_scheduler(spec.scheduler)
    passed = _passed_arguments(spec, card, class_name)
    steps = spec.steps
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
                f"{', '.join(n for n in _takes(compatible, passed) if installed(n))}",
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
        usable = [n for n in _takes(compatible_schedulers(own, family.flow_matching), passed) if installed(n)]
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
    from ...catalog.signatures import scheduler_info

    params = (scheduler_info(name) or {}).get("set_timesteps")
    if params is None or "**" in params:
        return []
    return sorted(arg for arg in passed if arg not in params)


def _check_one_step(
    spec: CompleteSpec, card: ModelCard, name: str, config: Mapping[str, Any], passed: Mapping[str, Any]
) -> None:
    """A schedule stretched to `shift_terminal` divides by 1 minus its last sigma: a one-step schedule that
    starts at sigma 1 (every computed one) gives NaN timesteps (an IndexError in the first step, or a black
    video)."""
    terminal = config.get("shift_terminal")
    if not terminal or isinstance(terminal, bool) or spec.steps != 1:
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
    spec: CompleteSpec,
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
    model's own) makes the schedule the call asks for (`schedule_problem`): else a SpecError with what works."""
    steps = spec.steps

    def attempt(scheduler_name: str, arguments: Mapping[str, Any], n: int) -> str | None:
        return schedule_problem(spec, card, family, class_name, config, scheduler_name, arguments, passed, n)

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
        from ...catalog.signatures import scheduler_info

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
        if n != name and installed(n) and attempt(n, {}, steps) is None
    ]
    hints = ([f"steps={more} or more"] if more else []) + ([f"one of {', '.join(usable)}"] if usable else [])
    instead = " or ".join(hints) or "the model's own scheduler (leave scheduler out)"
    raise SpecError(
        f"scheduler={name!r} can't make {card.name}'s {steps}-step schedule for {class_name} ({problem}); "
        f"use {instead}",
        field="scheduler",
    )
