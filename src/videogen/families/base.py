"""`Family`: what a model family tells videogen. One subclass per module under `families/`.

A family is data (pipeline class names per task, model cards) plus a few short translation
methods. Defaults here fit the modern diffusers video pipelines; families override what differs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..catalog import ModelCard
from ..errors import SpecError

if TYPE_CHECKING:
    import numpy as np

    from ..spec import VideoSpec
    from ..validate import Rules


class Family:
    """Base class of the families. Subclasses set the class attributes and override what differs."""

    name: str = ""
    #: task → diffusers pipeline class name.
    pipelines: Mapping[str, str] = {}
    #: every catalog entry of the family, tiny ones included.
    cards: tuple[ModelCard, ...] = ()
    #: False for image-only models (SVD): a prompt is refused.
    accepts_prompt: bool = True
    #: The pipeline draws from the global torch RNG (not only `generator`).
    uses_global_rng: bool = False
    #: A flow-matching model (Wan, LTX, Hunyuan, FramePack): which schedulers fit, with flow sigmas.
    flow_matching: bool = False
    #: The video-to-video pipeline's default `strength` (the share of the schedule it runs).
    v2v_strength: float = 0.8
    #: The pipeline's own name for the frame count parameter (None: frames come from the inputs).
    frames_param: str | None = "num_frames"

    # ---- catalog -------------------------------------------------------------------------------
    def pipeline_classes(self) -> set[str]:
        classes = set(self.pipelines.values())
        for card in self.cards:
            classes.update(card.pipelines.values())
        return classes

    def card_for_pipeline(
        self, ref: str, class_name: str, index: Mapping[str, Any], read_config: Callable[[str], dict]
    ) -> ModelCard:
        """A card for a model outside the catalog, from its pipeline class and component configs.

        The default takes the first real card whose pipelines include `class_name` and renames it.
        """
        for card in self.cards:
            if card.tiny:
                continue
            tasks = [t for t in card.tasks if card.pipeline_class(t, self) == class_name]
            if tasks:
                return replace(card, name=ref, repo=ref, description=f"{class_name} (not in the catalog)")
        raise SpecError(f"model={ref!r}: no {self.name} card knows {class_name}", field="model")

    # ---- validation ----------------------------------------------------------------------------
    def check(self, spec: VideoSpec, card: ModelCard, rules: Rules) -> VideoSpec:
        """Family-specific rules on a spec whose defaults are filled. Return the (maybe snapped) spec."""
        return spec

    def reserved_call_kwargs(self) -> set[str]:
        """Call arguments videogen sets itself; `extra` may not override them."""
        return {"prompt", "negative_prompt", "image", "last_image", "video", "height", "width",
                "num_frames", "num_inference_steps", "guidance_scale", "generator", "output_type",
                "return_dict", "callback_on_step_end", "callback_on_step_end_tensor_inputs",
                "callback", "callback_steps"}

    # ---- loading -------------------------------------------------------------------------------
    def load(self, card: ModelCard, pipeline_cls: type, load_kwargs: dict[str, Any]) -> Any:
        """Load the pipeline. Families assembled from several repos override this."""
        return pipeline_cls.from_pretrained(card.source, **load_kwargs)

    # ---- calling -------------------------------------------------------------------------------
    def call_kwargs(
        self, spec: VideoSpec, card: ModelCard, media: Mapping[str, Any], params: set[str]
    ) -> dict[str, Any]:
        """Keyword arguments for the pipeline's `__call__` (besides generator, output and callbacks).

        `params` are the names `__call__` takes: spec fields the pipeline has no parameter for (the
        size of a video-to-video pipeline that takes it from the video) are left out.
        """
        kwargs: dict[str, Any] = {k: v for k, v in card.call_defaults.items() if k in params}
        wanted: dict[str, Any] = {
            "height": spec.height,
            "width": spec.width,
            "num_inference_steps": spec.steps,
            "guidance_scale": spec.guidance_scale,
        }
        if self.frames_param:
            wanted[self.frames_param] = spec.num_frames
        if self.accepts_prompt:
            wanted["prompt"] = spec.prompt
            if spec.negative_prompt is not None:
                wanted["negative_prompt"] = spec.negative_prompt
        for key in ("image", "last_image", "video"):
            if media.get(key) is not None:
                wanted[key] = media[key]
        kwargs.update({k: v for k, v in wanted.items() if k in params})
        kwargs.update(spec.extra)
        return kwargs

    def call_context(self, pipe: Any, spec: VideoSpec) -> AbstractContextManager[Any]:
        """A context the call runs in (a seam for cache hooks that need a cache context)."""
        return contextlib.nullcontext()

    def total_steps(self, spec: VideoSpec, call_kwargs: Mapping[str, Any]) -> int:
        """How many times the step callback fires for this call.

        Video-to-video runs only the last `strength` share of the schedule, as diffusers'
        `get_timesteps` computes it.
        """
        steps = int(spec.steps or 0)
        if spec.task == "v2v":
            strength = float(call_kwargs.get("strength", self.v2v_strength))
            steps = min(int(steps * strength), steps)
        return steps

    def frames(self, output: Any, spec: VideoSpec, card: ModelCard) -> np.ndarray:
        """The first video of the output as floats in [0, 1], shape T×H×W×3."""
        import numpy as np

        return np.asarray(output.frames[0])

    # ---- tiny models ---------------------------------------------------------------------------
    def build_tiny(self, variant: str, folder: Path) -> None:
        """Write the tiny random-weight pipeline `variant` into `folder` with save_pretrained."""
        raise NotImplementedError(f"{self.name} has no tiny models")
