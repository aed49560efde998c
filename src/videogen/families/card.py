"""`ModelCard`: what videogen knows about one checkpoint, and the arithmetic of its size and frame rules.

Pure data, at the bottom of the package: the families declare their cards with it, the catalog looks
them up, validation applies them. It imports nothing of videogen's (the family is named, not imported).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol


class HasPipelines(Protocol):
    """What `ModelCard.pipeline_class` needs of a family: its task → pipeline class names."""

    @property
    def pipelines(self) -> Mapping[str, str]: ...  # read-only: a family's may be a MappingProxyType


@dataclass(frozen=True)
class ModelCard:
    """What videogen knows about one checkpoint: where it lives, what it does, its defaults and rules."""

    name: str
    family: str
    repo: str | None
    tasks: tuple[str, ...]
    height: int
    width: int
    num_frames: int
    fps: int
    steps: int
    guidance_scale: float
    #: num_frames must be `step*k + offset` (e.g. (4, 1) for 4k+1); None: any count.
    frame_rule: tuple[int, int] | None = (4, 1)
    #: height and width must be multiples of this.
    size_multiple: int = 16
    #: when not empty, the only (height, width) pairs the checkpoint runs at.
    sizes: tuple[tuple[int, int], ...] = ()
    max_frames: int | None = None
    #: component → dtype name on a GPU ("default" for the rest). On a CPU everything runs in float32.
    dtypes: Mapping[str, str] = field(default_factory=lambda: {"default": "bfloat16"})
    #: keyword arguments the checkpoint needs at call time (e.g. FramePack's sampling_type).
    call_defaults: Mapping[str, Any] = field(default_factory=dict)
    #: task → pipeline class name, where the card differs from its family.
    pipelines: Mapping[str, str] = field(default_factory=dict)
    #: component → (repo or folder, subfolder) for models assembled from several repos.
    components: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    #: what the family knows about this checkpoint that is neither a call argument nor a rule above
    #: (e.g. HunyuanVideo-I2V's {"image_condition": "latent_concat"}); the family reads it, nothing else does.
    traits: Mapping[str, Any] = field(default_factory=dict)
    revision: str | None = None
    variant: str | None = None
    #: a local pipeline folder (unknown local models, built tiny models).
    path: str | None = None
    #: key of the tiny model the family builds for this card (tiny-* entries).
    tiny: str | None = None
    #: key of the stored full-size architecture config (memory planning, benchmarks).
    arch: str | None = None
    #: spec fields this card has no trustworthy default for, which a spec must give (a pipeline outside the
    #: catalog whose configs don't say the size it was made for; `Family.check` refuses a spec without them).
    required: tuple[str, ...] = ()
    description: str = ""

    @property
    def source(self) -> str:
        """Where `from_pretrained` loads from: a local folder or a Hub repo id."""
        return self.path or self.repo or self.name

    def pipeline_class(self, task: str, family: HasPipelines) -> str:
        return self.pipelines.get(task) or family.pipelines[task]

    def with_path(self, path: str | os.PathLike) -> ModelCard:
        return replace(self, path=str(path))


def nearest_frame_count(n: int, step: int, offset: int, max_frames: int | None = None) -> int:
    """The count of the form step·k + offset nearest to n (ties go up), at least the smallest valid."""
    k = max(0, math.floor((n - offset) / step + 0.5))
    valid = step * k + offset
    if valid < 1:
        valid += step
    if max_frames is not None and valid > max_frames:
        valid = offset + step * ((max_frames - offset) // step)
    return valid


def nearest_multiple(n: int, multiple: int) -> int:
    """The multiple of `multiple` nearest to n (ties go up), at least `multiple`."""
    return max(multiple, int(math.floor(n / multiple + 0.5)) * multiple)
