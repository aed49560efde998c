"""videogen: every open video-diffusion model family behind one call, on top of diffusers.

    import videogen
    result = videogen.generate(model="tiny-wan", prompt="a ferret leaps into a stream", seed=42)
    result.save("ferret.mp4")

`import videogen` is instant: torch and diffusers load on the first real call.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .runtime.moved import install as _install_moved
from .runtime.noise import install as _quiet_import_noise

__version__ = "0.1.0"

_EXPORTS = {
    "VideoSpec": "videogen.spec.videospec",
    "CompleteSpec": "videogen.spec.videospec",
    "LoRA": "videogen.spec.videospec",
    "VideoResult": "videogen.generation.result",
    "generate": "videogen.generation.flow",
    "agenerate": "videogen.generation.awaitable",
    "preload": "videogen.generation.flow",
    "CancelToken": "videogen.runtime.cancel",
    "generate_many": "videogen.generation.batch.on_ray",  # the in-process runner unless ray= is given
    "prepare": "videogen.generation.flow",
    "Prepared": "videogen.generation.flow",
    "calibrate": "videogen.generation.calibrate",
    "expand": "videogen.spec.sweep",
    "replay": "videogen.generation.replay",
    "load_specs": "videogen.spec.files",
    "list_models": "videogen.catalog.lookup",
    "ModelCard": "videogen.catalog.lookup",
    "resolve": "videogen.catalog.lookup",
    "clear_cache": "videogen.loading.pipelines",
    "MemoryPlan": "videogen.memory",
    "plan": "videogen.generation.plan_report",
    "VideoGenError": "videogen.errors",
    "SpecError": "videogen.errors",
    "ModelNotFoundError": "videogen.errors",
    "MissingDependencyError": "videogen.errors",
    "OutputExistsError": "videogen.errors",
    "Cancelled": "videogen.errors",
    "SnapWarning": "videogen.errors",
    "SaveError": "videogen.errors",
    "SaveWarning": "videogen.errors",
}

_install_moved()  # old module paths (videogen.specfile, ...) still import
_quiet_import_noise()  # optional libraries' notes about themselves while diffusers imports them

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time names load on first use (PEP 562)
    from .catalog.lookup import ModelCard, list_models, resolve
    from .errors import (
        Cancelled,
        MissingDependencyError,
        ModelNotFoundError,
        OutputExistsError,
        SaveError,
        SaveWarning,
        SnapWarning,
        SpecError,
        VideoGenError,
    )
    from .generation.awaitable import agenerate
    from .generation.batch.on_ray import generate_many
    from .generation.calibrate import calibrate
    from .generation.flow import Prepared, generate, preload, prepare
    from .generation.plan_report import plan
    from .generation.replay import replay
    from .generation.result import VideoResult
    from .loading.pipelines import clear_cache
    from .memory import MemoryPlan
    from .runtime.cancel import CancelToken
    from .spec.files import load_specs
    from .spec.sweep import expand
    from .spec.videospec import CompleteSpec, LoRA, VideoSpec


def __getattr__(name: str) -> Any:
    if name == "testing":
        return importlib.import_module("videogen.testing")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'videogen' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
