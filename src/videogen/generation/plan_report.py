"""`videogen.plan(spec)` / `videogen plan`: the memory plan for a spec, without loading weights.

It lives beside `generate()`: the spec is prepared as `generate` prepares it (generation.prepare), the plan
space is searched, estimated and timed (memory.auto, memory.search, memory.predict) for this machine or a
described one (`gpu=`, `ram=`: memory.machine) and memory.report formats the figures. Activations come from the fitted
formulas, as `memory="auto"` decides (well under a second). `simulate=True` runs the pipeline's own call on
fake full-size weights instead (memory/simulate.py: seconds to minutes on a CPU, then cached) and decides
and reports with those figures.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..memory.auto import Choice
    from ..memory.plans import MemoryPlan
    from ..memory.report import PlanReport
    from .flow import Prepared

logger = logging.getLogger("videogen")


def plan(
    spec: Any = None, *, simulate: bool = False, gpu: Any = None, ram: Any = None, quality: str = "auto", **fields: Any
) -> PlanReport:
    """The memory plan for a spec, with each component's size, every searched plan's estimated peak and
    predicted seconds per step, and the choice.

    Loads no weights and imports no torch for a catalog model. `gpu` plans for a GPU you may not have: a
    table name ("rtx4090", "h100") or a size ("12GB", 12: the commonest card of that size stands for its
    speed); `ram` for that much free RAM ("32GB"). `quality`: "auto" (lossless first, then 8-bit, then 4-bit
    weights), "lossless" or "any". Activations from formulas fitted to simulations (instant);
    `simulate=True`: the pipeline's call simulated on fake full-size weights (seconds to minutes on a CPU,
    then cached). `print(videogen.plan(model="wan2.1-t2v-14b", gpu="12GB", ram="32GB"))` shows the table.
    """
    from ..memory.machine import target

    with target(gpu, ram) as described:
        return _plan(spec, fields, simulate, quality, described)


def _plan(spec: Any, fields: dict[str, Any], simulate: bool, quality: str, described: Any) -> PlanReport:
    from ..memory.auto import choose, estimates, fits, refusals
    from ..memory.context import context, shape_of
    from ..memory.estimate import ASSUME_GPU_ENV, activation_parts, assumed_gpu_bytes, estimate_plan
    from ..memory.predict import predict
    from ..memory.report import PlanReport, PresetRow
    from ..memory.search import FIDELITY_WORDS, QUALITIES, fidelity
    from ..memory.stored import save_learned

    if quality not in QUALITIES:
        from ..errors import SpecError

        raise SpecError(
            f"quality={quality!r} is not one of {', '.join(QUALITIES)}, e.g. quality='auto'", field="quality"
        )
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
        from ..memory.auto import candidates

        simulated, failed = _simulations(prepared, [*candidates(gpu_ctx)[0].values(), chosen])
    choice = choose(ctx, card, shape, simulated, quality)
    free_gpu, total_gpu, free_ram = choice.free_gpu, choice.total_gpu, choice.free_ram
    if prepared.spec.memory in (None, "auto"):
        chosen, reason = choice.plan, choice.reason
        if simulate and activation_parts(chosen) not in simulated and not failed:
            more, failed = _simulations(prepared, [chosen])
            simulated.update(more)
    else:
        reason = (
            f"asked for memory={prepared.spec.memory!r}"
            if isinstance(prepared.spec.memory, str)
            else "asked for this MemoryPlan"
        )
    mine = estimate_plan(card, ctx.components, chosen, shape, "cuda", simulated.get(activation_parts(chosen)))
    mine_prediction = predict(mine, ctx.components, shape, choice.gpu, shape.passes) if choice.gpu else None
    rows: list[PresetRow] = []
    if choice.candidates:
        shown = [c for c in choice.candidates if c.preset]
        fitting = sorted((c for c in choice.candidates if not c.preset and c.fits), key=lambda c: c.seconds)
        shown += fitting[:SEARCHED_SHOWN]
        for c in shown:
            rows.append(
                PresetRow(
                    c.name,
                    c.estimate.peak_gpu_bytes,
                    c.estimate.ram_bytes,
                    c.refused.split(";")[0] if c.refused else None,
                    c.fits if c.refused is None else None,
                    c.prediction.seconds_per_step if c.prediction else None,
                    FIDELITY_WORDS[c.fidelity],
                    not c.preset,
                )
            )
        searched, fit_count = len(choice.candidates), sum(1 for c in choice.candidates if c.fits)
    else:  # no GPU here and none described: the presets' estimates only
        ests, refused = estimates(gpu_ctx, card, shape, simulated=simulated)
        for name, est in ests.items():
            why = refused.get(name)
            rows.append(PresetRow(name, est.peak_gpu_bytes, est.ram_bytes, why.split(";")[0] if why else None))
        searched = fit_count = 0
    if failed:
        mine.unknown.append(failed)
    if not any(r.name == chosen.name for r in rows):
        rows.append(
            PresetRow(
                chosen.name,
                mine.peak_gpu_bytes,
                mine.ram_bytes,
                None,
                fits(mine, free_gpu, total_gpu, free_ram),
                mine_prediction.seconds_per_step if mine_prediction else None,
                FIDELITY_WORDS[fidelity(chosen)],
                True,
            )
        )
    here = refusals(ctx) if not ctx.cuda and assumed is None else {}  # presets this CPU machine can't run
    for row in rows:
        if row.refused is None and row.name in here:
            row.refused = here[row.name]
    save_learned()  # what was read live, for the next process (memory/stored.py)
    device = prepared.device
    if described is not None and described.gpu is not None:
        device = f"cuda: {described.gpu.label()} (described; this machine: {prepared.device})"
    elif assumed is not None and not ctx.cuda:
        device = f"cuda (assumed by {ASSUME_GPU_ENV}; this machine: {prepared.device})"
    return PlanReport(
        model=card.name,
        pipeline=prepared.class_name,
        device=device,
        height=prepared.spec.height,
        width=prepared.spec.width,
        num_frames=prepared.spec.num_frames,
        source=ctx.source,
        plan=chosen,
        reason=reason,
        components=mine.components,
        presets=rows,
        free_gpu_bytes=free_gpu,
        total_gpu_bytes=total_gpu,
        free_ram_bytes=free_ram,
        unknown=mine.unknown,
        prediction=mine_prediction.to_dict() if mine_prediction else None,
        speed_gpu=choice.gpu.label() if choice.gpu else None,
        quality=quality,
        searched=searched,
        fitting=fit_count,
        hints=list(choice.hints),
    )


#: searched plans (beyond the presets) the report lists: the fastest that fit
SEARCHED_SHOWN = 6


@dataclass
class TableEntry:
    """What `auto` picks for one catalog model at its default size on one machine of the docs table."""

    model: str
    size: str
    gpu_gib: int
    ram_gib: int
    #: None where the model's default spec is refused (`error` says why)
    choice: Choice | None
    error: str | None = None


def plan_table(
    models: list[str] | None = None,
    gpus: tuple[int, ...] | None = None,
    rams: tuple[int, ...] | None = None,
    quality: str = "auto",
) -> list[TableEntry]:
    """`auto`'s choice for each catalog model at its default size on each (GPU, RAM) pair of the docs table:
    the space searched once per model, decided per machine (memory.auto.decide, as `auto` decides), the
    predictions for the table's card of each size."""
    from ..catalog.lookup import list_models, resolve
    from ..errors import SpecError
    from ..memory.auto import decide
    from ..memory.context import context, shape_of
    from ..memory.gpus import GIB, TABLE_GPUS, TABLE_RAMS, size_gpu
    from ..memory.search import search

    names = models or [c.name for c in list_models(include_tiny=False)]
    out = []
    for name in names:
        card = resolve(name)
        try:
            prepared = prepare_for_plan(None, {"model": name})
        except SpecError as exc:  # the card's own defaults refused: said in the table, not hidden
            logger.warning("plan table: %s at its defaults: %s", name, exc)
            size = f"{card.width}×{card.height}×{card.num_frames}"
            out += [
                TableEntry(name, size, g, r, None, str(exc)) for g in gpus or TABLE_GPUS for r in rams or TABLE_RAMS
            ]
            continue
        ctx = context(card, prepared.class_name, "cuda")
        shape = shape_of(prepared.spec, ctx)
        found = search(ctx, card, shape)
        size = f"{shape.width}×{shape.height}×{shape.frames}"
        for gpu in gpus or TABLE_GPUS:
            for ram in rams or TABLE_RAMS:
                choice = decide(found, ctx, shape, gpu * GIB, gpu * GIB, ram * GIB, size_gpu(gpu), quality)
                out.append(TableEntry(name, size, gpu, ram, choice))
    return out


