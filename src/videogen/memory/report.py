"""`videogen.plan(spec)` / `videogen plan ...`: the memory plan for a spec, without loading weights."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .estimate import ComponentEstimate, gib
from .plans import MemoryPlan


@dataclass
class PresetRow:
    name: str
    peak_gpu_bytes: int | None
    ram_bytes: int | None
    #: why this preset can't run here (None: it can)
    refused: str | None = None
    fits: bool | None = None


@dataclass
class PlanReport:
    """Each component's size and where it will live, every preset's estimated peak, and the choice."""

    model: str
    pipeline: str
    device: str
    height: int
    width: int
    num_frames: int
    source: str
    plan: MemoryPlan
    reason: str
    components: list[ComponentEstimate]
    presets: list[PresetRow]
    free_gpu_bytes: int | None = None
    total_gpu_bytes: int | None = None
    free_ram_bytes: int | None = None
    unknown: list[str] = field(default_factory=list)

    @property
    def estimated_peak_gpu_bytes(self) -> int | None:
        row = next((r for r in self.presets if r.name == self.plan.name), None)
        return row.peak_gpu_bytes if row else None

    def to_dict(self) -> dict[str, Any]:
        import dataclasses

        out = dataclasses.asdict(self)
        out["plan"] = self.plan.summary()
        return out

    def __str__(self) -> str:
        lines = [(f"{self.model} ({self.pipeline}) at {self.width}x{self.height}, {self.num_frames} frames; "
                 f"device {self.device}")]
        lines.append(f"components (from {self.source}):")
        gpu_note = "" if self.device.startswith("cuda") else " on a GPU"
        rows = [("component", "class", "params", f"dtype{gpu_note}", f"weights{gpu_note}",
                 f"activations{gpu_note}", f"under '{self.plan.name}' here")]
        for c in self.components:
            act = f"{_bytes(c.activation_bytes)} ({c.activation_source})" if c.bytes is not None else "?"
            rows.append((c.name, c.class_name, _count(c.params), c.dtype,
                         _bytes(c.bytes), act, _where(c, self.plan, self.device)))
        lines += _table(rows)
        if any(c.activation_source == "simulated" for c in self.components):
            lines.append("  (simulated: the pipeline's own call run at this size on fake weights; peak of the tensors "
                         "alive while the component runs)")
        gpu = (f"{gib(self.free_gpu_bytes)} free of {gib(self.total_gpu_bytes)}" if self.free_gpu_bytes is not None
               else "no GPU here: estimates are for a GPU, in the card's dtypes")
        lines.append(f"estimated peak GPU memory per preset ({gpu}; RAM free {gib(self.free_ram_bytes)}):")
        rows = [("preset", "peak GPU", "RAM (offloaded)", "")]
        for r in self.presets:
            mark = "<- chosen" if r.name == self.plan.name else ""
            if r.refused:
                mark = f"not here: {r.refused}"
            elif r.fits is False:
                mark = mark or "does not fit"
            rows.append((r.name, gib(r.peak_gpu_bytes), gib(r.ram_bytes) if r.ram_bytes else "-", mark))
        lines += _table(rows)
        lines.append(f"choice: {self.plan.describe()}")
        lines.append(f"reason: {self.reason}")
        for note in self.plan.notes:
            if not note.startswith("chosen by auto"):
                lines.append(f"note: {note}")
        for item in self.unknown:
            lines.append(f"unknown: {item}")
        return "\n".join(lines)


def _count(n: int | None) -> str:
    if n is None:
        return "?"
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return str(n)


def _bytes(n: int | None) -> str:
    if n is None:
        return "?"
    for size, unit in ((1024 ** 3, "GiB"), (1024 ** 2, "MiB")):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n / 1024:.1f} KiB"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]


def _where(c: ComponentEstimate, plan: MemoryPlan, device: str) -> str:
    if not device.startswith("cuda"):
        return "RAM (CPU run, float32)" if plan.placement == "none" else "RAM (CPU run, group hooks)"
    if plan.placement == "none":
        return "GPU, resident"
    if plan.placement == "model":
        return "RAM → GPU while it runs (model offload)"
    if plan.placement == "sequential":
        return "RAM → GPU layer by layer (sequential offload)"
    own = plan.component(c.name)
    offload = own.offload if own is not None else plan.offload_type
    if offload == "resident":
        return "GPU, resident"
    where = "disk" if plan.offload_to_disk else "RAM"
    level = "by block" if offload == "block_level" else "layer by layer"
    return f"{where} → GPU {level} (group offload{', streams' if plan.use_stream else ''})"


def plan(spec: Any = None, *, simulate: bool | None = None, **fields: Any) -> PlanReport:
    """The memory plan for a spec, with each component's size and each preset's estimated peak.

    Loads no weights. Activations are simulated: the pipeline's call runs on fake full-size weights
    (seconds on a CPU, then cached; `simulate=False` or `VIDEOGEN_SIMULATE=0`: formulas, instant).
    `print(videogen.plan(model="wan2.1-t2v-14b"))` shows the table.
    """
    from .auto import choose, estimates, simulations
    from .checks import context, shape_of
    from .simulate import activation_parts, enabled, subject_of

    if isinstance(spec, Mapping):
        spec, fields = None, {**spec, **fields}
    simulate = enabled() if simulate is None else simulate
    prepared = _prepare_for_plan(spec, fields)
    card, chosen = prepared.card, prepared.plan
    subject = subject_of(prepared) if simulate else None
    ctx = context(card, prepared.class_name, prepared.device)
    shape = shape_of(prepared.spec, ctx)
    gpu_ctx = ctx if ctx.cuda else context(card, prepared.class_name, "cuda")
    ests, refused = estimates(gpu_ctx, card, shape, subject=subject)
    if prepared.spec.memory in (None, "auto"):
        choice = choose(ctx, card, shape, subject)
        reason, free_gpu, total_gpu, free_ram = choice.reason, choice.free_gpu, choice.total_gpu, choice.free_ram
    else:
        from .estimate import free_gpu_bytes, free_ram_bytes

        gpu = free_gpu_bytes()
        free_gpu, total_gpu = gpu if gpu else (None, None)
        free_ram = free_ram_bytes()
        reason = f"asked for memory={prepared.spec.memory!r}" if isinstance(prepared.spec.memory, str) \
            else "asked for this MemoryPlan"
    from .estimate import estimate_plan

    sims, failed = simulations(subject, [chosen]) if subject is not None else ({}, None)
    mine = estimate_plan(card, ctx.components, chosen, shape, "cuda", sims.get(activation_parts(chosen)))
    if failed:
        mine.unknown.append(failed)
    if chosen.name not in ests or chosen != ests[chosen.name].plan.replace(oom_retry=chosen.oom_retry):
        ests = {**ests, chosen.name: mine}
    rows = []
    for name, est in ests.items():
        fits = None
        if free_gpu is not None and est.peak_gpu_bytes is not None:
            fits = est.peak_gpu_bytes <= free_gpu
        why = refused.get(name)
        rows.append(PresetRow(name, est.peak_gpu_bytes, est.ram_bytes, why.split(";")[0] if why else None, fits))
    here = refused_here(ctx) if not ctx.cuda else {}  # presets this CPU machine can't run
    for row in rows:
        if row.refused is None and row.name in here:
            row.refused = here[row.name]
    return PlanReport(
        model=card.name, pipeline=prepared.class_name, device=prepared.device, height=int(prepared.spec.height),
        width=int(prepared.spec.width), num_frames=int(prepared.spec.num_frames), source=ctx.source,
        plan=chosen, reason=reason, components=mine.components, presets=rows, free_gpu_bytes=free_gpu,
        total_gpu_bytes=total_gpu, free_ram_bytes=free_ram, unknown=mine.unknown)


def refused_here(ctx: Any) -> dict[str, str]:
    """Presets that can't run on this (CPU) machine, with the reason."""
    from ..errors import SpecError
    from .checks import adapt, check
    from .presets import PRESETS

    out = {}
    for name, preset in PRESETS.items():
        try:
            check(adapt(preset, ctx), ctx)
        except (SpecError, ImportError) as exc:
            out[name] = str(exc).removeprefix("memory: ").split(";")[0]
    return out


def _prepare_for_plan(spec: Any, fields: dict[str, Any]) -> Any:
    """`prepare` the spec; inputs only the call needs (prompt, image, video) get placeholders."""
    import numpy as np

    from ..errors import SpecError
    from ..generation import build_spec, prepare

    full = build_spec(spec, fields)
    if full.task is None and all(getattr(full, k) is None for k in ("image", "last_image", "video")):
        from ..catalog import resolve

        full = full.replace(task=resolve(full.model).tasks[0])  # the model's first task, inputs made up below
    for _ in range(4):
        try:
            return prepare(full)
        except SpecError as exc:
            if exc.field == "prompt" and full.prompt is None:
                full = full.replace(prompt="(memory plan)")
                continue
            if exc.field in ("image", "last_image", "video") and getattr(full, exc.field) is None:
                from ..catalog import resolve

                card = resolve(full.model)
                h, w = full.height or card.height, full.width or card.width
                blank = np.zeros((h, w, 3), np.uint8)
                frames = full.num_frames or card.num_frames
                value = np.zeros((frames, h, w, 3), np.uint8) if exc.field == "video" else blank
                full = full.replace(**{exc.field: value})
                continue
            raise
    return prepare(full)
