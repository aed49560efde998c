"""What a memory plan is checked against: the pipeline's components, what each class supports, the device.

`defaults` fills the components a plan's quantization and layerwise casting apply to, so every reader of
the plan (rules, estimates, `from_pretrained`, hooks, metadata) sees the same resolved plan.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .components import (
    Capabilities,
    Component,
    batches_guidance,
    capabilities,
    default_quantized,
    layerwise_targets,
    pipeline_call_parameters,
    pipeline_components,
)
from .plans import MemoryPlan

if TYPE_CHECKING:
    from ..families.card import ModelCard
    from ..spec.videospec import VideoSpec
    from .estimate import Shape

logger = logging.getLogger("videogen")

__all__ = ["Context", "context", "defaults", "shape_of"]


@dataclass
class Context:
    """What a plan is checked against: the pipeline's components and what each class supports."""

    pipeline_class: str
    components: list[Component]
    source: str
    caps: dict[str, Capabilities]
    call_params: frozenset[str]
    device: str

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")

    @property
    def mps(self) -> bool:
        """Apple Silicon's GPU (Metal): an accelerator without CUDA streams, bitsandbytes, torchao or float8."""
        return self.device.startswith("mps")

    @property
    def accelerator(self) -> bool:
        """A GPU that placement can onload to: CUDA or MPS."""
        return self.cuda or self.mps

    def names(self, role: str | None = None) -> list[str]:
        return [c.name for c in self.components if role is None or c.role == role]

    def denoisers(self) -> list[str]:
        return self.names("denoiser")

    def first(self, role: str) -> Component | None:
        return next((c for c in self.components if c.role == role), None)

    def denoiser_caps(self) -> list[Capabilities]:
        return [self.caps[n] for n in self.denoisers() if n in self.caps]

    def vae_caps(self) -> Capabilities | None:
        vae = self.first("vae")
        return self.caps.get(vae.name) if vae else None


def context(card: ModelCard, pipeline_class: str, device: str) -> Context:
    components, source = pipeline_components(card, pipeline_class)
    caps = {}
    for comp in components:
        try:
            caps[comp.name] = capabilities(comp.class_name, comp.library)
        except (ImportError, AttributeError) as exc:
            logger.info("no capabilities for %s (%s): %s", comp.name, comp.class_name, exc)
    return Context(pipeline_class, components, source, caps, pipeline_call_parameters(pipeline_class), device)


def defaults(plan: MemoryPlan, ctx: Context) -> MemoryPlan:
    """`plan` with the components its quantization (not the GGUF ones) and layerwise casting apply to."""
    changes: dict[str, Any] = {}
    if plan.quantization and not plan.quantize_components:
        changes["quantize_components"] = tuple(n for n in default_quantized(ctx.names()) if n not in dict(plan.gguf))
    if plan.layerwise_casting and not plan.layerwise_components:
        changes["layerwise_components"] = tuple(layerwise_targets(ctx.names()))
    return plan.replace(**changes) if changes else plan


def shape_of(spec: VideoSpec, ctx: Context) -> Shape:
    """The spec's size as the estimates read it (a batch of two where guidance runs batched)."""
    from .estimate import Shape

    guided = (spec.guidance_scale or 0) > 1
    batched = guided and batches_guidance(ctx.pipeline_class)
    embedded = "true_cfg_scale" in ctx.call_params  # guidance_scale is a model input (HunyuanVideo, FramePack)
    passes = 2 if guided and not batched and not embedded else 1
    return Shape(int(spec.height or 0), int(spec.width or 0), int(spec.num_frames or 1), 2 if batched else 1, passes)
