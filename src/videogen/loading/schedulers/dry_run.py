"""One run of a scheduler's schedule before load, as the pipeline will make it: `set_timesteps` with the
pipeline's timestep arguments, then its steps on a toy latent (what a swapped class or a custom schedule does on
the model's config, without weights). Imports the scheduler class (torch)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .build import flow_defaults, flow_shift

if TYPE_CHECKING:
    from ...families.base import Family
    from ...families.card import ModelCard
    from ...spec.videospec import VideoSpec

#: how a scheduler's refusal of its arguments (the class raising as it is built) starts
REFUSES = "refuses them"


def installed(name: str) -> bool:
    """Whether scheduler `name` can be imported (packages besides torch it needs are installed)."""
    import importlib.util

    from ...catalog.signatures import scheduler_info

    info = scheduler_info(name) or {}
    return all(b == "torch" or importlib.util.find_spec(b) is not None for b in info.get("backends", ()))


def schedule_problem(
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

    from ...runtime.lock import diffusers_attr

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
        defaults = flow_defaults(name, family.flow_matching, flow_shift(config))
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
    from ...catalog.signatures import pipeline_signature

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
