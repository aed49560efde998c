"""AnimateDiff: a Stable Diffusion 1.5 checkpoint animated by a motion adapter (`AnimateDiffPipeline`,
`AnimateDiffVideoToVideoPipeline`).

A card names both halves, as diffusers' docs load them: `repo` is the base image model (any SD 1.5 fine-tune in
diffusers format) and `components["motion_adapter"]` the `MotionAdapter` repo; the family's `load` loads the
adapter and hands it to the pipeline, which folds it into the UNet (`UNetMotionModel`). The scheduler is the
docs' too: DDIM on a linear beta schedule (what the motion modules were trained on), swapped in at load when the
base repo ships another.

Rules and what videogen does about the pipelines' surprises:

- height and width are multiples of 8 (the SD VAE); any frame count, within the adapter's frame window.
- The motion modules' position table has `motion_max_seq_length` rows (32 for v1-5-2): more frames fail inside
  the UNet. Longer videos take FreeNoise (`extra={"free_noise": True}` or a dict of `context_length` (at most the
  window, default 16), `context_stride` (default 4), `weighting_scheme`, `noise_type`): the pipeline denoises
  overlapping windows of `context_length` frames and averages them. It is a pipeline state
  (`enable_free_noise`), so videogen turns it on for the call and off after it. Checked before load, from the
  adapter's config (stored, or the folder's).
- Video-to-video takes `extra["strength"]` (default 0.8) and the video's frames (at most num_frames); the
  pipeline resizes the video to height × width.
- `guidance_scale` ≤ 1 turns classifier-free guidance off, so a negative prompt would be ignored: refused.
- `clip_skip` as ModelScope's (the pipelines read `text_encoder.text_model`, gone in transformers >= 5.6).
- Step caches: none (videogen's DeepCache hooks know the video UNets of ModelScope, I2VGen-XL and SVD, not
  `UNetMotionModel`; the DiT caches find no transformer blocks). LoRA: the pipelines load SD 1.5 LoRAs
  (`StableDiffusionLoraLoaderMixin`). No context-parallel plan (a UNet).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ._common import check_clip_skip, check_clip_skip_depth, check_negative_prompt_has_guidance, clip_skip_alias
from .base import NO_MEDIA, Checked, Family

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules
    from .card import ModelCard

#: the motion modules' position table when the adapter's config doesn't say (MotionAdapter's default)
DEFAULT_WINDOW = 32
#: enable_free_noise's settings and their defaults (diffusers 0.42.1)
FREE_NOISE = {"context_length": 16, "context_stride": 4, "weighting_scheme": "pyramid", "noise_type": "shuffle_context"}
WEIGHTINGS = ("flat", "pyramid", "delayed_reverse_sawtooth")
NOISE_TYPES = ("shuffle_context", "repeat_context", "random")
#: diffusers' AnimateDiff docs: DDIM, linear betas, linspace timesteps
SCHEDULER = {
    "_class_name": "DDIMScheduler",
    "beta_schedule": "linear",
    "clip_sample": False,
    "timestep_spacing": "linspace",
    "steps_offset": 1,
}


class AnimateDiffFamily(Family):
    name = "animatediff"
    pipelines = {"t2v": "AnimateDiffPipeline", "v2v": "AnimateDiffVideoToVideoPipeline"}
    card_defaults = {
        "height": 512,
        "width": 512,
        "num_frames": 16,
        "fps": 8,
        "steps": 25,
        "guidance_scale": 7.5,
        "frame_rule": None,
        "size_multiple": 8,
        "dtypes": {"default": "float16"},
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 8, "steps": 2}
    scheduler = SCHEDULER
    own_extra = frozenset({"free_noise"})
    cache_refused = {
        "deepcache": "videogen's DeepCache hooks know the video UNets of ModelScope, I2VGen-XL and SVD, not "
        "AnimateDiff's UNetMotionModel"
    }

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        checked = super().check(spec, card, rules, media)  # the rules every family shares
        check_clip_skip(spec.extra.get("clip_skip"))
        check_negative_prompt_has_guidance(spec, card, 7.5)
        free_noise_settings(spec.extra.get("free_noise"))
        return checked

    def check_components(self, spec: CompleteSpec, card: ModelCard, configs: Mapping[str, Mapping[str, Any]]) -> None:
        """The motion modules' frame window (from the adapter's config) against num_frames, or FreeNoise's
        context_length against it; clip_skip below the text encoder's depth."""
        check_clip_skip_depth(spec.extra.get("clip_skip"), configs.get("text_encoder", {}).get("num_hidden_layers"))
        config = configs.get("motion_adapter") or configs.get("unet") or {}
        window = int(config.get("motion_max_seq_length") or DEFAULT_WINDOW)
        frames = spec.num_frames
        settings = free_noise_settings(spec.extra.get("free_noise"))
        if settings is None and frames > window:
            raise SpecError(
                f"num_frames={frames} is more than {card.name}'s motion adapter takes at once ({window} frames: its "
                f"position table); pass num_frames={window} or fewer, or extra={{'free_noise': True}} to make a "
                "longer video in overlapping windows (FreeNoise)",
                field="num_frames",
                valid=window,
            )
        if settings is not None and settings["context_length"] > window:
            raise SpecError(
                f"extra['free_noise']['context_length']={settings['context_length']} is more than {card.name}'s "
                f"motion adapter takes at once ({window} frames); pass {window} or fewer (default 16)",
                field="extra",
                valid=window,
            )

    def call_kwargs(self, spec: CompleteSpec, card: ModelCard, media: Mapping[str, Any], params: Any) -> dict[str, Any]:
        kwargs = super().call_kwargs(spec, card, media, params)
        kwargs.setdefault("clip_skip", None)
        return kwargs

    def call_context(self, pipe: Any, spec: CompleteSpec) -> AbstractContextManager[Any]:
        return _call_state(pipe, spec.extra.get("clip_skip"), free_noise_settings(spec.extra.get("free_noise")))

    def load(self, card: ModelCard, pipeline_cls: Any, load_kwargs: dict[str, Any]) -> Any:
        """The base SD 1.5 repo with the card's motion adapter (a saved AnimateDiff pipeline, the tiny ones
        included, holds its own), and the docs' scheduler where the base repo ships another."""
        kwargs = dict(load_kwargs)
        adapter = card.components.get("motion_adapter") if not card.tiny else None
        if adapter is not None and "motion_adapter" not in kwargs:
            kwargs["motion_adapter"] = _load_adapter(*adapter, kwargs)
        pipe = pipeline_cls.from_pretrained(card.source, **kwargs)
        wanted = {k: v for k, v in self.scheduler_config(card).items() if not k.startswith("_")}
        scheduler = pipe.scheduler
        if type(scheduler).__name__ != SCHEDULER["_class_name"] or any(
            scheduler.config.get(k) != v for k, v in wanted.items()
        ):
            from diffusers import DDIMScheduler

            pipe.scheduler = DDIMScheduler.from_config(scheduler.config, **wanted)
        return pipe

    def build_tiny(self, variant: str, folder: Path) -> None:
        """The tiny AnimateDiff pipeline ("t2v"; the video-to-video pipeline loads the same components): a
        two-block SD UNet with a motion adapter of one layer a block, the tiny SD VAE and CLIP."""
        if variant != "t2v":
            raise ValueError(f"unknown tiny animatediff variant {variant!r}")
        from diffusers import AnimateDiffPipeline, DDIMScheduler, MotionAdapter, UNet2DConditionModel
        from transformers import CLIPTextModel

        from . import tiny_parts

        channels = (8, 8)
        unet = UNet2DConditionModel(
            block_out_channels=channels,
            layers_per_block=1,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=4,
            attention_head_dim=4,
            norm_num_groups=2,
        )
        adapter = MotionAdapter(
            block_out_channels=channels,
            motion_layers_per_block=1,
            motion_norm_num_groups=2,
            motion_num_attention_heads=2,
            motion_max_seq_length=DEFAULT_WINDOW,
        )
        scheduler = DDIMScheduler(**{k: v for k, v in SCHEDULER.items() if not k.startswith("_")})
        AnimateDiffPipeline(
            vae=tiny_parts.sd_vae(),
            text_encoder=CLIPTextModel(tiny_parts.clip_text_config(hidden=4, num_attention_heads=2)).eval(),
            tokenizer=tiny_parts.clip_tokenizer(),
            unet=unet,
            motion_adapter=adapter,
            scheduler=scheduler,
        ).save_pretrained(folder)


