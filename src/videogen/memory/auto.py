"""`memory="auto"`: the fastest plan of the searched space that fits the GPU and the RAM, lossless first.

It decides from weights (each component's parameters counted on the meta device, estimate.py) and the
fitted activation formulas (`estimate.FORMULA_FIT`): well under a second per spec, no simulation. A
caller that ran the opt-in simulation (simulate.py; `videogen.plan(..., simulate=True)`, the bench)
passes its figures as `simulated`: activation parts (`estimate.activation_parts`) → Simulation.
"""

from __future__ import annotations

import dataclasses
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
from .machine import current
from .plans import MemoryPlan
from .presets import PRESETS

if TYPE_CHECKING:
    from ..catalog.lookup import ModelCard
    from .estimate import Shape
    from .gpus import GPU
    from .search import Candidate

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
    #: every plan searched (presets among them), with fits and predictions
    candidates: list[Candidate] = field(default_factory=list)
    #: the GPU of the table the predictions are for (None: unknown)
    gpu: GPU | None = None
    quality: str = "auto"
    #: the plans the reason suggests (each one fits)
    hints: list[str] = field(default_factory=list)
    #: False: a component's size (or the free GPU memory) is unknown, so nothing was decided by fit
    known: bool = True


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


def choose(
    ctx: Context, card: ModelCard, shape: Shape, simulated: Mapping[tuple, Any] | None = None, quality: str = "auto"
) -> Choice:
    """The plan `auto` picks here, with its reason (always with oom_retry on): the fastest predicted plan of
    the searched space (search.py) that fits the GPU and the RAM, lossless first (`quality`: QUALITIES).

    For a described machine (`videogen.plan(spec, gpu=..., ram=...)`, machine.py) or with
    `VIDEOGEN_ASSUME_GPU_GIB` set it plans for an empty GPU of that size, even on a machine without one.
    """
    from .search import QUALITIES, search

    if quality not in QUALITIES:
        raise SpecError(
            f"quality={quality!r} is not one of {', '.join(QUALITIES)}; e.g. quality='auto'", field="quality"
        )
    free_ram = free_ram_bytes()
    assumed = assumed_gpu_bytes()
    if ctx.mps and assumed is None:
        return _on_apple_silicon(ctx, card, shape, free_ram)
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
    target = current()
    said = " (described)" if target is not None and target.gpu is not None else f" (assumed: {ASSUME_GPU_ENV})"
    found = search(ctx, card, shape, simulated)
    return decide(found, ctx, shape, free, total, free_ram, speed_gpu(total), quality, said if assumed else "")


def _on_apple_silicon(ctx: Context, card: ModelCard, shape: Shape, free_ram: int | None) -> Choice:
    """On MPS: none (everything on the GPU), retried with the next preset on an out-of-memory error. The GPU's
    memory is the machine's RAM and torch doesn't say how much of it MPS lets a process hold before that error,
    so there is nothing to fit plans against; the reason says when the estimated peak exceeds the free RAM."""
    plan = resolve(PRESETS["none"], ctx, fix=True)
    reason = (
        f"Apple GPU (device {ctx.device!r}): its memory is this machine's RAM and torch gives no figure for how much "
        "of it MPS lets a process hold, so none (everything on the GPU), retried with the next preset on an "
        "out-of-memory error"
    )
    peak = estimate_plan(card, ctx.components, plan, shape, "mps").peak_gpu_bytes
    if peak and free_ram and peak > RAM_FRACTION * free_ram:
        reason += (
            f"; its estimated peak of {gib(peak)} is more than the {gib(free_ram)} of free RAM: expect swapping or "
            "that error (memory='int8', quanto's 8-bit weights on MPS, halves the denoisers' and text encoders')"
        )
    return Choice(_auto(plan, reason), reason, free_ram=free_ram)


