"""The report `videogen.plan(spec)` / `videogen plan ...` prints: formatting only, from figures it is given
(videogen/planning.py computes them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..runtime.devices import is_accelerator
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
    #: predicted seconds per denoising step on the report's GPU (None: unknown)
    seconds_per_step: float | None = None
    #: "lossless", "8-bit weights" or "4-bit weights"
    weights: str | None = None
    #: a point of the searched space rather than a preset
    searched: bool = False


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
    #: the chosen plan's predicted time (predict.Prediction.to_dict) on `speed_gpu`
    prediction: dict[str, Any] | None = None
    #: the GPU of the table the seconds per step are for
    speed_gpu: str | None = None
    quality: str = "auto"
    #: plans searched, and how many of them fit
    searched: int = 0
    fitting: int = 0
    #: the plans the reason suggests (each one fits)
    hints: list[str] = field(default_factory=list)

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
        lines = [
            (
                f"{self.model} ({self.pipeline}) at {self.width}x{self.height}, {self.num_frames} frames; "
                f"device {self.device}"
            )
        ]
        lines.append(f"components (from {self.source}):")
        gpu_note = "" if is_accelerator(self.device) else " on a GPU"
        rows = [
            (
                "component",
                "class",
                "params",
                f"dtype{gpu_note}",
                f"weights{gpu_note}",
                f"activations{gpu_note}",
                f"under '{self.plan.name}' here",
            )
        ]
        for c in self.components:
            act = f"{_bytes(c.activation_bytes)} ({c.activation_source})" if c.bytes is not None else "?"
            rows.append(
                (
                    c.name,
                    c.class_name,
                    _count(c.params),
                    c.dtype,
                    _bytes(c.bytes),
                    act,
                    _where(c, self.plan, self.device),
                )
            )
        lines += _table(rows)
        if any(c.activation_source == "simulated" for c in self.components):
            lines.append(
                "  (simulated: the pipeline's own call run at this size on fake weights; peak of the tensors "
                "alive while the component runs)"
            )
        elif self.components:
            lines.append(
                "  (formula: per-kind formulas fitted to simulations at the catalog's default sizes, rough "
                "elsewhere; simulate=True / --simulate runs the pipeline's own call on fake weights)"
            )
        if self.free_gpu_bytes is not None:
            gpu = f"{gib(self.free_gpu_bytes)} free of {gib(self.total_gpu_bytes)}"
        elif self.device.startswith("mps"):
            gpu = "Apple GPU: its memory is the RAM, and torch gives no figure for what MPS lets a process hold"
        else:
            gpu = "no GPU here: estimates are for a GPU, in the card's dtypes"
        searched = f"{self.searched} plans searched, {self.fitting} fit; " if self.searched else ""
        lines.append(f"estimated peak GPU memory per plan ({searched}{gpu}; RAM free {gib(self.free_ram_bytes)}):")
        speed = f"s/step on {self.speed_gpu}" if self.speed_gpu else "s/step"
        preset_rows = [("plan", "peak GPU", "RAM (offloaded)", speed, "weights", "")]
        for r in self.presets:
            mark = "<- chosen" if r.name == self.plan.name else ""
            if r.refused:
                mark = f"not here: {r.refused}"
            elif r.fits is False:
                mark = f"{mark} (does not fit)" if mark else "does not fit"
            elif r.searched and not mark:
                mark = "searched, fits"
            seconds = f"{r.seconds_per_step:.3g}" if r.seconds_per_step is not None else "?"
            preset_rows.append(
                (
                    r.name,
                    gib(r.peak_gpu_bytes),
                    gib(r.ram_bytes) if r.ram_bytes else "-",
                    seconds,
                    r.weights or "",
                    mark,
                )
            )
        lines += _table(preset_rows)
        lines.append(
            "  (measured on a GPU: nothing yet. Peaks are estimates (weights counted, activations "
            + ("simulated" if any(c.activation_source == "simulated" for c in self.components) else "from formulas")
            + "); s/step is predicted from FLOPs counted from the architecture config, the bytes each plan moves "
            "over PCIe and the GPU's published figures at an assumed utilisation: docs/memory.md)"
        )
        if self.prediction:
            p = self.prediction
            lines.append(
                f"predicted for the choice: {p['seconds_per_step']} s/step ({p['tflop_per_step']} TFLOP/step "
                f"{p['flops']}, {p['forwards_per_step']} forward(s); compute {p['compute_s']} s, PCIe "
                f"{p['pcie_gb_per_step']} GB = {p['transfer_s']} s, casting {p['cast_s']} s); VAE decode "
                f"{p['decode_s']} s once (rough)"
            )
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
    for size, unit in ((1024**3, "GiB"), (1024**2, "MiB")):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n / 1024:.1f} KiB"


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]


def _where(c: ComponentEstimate, plan: MemoryPlan, device: str) -> str:
    if not is_accelerator(device):
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
