"""`memory="auto"`: estimate every lossless preset's peak and pick the least aggressive that fits."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import SpecError, VideoGenError
from .checks import Context, adapt, check
from .estimate import GIB, Estimate, estimate_plan, free_gpu_bytes, free_ram_bytes, gib
from .plans import MemoryPlan
from .presets import LADDER, PRESETS
from .simulate import Simulation, Subject, activation_parts, simulate_plans

if TYPE_CHECKING:
    from ..catalog import ModelCard
    from .estimate import Shape

logger = logging.getLogger("videogen")

#: keep this much GPU memory free beyond the estimate: max(1 GiB, 10 % of the GPU)
MARGIN_FRACTION = 0.10
MARGIN_BYTES = 1 * GIB
#: offloaded weights may use at most this share of the available RAM
RAM_FRACTION = 0.9


@dataclass
class Choice:
    plan: MemoryPlan
    reason: str
    estimates: dict[str, Estimate] = field(default_factory=dict)
    #: preset → why it can't run here (a SpecError message)
    refused: dict[str, str] = field(default_factory=dict)
    free_gpu: int | None = None
    total_gpu: int | None = None
    free_ram: int | None = None


def estimates(ctx: Context, card: ModelCard, shape: Shape, names: list[str] | None = None,
              subject: Subject | None = None) -> tuple[dict[str, Estimate], dict[str, str]]:
    """Each preset adapted and checked for this machine, and its estimate on a GPU; refusals by name.

    With a `subject` (the spec to run), activations are simulated (simulate.py) where the pipeline
    runs on fake tensors; else, or when it doesn't, they come from formulas.
    """
    plans: dict[str, MemoryPlan] = {}
    refused: dict[str, str] = {}
    for name in names or list(PRESETS):
        try:
            plan = check(adapt(PRESETS[name], ctx), ctx)
        except SpecError as exc:  # MissingDependencyError is not a SpecError: keep it, say so
            refused[name] = str(exc).removeprefix("memory: ")
            plan = adapt(PRESETS[name], ctx)
        except ImportError as exc:
            refused[name] = str(exc).removeprefix("memory: ")
            plan = adapt(PRESETS[name], ctx)
        plans[name] = plan
    sims, failed = simulations(subject, list(plans.values())) if subject is not None else ({}, None)
    out = {name: estimate_plan(card, ctx.components, plan, shape, "cuda", sims.get(activation_parts(plan)))
           for name, plan in plans.items()}
    for est in out.values() if failed else ():
        est.unknown.append(failed)
    return out, refused


def simulations(subject: Subject, plans: list[MemoryPlan]) -> tuple[dict[tuple, Simulation], str | None]:
    """Simulated activations for `plans`; ({}, why) when the pipeline can't be simulated (formulas then)."""
    try:
        return simulate_plans(subject, plans), None
    except VideoGenError as exc:
        logger.info("activations from formulas: %s", exc)
        return {}, f"activations from formulas, not simulated: {exc}"


def choose(ctx: Context, card: ModelCard, shape: Shape, subject: Subject | None = None) -> Choice:
    """The plan `auto` picks here, with its reason (always with oom_retry on)."""
    free_ram = free_ram_bytes()
    if not ctx.cuda:
        plan = check(adapt(PRESETS["none"], ctx), ctx)
        reason = (f"no GPU (device {ctx.device!r}): the weights stay in RAM, where offloading saves nothing; "
                  "none")
        need = cpu_ram_bytes(ctx)
        if need and free_ram and need > RAM_FRACTION * free_ram:
            reason += (f"; its weights need about {gib(need)} of RAM in float32 and {gib(free_ram)} are free: "
                       "expect swapping or an out-of-memory kill (use a GPU)")
        return Choice(_auto(plan, reason), reason, free_ram=free_ram)
    gpu = free_gpu_bytes()
    free, total = gpu if gpu else (None, None)
    ests, refused = estimates(ctx, card, shape, list(LADDER), subject)
    choice = Choice(PRESETS["none"], "", ests, refused, free, total, free_ram)
    if free is None or any(e.peak_gpu_bytes is None for e in ests.values()):
        choice.plan = _auto(check(adapt(PRESETS["none"], ctx), ctx), "sizes or free memory unknown")
        choice.reason = ("component sizes or free GPU memory unknown "
                         f"({'; '.join(ests['none'].unknown) or 'no reading'}): none, retried with the next "
                         "preset on an out-of-memory error")
        return choice
    margin = max(MARGIN_BYTES, int(MARGIN_FRACTION * (total or 0)))
    budget = free - margin
    for name in LADDER:
        if name in refused:
            continue
        est = ests[name]
        ram_ok = free_ram is None or (est.ram_bytes or 0) <= RAM_FRACTION * free_ram
        if est.peak_gpu_bytes <= budget and ram_ok:
            choice.reason = (f"{name}: estimated peak {gib(est.peak_gpu_bytes)} fits {gib(free)} free GPU "
                             f"memory with a {gib(margin)} margin"
                             + (f"; offloaded weights {gib(est.ram_bytes)} fit {gib(free_ram)} free RAM"
                                if est.ram_bytes else ""))
            choice.plan = _auto(est.plan, choice.reason)
            return choice
    last = LADDER[-1]
    choice.reason = (f"no lossless preset fits {gib(free)} free GPU memory by the estimate; {last} is the most "
                     "frugal (consider memory='int8' or 'nf4', a smaller size or fewer frames)")
    choice.plan = _auto(ests[last].plan, choice.reason)
    return choice


def cpu_ram_bytes(ctx: Context) -> int | None:
    """RAM the weights take on a CPU (float32), when every component's size is known."""
    from .estimate import module_stats

    stats = [module_stats(c) for c in ctx.components]
    if not stats or any(s is None for s in stats):
        return None
    return sum(s.params for s in stats) * 4


def _auto(plan: MemoryPlan, reason: str) -> MemoryPlan:
    logger.info("memory=auto → %s (%s)", plan.name, reason)
    return plan.replace(oom_retry=True, notes=plan.notes + (f"chosen by auto: {reason}",))
