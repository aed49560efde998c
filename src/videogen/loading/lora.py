"""`spec.loras`: load adapters once per cached pipeline, switch between them with `set_adapters`."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import MissingDependencyError, SpecError, VideoGenError
from ..spec.videospec import LoRA

logger = logging.getLogger("videogen")


def check_loras(loras: Sequence[LoRA], class_name: str, takes_loras: bool) -> None:
    """Before weights load, without importing torch or diffusers: the pipeline takes LoRAs (`takes_loras`, from
    its stored signature: `hasattr(cls, "load_lora_weights")`), peft is installed, each source is a LoRA file, a
    folder holding one, or a Hub repo id (`check_source`)."""
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
        check_source(lora)


#: the weight files `load_lora_weights` reads (safetensors, or PyTorch's pickled state dicts)
LORA_SUFFIXES = (".safetensors", ".bin")
#: a Hub repo id: `org/name`, each part letters, digits, '-', '_' and '.' (huggingface_hub's rule)
HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
EXAMPLE = "e.g. LoRA('style.safetensors', 0.8) or LoRA('org/name', 0.8)"


def check_source(lora: LoRA) -> None:
    """A LoRA's source is an existing LoRA weight file (.safetensors or .bin), a folder holding one (the one
    `weight_name` names when given), or something that looks like a Hub repo id (`org/name`; fetched at load).
    Checked before load, without opening the file."""
    source = lora.source
    # os.path.expanduser leaves an unknown ~user as it is (Path.expanduser raises RuntimeError)
    path = Path(os.path.expanduser(source))
    if path.is_file():
        if path.suffix.lower() not in LORA_SUFFIXES:
            raise SpecError(
                f"loras: {source!r} is not a LoRA weight file: it must end in .safetensors or .bin; {EXAMPLE}",
                field="loras",
            )
        return
    if path.is_dir():
        if lora.weight_name is not None:
            if not (path / lora.weight_name).is_file():
                raise SpecError(
                    f"loras: the folder {source!r} has no {lora.weight_name!r} (weight_name); name a file in it",
                    field="loras",
                )
            return
        if not any(p.suffix.lower() in LORA_SUFFIXES for p in path.iterdir() if p.is_file()):
            raise SpecError(
                f"loras: the folder {source!r} holds no LoRA weight file (.safetensors or .bin); {EXAMPLE}",
                field="loras",
            )
        return
    looks_local = source.startswith((".", "/", "~")) or path.suffix.lower() in LORA_SUFFIXES
    if looks_local or not HUB_ID.fullmatch(source) or ".." in source or "--" in source:
        what = "no file or folder" if looks_local else "no file or folder, and not a Hub repo id (org/name),"
        raise SpecError(f"loras: {what} at {source!r}; {EXAMPLE}", field="loras")


def apply_loras(pipe: Any, loras: Sequence[LoRA], state: dict[str, Any]) -> None:
    """Make exactly `loras` active on `pipe`: unload the adapters this call doesn't use, load new ones, switch
    weights. Runs under the cached pipeline's lock, so no other call is using the adapters it unloads: a
    pipeline holds only the adapters of its current call (a service taking users' LoRAs doesn't accumulate
    them); a LoRA used again is loaded again (from the Hub cache or its file)."""
    loaded: set[str] = state.setdefault("lora_loaded", set())
    unused = sorted(loaded - {lora.adapter_name for lora in loras})
    if unused:
        pipe.delete_adapters(unused)
        loaded.difference_update(unused)
        state["lora_active"] = tuple(a for a in state.get("lora_active", ()) if a[0] not in unused)
        logger.info("unloaded LoRA adapter(s) %s", ", ".join(unused))
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
    state["lora_active"] = wanted
