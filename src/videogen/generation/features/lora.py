"""The spec's LoRAs: loaded once per cached pipeline, switched per call (docs/lora in docs/architecture.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Feature

if TYPE_CHECKING:
    from ...generation.flow import Prepared


class LoraFeature(Feature):
    name = "LoRA"

    def prepare_pipeline(self, pipe: Any, prepared: Prepared, state: dict[str, Any]) -> None:
        from ...loading.lora import apply_loras

        apply_loras(pipe, prepared.spec.loras, state)
