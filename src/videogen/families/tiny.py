"""Tiny random-weight pipelines of every family, built offline and saved with `save_pretrained`.

Product, not test code: the demo (`videogen demo`), the examples' `--tiny` runs and users' CI run on them.
`tiny_pipeline(family, task)` returns the folder; `generate(model="tiny-<family>[-<task>]")` loads it
through the same path a real model takes. Folders are cached under `$VIDEOGEN_CACHE/tiny` (default
`~/.cache/videogen/tiny`), keyed by the versions and builder source that shape them, and built atomically.

Above the families (it builds through the registry, `Family.build_tiny`), below the catalog: tiny cards
are found in their family's cards, not looked up by name. The builders' shared parts (tokenizers in code,
small encoders) are `videogen.families.tiny_parts`, below the families. `videogen.testing` re-exports this module.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..media.atomic import build_folder_atomically, move_into_place

if TYPE_CHECKING:
    from .card import ModelCard

logger = logging.getLogger("videogen")


def cache_root() -> Path:
    """Where videogen keeps what it builds: `$VIDEOGEN_CACHE`, else `~/.cache/videogen`."""
    root = os.environ.get("VIDEOGEN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "videogen"
    )
    return Path(root)


def _fingerprint(family: str, variant: str) -> str:
    """Changes with the versions that shape a tiny model and with the builder's own source."""
    import inspect

    from ..runtime.devices import versions
    from . import get_family, tiny_parts

    v = versions()
    digest = hashlib.sha1("|".join([family, variant, v["diffusers"], v["transformers"]]).encode())
    for source in (type(get_family(family)), tiny_parts):  # the family's module, and the shared tiny parts
        digest.update(Path(inspect.getfile(source)).read_bytes())
    return digest.hexdigest()[:12]


def tiny_folder(family: str, variant: str) -> Path:
    """The folder of tiny model `variant` of `family`, built on first use (seeded: always the same weights)."""
    from . import get_family

    fam = get_family(family)
    target = cache_root() / "tiny" / f"{family}-{variant}-{_fingerprint(family, variant)}"
    if (target / "model_index.json").is_file():
        return target
    if _other_rank():
        return _wait_for_rank_zero(target)
    from ..runtime.lock import LOAD_LOCK

    with LOAD_LOCK:  # builds modules: never while another thread loads weights
        if (target / "model_index.json").is_file():
            return target
        import torch

        def build(folder: Path) -> None:
            logger.info("building tiny %s/%s in %s", family, variant, target)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                fam.build_tiny(variant, folder)

        build_folder_atomically(target, build, done="model_index.json")  # another process may finish first
    return target


def _other_rank() -> bool:
    """A rank other than 0 of a started torch.distributed process group (`VideoSpec.parallel` under torchrun)."""
    import sys

    if "torch" not in sys.modules:
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_rank() != 0


def _wait_for_rank_zero(target: Path, timeout: float = 600.0) -> Path:
    """Once a process group has started, transformers' `save_pretrained` writes weights on rank 0 only, so a
    build on another rank would cache a folder without its text encoder: those ranks wait for rank 0's build
    (every rank of a parallel run asks for the same model)."""
    import time

    deadline = time.monotonic() + timeout
    while not (target / "model_index.json").is_file():
        if time.monotonic() > deadline:
            raise RuntimeError(f"videogen: waited {timeout:.0f} s for rank 0 to build the tiny model {target}")
        time.sleep(0.2)
    return target


def tiny_card(family: str, task: str = "t2v") -> ModelCard:
    """The card of the tiny model of `family` that does `task`: `tiny-<family>`, else `tiny-<family>-<task>`,
    else the first tiny card that does it (in the family's order)."""
    from ..errors import SpecError
    from . import get_family

    tiny = [c for c in get_family(family).cards if c.tiny]
    for name in (f"tiny-{family}", f"tiny-{family}-{task}"):
        for card in tiny:
            if card.name == name and task in card.tasks:
                return card
    for card in sorted(tiny, key=lambda c: c.name):
        if task in card.tasks:
            return card
    raise SpecError(
        f"task={task!r}: no tiny {family} model does it; tiny {family} models: "
        + ", ".join(f"{c.name} ({'/'.join(c.tasks)})" for c in sorted(tiny, key=lambda c: c.name)),
        field="task",
    )


def tiny_card_name(family: str, task: str = "t2v") -> str:
    """The catalog name of the tiny model of `family` that does `task`."""
    return tiny_card(family, task).name


def tiny_pipeline(family: str, task: str = "t2v") -> Path:
    """The saved folder of the tiny `family` pipeline for `task` (load it with `from_pretrained`)."""
    card = tiny_card(family, task)
    return tiny_folder(card.family, card.tiny or "")


def sample_image(height: int = 256, width: int = 256) -> Any:
    """A smooth synthetic RGB test picture (PIL), for image-to-video demos and examples offline."""
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack(
        [
            x * 255 // max(width - 1, 1),
            y * 255 // max(height - 1, 1),
            255 - (x * 127 // max(width - 1, 1) + y * 127 // max(height - 1, 1)),
        ],
        -1,
    )
    return Image.fromarray(rgb.astype(np.uint8))


def tiny_lora(family: str = "wan", rank: int = 4) -> Path:
    """A LoRA file (peft, random non-zero weights) for the tiny `family` transformer, built once and cached."""
    import diffusers
    import torch
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    from . import get_family

    card = tiny_card(family)
    folder = tiny_folder(card.family, card.tiny or "")
    target = cache_root() / "tiny" / f"{folder.name}-lora-r{rank}" / "pytorch_lora_weights.safetensors"
    if target.is_file():
        return target
    pipe_cls = getattr(
        diffusers, card.pipeline_class("t2v" if "t2v" in card.tasks else card.tasks[0], get_family(card.family))
    )
    index = json.loads((folder / "model_index.json").read_text())
    model_cls = getattr(diffusers, index["transformer"][1])
    transformer = model_cls.from_pretrained(folder, subfolder="transformer")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        transformer.add_adapter(
            LoraConfig(
                r=rank, lora_alpha=rank, init_lora_weights=False, target_modules=["to_q", "to_k", "to_v", "to_out.0"]
            )
        )
    tmp = Path(tempfile.mkdtemp(prefix=".lora.", dir=cache_root() / "tiny"))
    try:
        pipe_cls.save_lora_weights(tmp, transformer_lora_layers=get_peft_model_state_dict(transformer))
        move_into_place(tmp / target.name, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