def free_noise_settings(value: Any) -> dict[str, Any] | None:
    """`extra["free_noise"]` checked: None (off), or enable_free_noise's settings with the defaults filled."""
    if value is None or value is False:
        return None
    if value is True:
        return dict(FREE_NOISE)
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise SpecError(
            f"extra['free_noise']={value!r} must be True or a dict of {', '.join(FREE_NOISE)} (e.g. "
            "extra={'free_noise': {'context_length': 16, 'context_stride': 4}})",
            field="extra",
            valid=True,
        )
    unknown = sorted(set(value) - set(FREE_NOISE))
    if unknown:
        raise SpecError(
            f"extra['free_noise'] has {unknown[0]!r}, which FreeNoise doesn't take; its settings are "
            f"{', '.join(FREE_NOISE)}",
            field="extra",
        )
    settings = {**FREE_NOISE, **value}
    for key in ("context_length", "context_stride"):
        number = settings[key]
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise SpecError(
                f"extra['free_noise'][{key!r}]={number!r} must be a whole number of frames, at least 1 (default "
                f"{FREE_NOISE[key]})",
                field="extra",
                valid=FREE_NOISE[key],
            )
    if settings["context_stride"] > settings["context_length"]:
        raise SpecError(
            f"extra['free_noise']['context_stride']={settings['context_stride']} is more than its context_length="
            f"{settings['context_length']}: the windows would leave frames out; pass a stride of at most the length",
            field="extra",
            valid=settings["context_length"],
        )
    for key, allowed in (("weighting_scheme", WEIGHTINGS), ("noise_type", NOISE_TYPES)):
        if settings[key] not in allowed:
            raise SpecError(
                f"extra['free_noise'][{key!r}]={settings[key]!r} is not one of {', '.join(allowed)}",
                field="extra",
                valid=FREE_NOISE[key],
            )
    return settings


