"""One process-wide lock for loading weights and first imports of diffusers classes.

Loading is not thread-safe across models: accelerate's `init_on_device` (used by `from_pretrained`)
patches `torch.nn.Module.register_parameter` for the whole process, so two loads that overlap restore
each other's patch in the wrong order and every module built afterwards gets meta parameters. First
imports of diffusers' lazily imported classes can also race. Both run under `LOAD_LOCK`; calls on
already-loaded pipelines don't take it and stay concurrent.
"""

from __future__ import annotations

import importlib
import sys
import threading
from typing import Any

#: held while weights load, tiny models are built or a diffusers class is imported for the first time
LOAD_LOCK = threading.RLock()


def diffusers_attr(name: str, default: Any = ...) -> Any:
    """`getattr(diffusers, name)`, importing it under `LOAD_LOCK` the first time (later: no lock)."""
    return module_attr("diffusers", name, default)


def module_attr(module_name: str, name: str, default: Any = ...) -> Any:
    """`getattr(importlib.import_module(module_name), name)` with first imports serialised."""
    module = sys.modules.get(module_name)
    # a first import of the package itself is serialised too (transformers' lazy module raced); one that another
    # thread is still running (a plain `import diffusers` elsewhere) is waited for: until its `__init__` ends, the
    # module in sys.modules is a half-made one without the lazy names (`has no attribute 'WanPipeline'`)
    if module is None or getattr(getattr(module, "__spec__", None), "_initializing", False):
        with LOAD_LOCK:
            module = importlib.import_module(module_name)
    value = module.__dict__.get(name)  # diffusers' lazy module stores a class here once imported
    if value is not None:
        return value
    with LOAD_LOCK:
        if default is ...:
            return getattr(module, name)
        return getattr(module, name, default)
