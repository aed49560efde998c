"""`videogen.plan(spec)` / `videogen plan`: the memory plan for a spec, without loading weights.

It lives beside `generate()`: the spec is prepared as `generate` prepares it (generation.prepare), every
preset is estimated (memory.auto) and memory.report formats the figures. Activations come from the fitted
formulas, as `memory="auto"` decides (well under a second). `simulate=True` runs the pipeline's own call on
fake full-size weights instead (memory/simulate.py: seconds to minutes on a CPU, then cached) and decides
and reports with those figures.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..memory.plans import MemoryPlan
    from ..memory.report import PlanReport
    from .flow import Prepared

logger = logging.getLogger("videogen")


def plan(spec: Any = None, *, simulate: bool = False, **fields: Any) -> PlanReport:
    """The memory plan for a spec, with each component's size and each preset's estimated peak.

    Loads no weights. Activations from formulas fitted to simulations (instant); `simulate=True`: the
    pipeline's call simulated on fake full-size weights (precise for what PyTorch allocates; seconds to
    minutes on a CPU, then cached). `print(videogen.plan(model="wan2.1-t2v-14b"))` shows the table.
    """
    from ..memory.auto import candidates, choose, estimates, refusals
    from ..memory.context import context, shape_of
    from ..memory.estimate import (
        ASSUME_GPU_ENV,
        activation_parts,
        assumed_gpu_bytes,
        estimate_plan,
        free_gpu_bytes,
        free_ram_bytes,
    )
    from ..memory.report import PlanReport, PresetRow
    from ..memory.stored import save_learned

    if isinstance(spec, Mapping):
        spec, fields = None, {**spec, **fields}
    prepared = prepare_for_plan(spec, fields)
    card, chosen = prepared.card, prepared.plan
    ctx = context(card, prepared.class_name, prepared.device)
    shape = shape_of(prepared.spec, ctx)
    gpu_ctx = ctx if ctx.cuda else context(card, prepared.class_name, "cuda")
    assumed = assumed_gpu_bytes()
    simulated: dict[tuple, Any] = {}
    failed = None
    if simulate:
        simulated, failed = _simulations(prepared, [*candidates(gpu_ctx)[0].values(), chosen])
    ests, refused = estimates(gpu_ctx, card, shape, simulated=simulated)
    if prepared.spec.memory in (None, "auto"):
        choice = choose(ctx, card, shape, simulated)  # what prepare chose, or with the simulated figures
        chosen, reason = choice.plan, choice.reason
        free_gpu, total_gpu, free_ram = choice.free_gpu, choice.total_gpu, choice.free_ram
        if simulate and activation_parts(chosen) not in simulated and not failed:
            more, failed = _simulations(prepared, [chosen])
            simulated.update(more)
    else:
        gpu = free_gpu_bytes()
        free_gpu, total_gpu = gpu if gpu else (None, None)
        free_ram = free_ram_bytes()
        reason = (
            f"asked for memory={prepared.spec.memory!r}"
            if isinstance(prepared.spec.memory, str)
            else "asked for this MemoryPlan"
        )
    mine = estimate_plan(card, ctx.components, chosen, shape, "cuda", simulated.get(activation_parts(chosen)))
    if failed:
        for est in [mine, *ests.values()]:
            est.unknown.append(failed)
    if chosen.name not in ests or chosen != ests[chosen.name].plan.replace(oom_retry=chosen.oom_retry):
        ests = {**ests, chosen.name: mine}
    rows = []
    for name, est in ests.items():
        fits = None
        if free_gpu is not None and est.peak_gpu_bytes is not None:
            fits = est.peak_gpu_bytes <= free_gpu
        why = refused.get(name)
        rows.append(PresetRow(name, est.peak_gpu_bytes, est.ram_bytes, why.split(";")[0] if why else None, fits))
    here = refusals(ctx) if not ctx.cuda and assumed is None else {}  # presets this CPU machine can't run
    for row in rows:
        if row.refused is None and row.name in here:
            row.refused = here[row.name]
    save_learned()  # what was read live, for the next process (memory/stored.py)
    device = prepared.device
    if assumed is not None and not ctx.cuda:
        device = f"cuda (assumed by {ASSUME_GPU_ENV}; this machine: {prepared.device})"
    return PlanReport(
        model=card.name,
        pipeline=prepared.class_name,
        device=device,
        height=prepared.spec.filled_int("height"),
        width=prepared.spec.filled_int("width"),
        num_frames=prepared.spec.filled_int("num_frames"),
        source=ctx.source,
        plan=chosen,
        reason=reason,
        components=mine.components,
        presets=rows,
        free_gpu_bytes=free_gpu,
        total_gpu_bytes=total_gpu,
        free_ram_bytes=free_ram,
        unknown=mine.unknown,
    )


def _simulations(prepared: Prepared, plans: list[MemoryPlan]) -> tuple[dict[tuple, Any], str | None]:
    """Simulated activations for `plans` (memory/simulate.py); ({}, why) when the pipeline can't be
    simulated: the formulas then, and the report says why."""
    from ..errors import VideoGenError
    from ..memory.simulate import simulate_plans, subject_of

    try:
        return dict(simulate_plans(subject_of(prepared), plans)), None
    except VideoGenError as exc:
        logger.info("activations from formulas: %s", exc)
        return {}, f"activations from formulas, not simulated: {exc}"


def prepare_for_plan(spec: Any, fields: dict[str, Any]) -> Prepared:
    """`prepare` the spec; inputs only the call needs (prompt, image, video) get placeholders."""
    import numpy as np

    from ..catalog.lookup import resolve
    from ..errors import SpecError
    from .flow import build_spec, prepare

    full = build_spec(spec, fields)
    if full.task is None and all(getattr(full, k) is None for k in ("image", "last_image", "video")):
        full = full.replace(task=resolve(full.model).tasks[0])  # the model's first task, inputs made up below
    for _ in range(4):
        try:
            return prepare(full)
        except SpecError as exc:
            if exc.field == "prompt" and full.prompt is None:
                full = full.replace(prompt="(memory plan)")
                continue
            if exc.field in ("image", "last_image", "video") and getattr(full, exc.field) is None:
                card = resolve(full.model)
                h, w = full.height or card.height, full.width or card.width
                blank = np.zeros((h, w, 3), np.uint8)
                frames = full.num_frames or card.num_frames
                value = np.zeros((frames, h, w, 3), np.uint8) if exc.field == "video" else blank
                full = full.replace(**{exc.field: value})
                continue
            raise
    return prepare(full)