def decide(
    found: list[Candidate],
    ctx: Context,
    shape: Shape,
    free: int | None,
    total: int | None,
    free_ram: int | None,
    gpu: GPU | None,
    quality: str,
    said: str = "",
) -> Choice:
    """`auto`'s choice among searched candidates for a GPU with `free` of `total` bytes free (predictions for
    `gpu`, the table's card) and `free_ram`: sets each candidate's prediction and fits, then pick.py."""
    from .pick import pick
    from .predict import predict

    found = [dataclasses.replace(c) for c in found]  # this choice's own fits and predictions
    for cand in found:
        cand.prediction = predict(cand.estimate, ctx.components, shape, gpu, shape.passes) if gpu else None
        cand.fits_gpu = cand.fits_ram = None
    ests = {c.name: c.estimate for c in found if c.preset}
    refused = {c.name: c.refused for c in found if c.preset and c.refused}
    choice = Choice(PRESETS["none"], "", ests, refused, free, total, free_ram, found, gpu, quality)
    if free is None or any(c.estimate.peak_gpu_bytes is None for c in found):
        none = ests["none"]
        choice.known = False
        choice.plan = _auto(resolve(PRESETS["none"], ctx, fix=True), "sizes or free memory unknown")
        choice.reason = (
            "component sizes or free GPU memory unknown "
            f"({'; '.join(none.unknown) or 'no reading'}): none, retried with the next "
            "preset on an out-of-memory error"
        )
        return choice
    margin = margin_bytes(total)
    for cand in found:
        cand.fits_gpu = (cand.estimate.peak_gpu_bytes or 0) <= free - margin
        cand.fits_ram = free_ram is None or (cand.estimate.ram_bytes or 0) <= RAM_FRACTION * free_ram
        cand.short = max(0, (cand.estimate.peak_gpu_bytes or 0) - (free - margin)) + max(
            0, (cand.estimate.ram_bytes or 0) - int(RAM_FRACTION * (free_ram or 0)) if free_ram else 0
        )
    where = f"{gib(free)} free GPU memory{said}, {gib(free_ram)} free RAM"
    chosen, reason, choice.hints = pick(found, quality, where, gib(margin))
    if not chosen.fits:
        reason += "; " + smallest_machine(found, quality, free_ram, free)
    choice.plan = _auto(chosen.plan, reason)
    choice.reason = reason
    return choice


def margin_bytes(total: int | None) -> int:
    """GPU memory kept free beyond a plan's estimated peak: max(1 GiB, 10 % of the GPU)."""
    return max(MARGIN_BYTES, int(MARGIN_FRACTION * (total or 0)))


def fits(est: Estimate, free: int | None, total: int | None, free_ram: int | None) -> bool | None:
    """Whether an estimated plan fits the GPU (with the margin) and the RAM (None: not known)."""
    if free is None or est.peak_gpu_bytes is None:
        return None
    ram_ok = free_ram is None or (est.ram_bytes or 0) <= RAM_FRACTION * free_ram
    return est.peak_gpu_bytes <= free - margin_bytes(total) and ram_ok


def speed_gpu(total: int | None) -> GPU | None:
    """The table's GPU the predictions are for: the described one, the one `VIDEOGEN_ASSUME_GPU_GIB` sizes,
    or this machine's by its name (None: not in the table)."""
    from .gpus import match_name, size_gpu

    target = current()
    if target is not None and target.gpu is not None:
        return target.gpu
    assumed = assumed_gpu_bytes()
    if assumed is not None:
        return size_gpu(assumed / GIB)
    try:
        import torch

        return match_name(torch.cuda.get_device_name()) if torch.cuda.is_available() else None
    except Exception:  # noqa: BLE001 - any failure: no prediction
        return None


def smallest_machine(found: list[Candidate], quality: str, free_ram: int | None, free_gpu: int | None) -> str:
    """Where the searched plans would fit: the smallest table GPU with this RAM, and the RAM this GPU needs."""
    from .gpus import LADDER_GPUS, LADDER_RAMS
    from .pick import allowed

    usable = [c for c in found if c.refused is None and allowed(c, quality) and not c.plan.compile]

    def fits(gpu_gib: float, ram_gib: float | None) -> Candidate | None:
        budget = gpu_gib * GIB - max(MARGIN_BYTES, MARGIN_FRACTION * gpu_gib * GIB)
        ok = [
            c
            for c in usable
            if (c.estimate.peak_gpu_bytes or 0) <= budget
            and (ram_gib is None or (c.estimate.ram_bytes or 0) <= RAM_FRACTION * ram_gib * GIB)
        ]
        return min(ok, key=lambda c: (c.fidelity, c.estimate.ram_bytes or 0)) if ok else None

    ram_gib = free_ram / GIB if free_ram else None
    parts = []
    gpu_fit = next(((g, c) for g in LADDER_GPUS if (c := fits(g, ram_gib)) is not None), None)
    ram_note = f" with {ram_gib:.0f} GB RAM" if ram_gib else ""
    if gpu_fit is None:
        parts.append(
            f"it won't fit any GPU of the table (up to {LADDER_GPUS[-1]} GB){ram_note} under quality={quality!r}"
        )
    else:
        parts.append(f"the smallest GPU it fits{ram_note} is {gpu_fit[0]} GB")
    if free_gpu is not None:
        ram_fit = next(((r, c) for r in LADDER_RAMS if (c := fits(free_gpu / GIB, r)) is not None), None)
        if ram_fit is not None and (ram_gib is None or ram_fit[0] > ram_gib):
            parts.append(f"this GPU fits it with {ram_fit[0]} GB RAM")
    return "; ".join(parts)


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
