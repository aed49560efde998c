"""Tiny random-weight pipelines of every family, built offline and saved with `save_pretrained`.

`tiny_pipeline(family, task)` returns the folder; `generate(model="tiny-<family>[-<task>]")` loads
it through the same path a real model takes. Folders are cached under `$VIDEOGEN_CACHE/tiny`
(default `~/.cache/videogen/tiny`), keyed by the versions that shape them, and built atomically.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

logger = logging.getLogger("videogen")
_BUILD_LOCK = threading.Lock()


def cache_root() -> Path:
    """Where videogen keeps what it builds: `$VIDEOGEN_CACHE`, else `~/.cache/videogen`."""
    root = os.environ.get("VIDEOGEN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "videogen")
    return Path(root)


def _fingerprint(family: str, variant: str) -> str:
    """Changes with the versions that shape a tiny model and with the builder's own source."""
    import inspect

    from . import _tiny
    from .families import get_family
    from .runtime import versions

    v = versions()
    digest = hashlib.sha1("|".join([family, variant, v["diffusers"], v["transformers"]]).encode())
    for module in (inspect.getmodule(type(get_family(family))), _tiny):
        digest.update(Path(inspect.getfile(module)).read_bytes())
    return digest.hexdigest()[:12]


def tiny_folder(family: str, variant: str) -> Path:
    """The folder of tiny model `variant` of `family`, built on first use (seeded: always the same weights)."""
    from .families import get_family

    fam = get_family(family)
    target = cache_root() / "tiny" / f"{family}-{variant}-{_fingerprint(family, variant)}"
    if (target / "model_index.json").is_file():
        return target
    with _BUILD_LOCK:
        if (target / "model_index.json").is_file():
            return target
        import torch

        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            logger.info("building tiny %s/%s in %s", family, variant, target)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                fam.build_tiny(variant, tmp)
            try:
                os.replace(tmp, target)
            except OSError:  # another process finished first
                if not (target / "model_index.json").is_file():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def tiny_card_name(family: str, task: str = "t2v") -> str:
    """The catalog name of the tiny model of `family` that does `task`."""
    from .catalog import list_models
    from .errors import SpecError

    tiny = [c for c in list_models(family) if c.tiny]
    for name in (f"tiny-{family}", f"tiny-{family}-{task}"):
        for card in tiny:
            if card.name == name and task in card.tasks:
                return card.name
    for card in tiny:
        if task in card.tasks:
            return card.name
    raise SpecError(
        f"task={task!r}: no tiny {family} model does it; tiny {family} models: "
        + ", ".join(f"{c.name} ({'/'.join(c.tasks)})" for c in tiny),
        field="task",
    )


def tiny_pipeline(family: str, task: str = "t2v") -> Path:
    """The saved folder of the tiny `family` pipeline for `task` (load it with `from_pretrained`)."""
    from .catalog import resolve

    card = resolve(tiny_card_name(family, task))
    return tiny_folder(card.family, card.tiny)
