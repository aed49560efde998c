"""`memory="auto"`: estimate every lossless preset's peak and pick the least aggressive that fits.

It decides from weights (each component's parameters counted on the meta device, estimate.py) and the
fitted activation formulas (`estimate.FORMULA_FIT`): well under a second per spec, no simulation. A
caller that ran the opt-in simulation (simulate.py; `videogen.plan(..., simulate=True)`, the bench)
passes its figures as `simulated`: activation parts (`estimate.activation_parts`) → Simulation.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from .checks import resolve
from .context import Context, context
from .estimate import (
    ASSUME_GPU_ENV,
    GIB,
    Estimate,
    activation_parts,
    assumed_gpu_bytes,
    estimate_plan,
    free_gpu_bytes,
    free_ram_bytes,
    gib,
)
from .plans import MemoryPlan
from .presets import LADDER, PRESETS

if TYPE_CHECKING:
    from ..catalog.lookup import ModelCard
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


def candidates(ctx: Context, names: list[str] | None = None) -> tuple[dict[str, MemoryPlan], dict[str, str]]:
    """Each preset adapted to `ctx` and checked; refusals by name (a refused preset keeps its adapted plan,
    so it is still estimated)."""
    plans: dict[str, MemoryPlan] = {}
    refused: dict[str, str] = {}
    for name in names or list(PRESETS):
        try:
            plan = resolve(PRESETS[name], ctx, fix=True)
        except (SpecError, ImportError) as exc:  # MissingDependencyError is an ImportError: keep it, say so
            refused[name] = str(exc).removeprefix("memory: ")
            plan = resolve(PRESETS[name], ctx, fix=True, refuse=False)
        plans[name] = plan
    return plans, refused


def estimates(
    ctx: Context,
    card: ModelCard,
    shape: Shape,
    names: list[str] | None = None,
    simulated: Mapping[tuple, Any] | None = None,
) -> tuple[dict[str, Estimate], dict[str, str]]:
    """Each preset adapted and checked for this machine, and its estimate on a GPU; refusals by name.

    Activations from the formulas, or from `simulated` (activation parts → simulate.Simulation) where it
    has the plan's parts.
    """
    plans, refused = candidates(ctx, names)
    simulated = simulated or {}
    out = {
        name: estimate_plan(card, ctx.components, plan, shape, "cuda", simulated.get(activation_parts(plan)))
        for name, plan in plans.items()
    }
    return out, refused


def refusals(ctx: Context) -> dict[str, str]:
    """Presets that can't run on the machine `ctx` describes, with the first clause of the reason."""
    return {name: why.split(";")[0] for name, why in candidates(ctx)[1].items()}


def choose(ctx: Context, card: ModelCard, shape: Shape, simulated: Mapping[tuple, Any] | None = None) -> Choice:
    """The plan `auto` picks here, with its reason (always with oom_retry on).

    With `VIDEOGEN_ASSUME_GPU_GIB` set (tests, benchmarks) it plans for an empty GPU of that size, even on
    a machine without one.
    """
    free_ram = free_ram_bytes()
    assumed = assumed_gpu_bytes()
    if not ctx.cuda and assumed is None:
        plan = resolve(PRESETS["none"], ctx, fix=True)
        reason = f"no GPU (device {ctx.device!r}): the weights stay in RAM, where offloading saves nothing; none"
        need = cpu_ram_bytes(ctx)
        if need and free_ram and need > RAM_FRACTION * free_ram:
            reason += (
                f"; its weights need about {gib(need)} of RAM in float32 and {gib(free_ram)} are free: "
                "expect swapping or an out-of-memory kill (use a GPU)"
            )
        return Choice(_auto(plan, reason), reason, free_ram=free_ram)
    if not ctx.cuda:  # an assumed GPU: plan as on one
        ctx = context(card, ctx.pipeline_class, "cuda")
    gpu = free_gpu_bytes()
    free, total = gpu if gpu else (None, None)
    ests, refused = estimates(ctx, card, shape, list(LADDER), simulated)
    choice = Choice(PRESETS["none"], "", ests, refused, free, total, free_ram)
    assumed_note = f" (assumed: {ASSUME_GPU_ENV})" if assumed is not None else ""
    peaks = {name: e.peak_gpu_bytes for name, e in ests.items() if e.peak_gpu_bytes is not None}
    if free is None or len(peaks) < len(ests):
        choice.plan = _auto(resolve(PRESETS["none"], ctx, fix=True), "sizes or free memory unknown")
        choice.reason = (
            "component sizes or free GPU memory unknown "
            f"({'; '.join(ests['none'].unknown) or 'no reading'}): none, retried with the next "
            "preset on an out-of-memory error"
        )
        return choice
    margin = max(MARGIN_BYTES, int(MARGIN_FRACTION * (total or 0)))
    budget = free - margin
    for name in LADDER:
        if name in refused:
            continue
        est = ests[name]
        ram_ok = free_ram is None or (est.ram_bytes or 0) <= RAM_FRACTION * free_ram
        if peaks[name] <= budget and ram_ok:
            choice.reason = (
                f"{name}: estimated peak {gib(est.peak_gpu_bytes)} fits {gib(free)} free GPU "
                f"memory{assumed_note} with a {gib(margin)} margin"
                + (f"; offloaded weights {gib(est.ram_bytes)} fit {gib(free_ram)} free RAM" if est.ram_bytes else "")
            )
            choice.plan = _auto(est.plan, choice.reason)
            return choice
    last = LADDER[-1]
    gpu_only = next((n for n in LADDER if n not in refused and peaks[n] <= budget), None)
    if gpu_only is not None:  # the GPU would do: RAM for the offloaded weights is what is short
        est = ests[gpu_only]
        choice.reason = (
            f"no lossless preset fits: {gpu_only}'s estimated peak {gib(est.peak_gpu_bytes)} fits "
            f"{gib(free)} free GPU memory{assumed_note}, but its offloaded weights {gib(est.ram_bytes)} "
            f"exceed {RAM_FRACTION:.0%} of {gib(free_ram)} free RAM; {last} is the most frugal (expect "
            "swapping; consider memory='int8' or 'nf4', or more RAM)"
        )
    else:
        choice.reason = (
            f"no lossless preset fits {gib(free)} free GPU memory{assumed_note} by the estimate; "
            f"{last} is the most frugal (consider memory='int8' or 'nf4', a smaller size or fewer "
            "frames)"
        )
    choice.plan = _auto(ests[last].plan, choice.reason)
    return choice


def cpu_ram_bytes(ctx: Context) -> int | None:
    """RAM the weights take on a CPU (float32), when every component's size is known."""
    from .estimate import module_stats

    stats = [module_stats(c) for c in ctx.components]
    known = [s for s in stats if s is not None]
    if not stats or len(known) < len(stats):
        return None
    return sum(s.params for s in known) * 4


def _auto(plan: MemoryPlan, reason: str) -> MemoryPlan:
    logger.info("memory=auto → %s (%s)", plan.name, reason)
    return plan.replace(oom_retry=True, notes=plan.notes + (f"chosen by auto: {reason}",))
