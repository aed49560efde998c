"""`spec.loras`: load adapters once per cached pipeline, switch between them with `set_adapters`."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import MissingDependencyError, SpecError, VideoGenError
from .spec import LoRA

logger = logging.getLogger("videogen")


def check_loras(loras: Sequence[LoRA], class_name: str, takes_loras: bool) -> None:
    """Before weights load, without importing torch or diffusers: the pipeline takes LoRAs (`takes_loras`, from
    its stored signature: `hasattr(cls, "load_lora_weights")`), peft is installed, local sources exist."""
    if not loras:
        return
    if not takes_loras:
        raise SpecError(f"loras: {class_name} does not take LoRA adapters; remove loras", field="loras")
    import importlib.util

    if importlib.util.find_spec("peft") is None:  # found, not imported: importing peft imports torch
        raise MissingDependencyError("loras need peft: pip install 'videogen-diffusers[lora]'")
    names = set()
    for lora in loras:
        if not isinstance(lora, LoRA):  # a spec's loras are LoRAs (VideoSpec normalises them)
            raise SpecError(f"loras: {lora!r} is not a videogen.LoRA", field="loras")
        if lora.adapter_name in names:
            raise SpecError(
                f"loras: adapter name {lora.adapter_name!r} is used twice; give each LoRA its own "
                "name (LoRA(source, weight, name='style'))",
                field="loras",
            )
        names.add(lora.adapter_name)
        looks_local = lora.source.startswith((".", "/", "~")) or os.path.splitext(lora.source)[1] != ""
        # os.path.expanduser leaves an unknown ~user as it is (Path.expanduser raises RuntimeError)
        if looks_local and not os.path.exists(os.path.expanduser(lora.source)):
            raise SpecError(f"loras: no file or folder at {lora.source!r}", field="loras")


def apply_loras(pipe: Any, loras: Sequence[LoRA], state: dict[str, Any]) -> None:
    """Make exactly `loras` active on `pipe`: load new ones, switch weights, disable when none."""
    loaded: set[str] = state.setdefault("lora_loaded", set())
    for lora in loras:
        if lora.adapter_name in loaded:
            continue
        source = Path(lora.source).expanduser()
        kwargs: dict[str, Any] = {"adapter_name": lora.adapter_name}
        if source.is_file():
            kwargs["weight_name"] = source.name
            location = str(source.parent)
        else:
            location = lora.source
            if lora.weight_name:
                kwargs["weight_name"] = lora.weight_name
        try:
            pipe.load_lora_weights(location, **kwargs)
        except Exception as exc:
            raise VideoGenError(f"loras: loading {lora.source} failed ({type(exc).__name__}: {exc})") from exc
        loaded.add(lora.adapter_name)
        logger.info("loaded LoRA %s as %s", lora.source, lora.adapter_name)
    wanted = tuple((lora.adapter_name, float(lora.weight)) for lora in loras)
    if state.get("lora_active") == wanted:
        return
    if wanted:
        pipe.enable_lora()
        pipe.set_adapters([n for n, _ in wanted], adapter_weights=[w for _, w in wanted])
    elif loaded:
        pipe.disable_lora()
    state["lora_active"] = wanted
