"""Checks of a spec against its pipeline's call, from the stored signatures (signatures.py): `extra` names
and types, the scheduler's name and arguments, the LoRAs, the schedule. No torch, no diffusers import (but
for a swapped scheduler's one `set_timesteps` run, after every other check here)."""

from __future__ import annotations

import numbers
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING

from ..catalog.signatures import fits as _fits
from ..errors import SpecError
from ..spec.videospec import CompleteSpec, VideoSpec

if TYPE_CHECKING:
    from ..catalog.signatures import PipelineSignature
    from ..families.base import Family
    from ..families.card import ModelCard


#: extra values videogen knows the range of: name → (minimum, maximum, why)
EXTRA_RANGES: dict[str, tuple[int, int, str]] = {
    "max_sequence_length": (1, 8192, "the prompt's token count the text encoder pads to"),
    "decode_chunk_size": (1, 100_000, "frames the VAE decodes at a time"),
}


def check_extra_types(spec: VideoSpec, signature: PipelineSignature) -> None:
    """Every `extra` value must fit the type its `__call__` parameter is annotated with (where that is made
    of int, float, bool, str, None and lists of them), and known counts must be in range.

    `signature` is the pipeline's stored call signature (`signatures.pipeline_signature`): no import."""
    for key, value in spec.extra.items():
        param = signature.params.get(key)
        if param is None or "type" not in param:
            continue
        default = param.get("default")
        if value is None and default == "None":
            continue
        if _fits(param["type"], value) is False:
            shown = f" (default {default})" if default is not None else ""
            raise SpecError(
                f"extra[{key!r}]={value!r} does not fit {signature.class_name}.__call__'s {key}: "
                f"{param['shown']}{shown}",
                field="extra",
            )
        if key in EXTRA_RANGES and isinstance(value, numbers.Real) and not isinstance(value, bool):
            low, high, why = EXTRA_RANGES[key]
            number = int(value) if isinstance(value, numbers.Integral) else float(value)  # an int stays exact
            if not low <= number <= high:
                raise SpecError(
                    f"extra[{key!r}]={value!r} must be between {low} and {high} ({why}); default {default}",
                    field="extra",
                )


def check_call(spec: CompleteSpec, card: ModelCard, family: Family, class_name: str) -> None:
    """The checks against the pipeline class, from its stored signature (`signatures`), so without importing
    torch or diffusers: `extra` names and types, the scheduler's name and arguments, the LoRAs; then the
    schedule (`schedulers.check_schedule`: the scheduler against the model's and the pipeline's timestep
    arguments; a swapped scheduler is run once, which imports it)."""
    from ..catalog.signatures import pipeline_signature
    from ..loading.lora import check_loras
    from ..loading.schedulers import check_schedule, check_scheduler_name

    if spec.extra:
        signature = pipeline_signature(class_name)
        check_extra_against_signature(spec, signature.names | family.own_extra, class_name)
        check_extra_types(spec, signature)
    check_scheduler_name(spec.scheduler, card.name, family.flow_matching)
    if spec.loras:
        check_loras(spec.loras, class_name, pipeline_signature(class_name).takes_loras)
    check_schedule(spec, card, family, class_name)


def check_extra_against_signature(spec: VideoSpec, params: AbstractSet[str], class_name: str) -> None:
    """Every `extra` key must be a parameter of the pipeline's `__call__`."""
    for key in spec.extra:
        if key not in params:
            import difflib

            from ..families.base import REFUSED_EXTRA

            offered = sorted(p for p in params if p not in REFUSED_EXTRA)
            close = difflib.get_close_matches(key, offered, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            public = sorted(
                p
                for p in offered
                if not p.startswith("_") and p not in {"prompt_embeds", "negative_prompt_embeds", "latents"}
            )
            raise SpecError(
                f"extra[{key!r}] is not a parameter of {class_name}.__call__; {hint}it takes: {', '.join(public)}",
                field="extra",
            )