def table_markdown(entries: list[TableEntry]) -> str:
    """The table in docs/memory.md: a row per model and RAM size, a column per GPU size; each cell the plan
    `auto` picks and its predicted seconds per step (✗: no plan fits that machine)."""
    from ..memory.gpus import size_gpu

    gpus = sorted({e.gpu_gib for e in entries})
    rows = ["| model (W×H×frames) | RAM | " + " | ".join(f"{g} GB ({size_gpu(g).name})" for g in gpus) + " |"]
    rows.append("|---|---|" + "---|" * len(gpus))
    cells: dict[tuple[str, int], dict[int, str]] = {}
    sizes: dict[str, str] = {}
    for e in entries:
        sizes[e.model] = e.size
        if e.choice is None:
            cells.setdefault((e.model, e.ram_gib), {})[e.gpu_gib] = "? (defaults refused)"
            continue
        chosen = next((c for c in e.choice.candidates if c.plan.name == e.choice.plan.name), None)
        if chosen is None or not e.choice.known:
            text = "? (sizes unknown)"
        else:
            speed = f" {chosen.seconds:.3g} s" if chosen.prediction is not None else ""
            text = f"`{chosen.name}`{speed}" if chosen.fits else "✗ nothing fits"
        cells.setdefault((e.model, e.ram_gib), {})[e.gpu_gib] = text
    for (model, ram), by_gpu in cells.items():
        rows.append(f"| {model} ({sizes[model]}) | {ram} GB | " + " | ".join(by_gpu[g] for g in gpus) + " |")
    return "\n".join(rows)


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
    from ..spec.inputs import INPUTS
    from .flow import build_spec, prepare

    full = build_spec(spec, fields)
    if full.task is None and all(getattr(full, k) is None for k in INPUTS):
        full = full.replace(task=resolve(full.model).tasks[0])  # the model's first task, inputs made up below
    for _ in range(2 + len(INPUTS)):
        try:
            return prepare(full)
        except SpecError as exc:
            if exc.field == "prompt" and full.prompt is None:
                full = full.replace(prompt="(memory plan)")
                continue
            if exc.field in INPUTS and getattr(full, exc.field) is None:
                card = resolve(full.model)
                h, w = full.height or card.height, full.width or card.width
                blank = np.zeros((h, w, 3), np.uint8)
                frames = full.num_frames or card.num_frames
                kind = INPUTS[exc.field].kind
                value = np.zeros((frames, h, w, 3), np.uint8) if kind in ("video", "image_or_video") else blank
                full = full.replace(**{exc.field: value})
                continue
            raise
    return prepare(full)
