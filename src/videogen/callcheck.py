"""Checks of a spec against its pipeline's call, from the stored signatures (signatures.py): `extra` names
and types, the scheduler's name and arguments, the LoRAs. No torch, no diffusers import."""

from __future__ import annotations

import numbers
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

from .errors import SpecError
from .spec import VideoSpec

if TYPE_CHECKING:
    from .card import ModelCard
    from .families.base import Family
    from .signatures import PipelineSignature


#: extra values videogen knows the range of: name → (minimum, maximum, why)
EXTRA_RANGES: dict[str, tuple[int, int, str]] = {
    "max_sequence_length": (1, 8192, "the prompt's token count the text encoder pads to"),
    "decode_chunk_size": (1, 100_000, "frames the VAE decodes at a time"),
}


def _fits(tree: Any, value: Any) -> bool | None:
    """Whether `value` fits a call annotation stored as a tree (`signatures.annotation_tree`) made of int, float,
    bool, str, None and list[...] of them; None when the annotation has other parts (tensors, images, enums)
    that videogen doesn't check."""
    if isinstance(tree, dict) and "union" in tree:
        verdicts = [_fits(member, value) for member in tree["union"]]
        return True if any(verdicts) else None if None in verdicts else False
    if tree == "None":
        return value is None
    if tree == "bool":
        return isinstance(value, bool)
    if tree == "int":
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if tree == "float":
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if tree == "str":
        return isinstance(value, str)
    if isinstance(tree, dict) and "list" in tree:
        if not isinstance(value, (list, tuple)):
            return False
        item = tree["list"]
        if item in ("int", "float"):  # list[int] timesteps are given as floats too (LTX's distilled 0.03)
            return all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
        verdicts = [_fits(item, v) for v in value]
        return None if None in verdicts else all(verdicts)
    return None


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


def check_call(spec: VideoSpec, card: ModelCard, family: Family, class_name: str) -> None:
    """The checks against the pipeline class, from its stored signature (`signatures`), so without importing
    torch or diffusers: `extra` names and types, the scheduler's name and argument names, the LoRAs."""
    from .lora import check_loras
    from .schedulers import check_scheduler_name
    from .signatures import pipeline_signature

    if spec.extra:
        signature = pipeline_signature(class_name)
        check_extra_against_signature(spec, signature.names, class_name)
        check_extra_types(spec, signature)
    check_scheduler_name(spec.scheduler, card.name, family.flow_matching)
    if spec.loras:
        check_loras(spec.loras, class_name, pipeline_signature(class_name).takes_loras)


def check_extra_against_signature(spec: VideoSpec, params: AbstractSet[str], class_name: str) -> None:
    """Every `extra` key must be a parameter of the pipeline's `__call__`."""
    for key in spec.extra:
        if key not in params:
            import difflib

            from .families.base import REFUSED_EXTRA

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
