"""videogen: every open video-diffusion model family behind one call, on top of diffusers.

    import videogen
    result = videogen.generate(model="tiny-wan", prompt="a ferret leaps into a stream", seed=42)
    result.save("ferret.mp4")

`import videogen` is instant: torch and diffusers load on the first real call.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "VideoSpec": "videogen.spec",
    "LoRA": "videogen.spec",
    "VideoResult": "videogen.result",
    "generate": "videogen.generation",
    "generate_many": "videogen.batch_ray",  # the in-process runner unless ray= is given
    "prepare": "videogen.generation",
    "Prepared": "videogen.generation",
    "calibrate": "videogen.calibration",
    "expand": "videogen.sweep",
    "replay": "videogen.replaying",
    "load_specs": "videogen.specfile",
    "list_models": "videogen.catalog",
    "ModelCard": "videogen.catalog",
    "resolve": "videogen.catalog",
    "clear_cache": "videogen.pipeline",
    "MemoryPlan": "videogen.memory",
    "plan": "videogen.planning",
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

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time names load on first use (PEP 562)
    from .batch_ray import generate_many
    from .calibration import calibrate
    from .catalog import ModelCard, list_models, resolve
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
    from .generation import Prepared, generate, prepare
    from .memory import MemoryPlan
    from .pipeline import clear_cache
    from .planning import plan
    from .replaying import replay
    from .result import VideoResult
    from .spec import LoRA, VideoSpec
    from .specfile import load_specs
    from .sweep import expand


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
