"""The plan space `memory="auto"` searches: per component, where it lives and how its weights are stored.

Axes: the denoisers' placement (resident, model offload, group offload by block with or without CUDA streams,
by leaf with streams, sequential offload); the text encoders resident or streamed (under group offload); the
weights (the checkpoint's dtype, float8 layerwise casting, torchao int8 weight-only, bitsandbytes 4-bit NF4
where it is installed, GGUF where the plan names a file); VAE tiling and slicing on or off. Each point is
resolved through the rule table (checks.py) as a custom plan, so only plans that run for this pipeline are
kept, and estimated (estimate.py). The presets are named points of the same space, adapted as presets are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from .checks import resolve
from .estimate import Estimate, activation_parts, estimate_plan
from .plans import MemoryPlan
from .points import points
from .presets import PRESETS

if TYPE_CHECKING:
    from ..families.card import ModelCard
    from .activations import Shape
    from .context import Context
    from .predict import Prediction

#: fidelity of a plan's weights: 0 lossless, 1 eight-bit (float8 casting, int8, GGUF Q8), 2 four-bit
LOSSLESS, EIGHT_BIT, FOUR_BIT = 0, 1, 2
FIDELITY_WORDS = {LOSSLESS: "lossless", EIGHT_BIT: "8-bit weights", FOUR_BIT: "4-bit weights"}
#: the policies `quality=` names: only lossless plans; lossless first, then the most faithful lossy; any plan
QUALITIES = ("lossless", "auto", "any")


@dataclass
class Candidate:
    """One point of the plan space: its resolved plan, estimate and (once a GPU is known) prediction."""

    plan: MemoryPlan
    estimate: Estimate
    fidelity: int
    preset: bool
    #: why it can't run here (a preset the rule table refuses); None: it can
    refused: str | None = None
    prediction: Prediction | None = None
    fits_gpu: bool | None = None
    fits_ram: bool | None = None
    #: bytes over the GPU budget plus bytes over the RAM budget (0: fits)
    short: int = 0

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def fits(self) -> bool:
        return self.refused is None and bool(self.fits_gpu) and self.fits_ram is not False

    @property
    def seconds(self) -> float:
        return self.prediction.seconds_per_step if self.prediction is not None else float("inf")


def fidelity(plan: MemoryPlan) -> int:
    """How faithful the plan's weights are: LOSSLESS, EIGHT_BIT or FOUR_BIT."""
    if plan.quantization and plan.quantization.endswith(("int4", "4bit")):
        return FOUR_BIT
    if plan.quantization or plan.layerwise_casting or plan.gguf:
        return EIGHT_BIT
    return LOSSLESS


def search(
    ctx: Context, card: ModelCard, shape: Shape, simulated: Mapping[tuple, Any] | None = None
) -> list[Candidate]:
    """Every preset (adapted; a refused one kept with why) and every generated point that runs for this
    pipeline (the others dropped), each estimated on a GPU. Duplicates of a preset keep the preset's name."""
    simulated = simulated or {}
    found: list[Candidate] = []
    seen: set[MemoryPlan] = set()

    def add(plan: MemoryPlan, preset: bool, refused: str | None = None) -> None:
        key = plan.replace(name="-", notes=())
        if key in seen:
            return
        seen.add(key)
        est = estimate_plan(card, ctx.components, plan, shape, "cuda", simulated.get(activation_parts(plan)))
        found.append(Candidate(plan, est, fidelity(plan), preset, refused))

    for template in PRESETS.values():
        try:
            add(resolve(template, ctx, fix=True), True)
        except (SpecError, ImportError) as exc:  # MissingDependencyError is an ImportError: keep it, say so
            add(resolve(template, ctx, fix=True, refuse=False), True, str(exc).removeprefix("memory: "))
    for plan in points().values():
        try:
            add(resolve(plan, ctx, fix=True), False)
        except (SpecError, ImportError):
            continue
    return found