def _load_adapter(repo: str, subfolder: str | None, load_kwargs: Mapping[str, Any]) -> Any:
    """The MotionAdapter, in the card's dtype for it (or the default), with the load's Hub settings."""
    from diffusers import MotionAdapter

    kwargs: dict[str, Any] = {"subfolder": subfolder} if subfolder else {}
    dtypes = load_kwargs.get("torch_dtype", load_kwargs.get("dtype"))
    dtype = dtypes.get("motion_adapter", dtypes.get("default")) if isinstance(dtypes, Mapping) else dtypes
    if dtype is not None:
        kwargs["torch_dtype"] = dtype
    for key in ("use_safetensors", "local_files_only", "low_cpu_mem_usage"):
        if load_kwargs.get(key) is not None:
            kwargs[key] = load_kwargs[key]
    return MotionAdapter.from_pretrained(repo, **kwargs)


@contextlib.contextmanager
def _call_state(pipe: Any, clip_skip: Any, free_noise: Mapping[str, Any] | None) -> Iterator[None]:
    """clip_skip's alias and FreeNoise (a pipeline state: on for this call only)."""
    with clip_skip_alias(pipe, clip_skip):
        if free_noise is None:
            yield
            return
        pipe.enable_free_noise(**free_noise)
        try:
            yield
        finally:
            pipe.disable_free_noise()


card = AnimateDiffFamily.card
ADAPTER_V152 = {"motion_adapter": ("guoyww/animatediff-motion-adapter-v1-5-2", None)}
TASKS = ("t2v", "v2v")
CARDS = (
    card(
        "animatediff-v1-5-2",
        "stable-diffusion-v1-5/stable-diffusion-v1-5",
        TASKS,
        components=ADAPTER_V152,
        arch="animatediff-sd1.5-v2",
        description="AnimateDiff motion adapter v1-5-2 on Stable Diffusion 1.5; 512x512, 16 frames at 8 fps "
        "(up to 32, longer with FreeNoise)",
    ),
    card(
        "animatediff-v1-5-2-realistic-vision",
        "SG161222/Realistic_Vision_V5.1_noVAE",
        TASKS,
        components=ADAPTER_V152,
        arch="animatediff-sd1.5-v2",
        description="AnimateDiff v1-5-2 on Realistic Vision 5.1 (the diffusers docs' example); 512x512, 16 frames",
    ),
    # tiny random-weight model, built offline (videogen.families.tiny)
    card("tiny-animatediff", None, TASKS, tiny="t2v", description="tiny random AnimateDiff text/video-to-video"),
)
FAMILY = AnimateDiffFamily(CARDS)
