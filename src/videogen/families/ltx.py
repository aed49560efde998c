"""LTX-Video (Lightricks) 0.9.x: text-to-video, image-to-video and conditioned generation.

Rules: num_frames 8k+1 (the VAE compresses time ×8; other counts come out shorter); height and
width multiples of 32 (the pipelines raise otherwise). The video's `fps` is also the pipeline's
`frame_rate` (it scales the transformer's time coordinates), so `extra["frame_rate"]` is refused.

Conditioned generation (task="conditioned", LTXConditionPipeline, 0.9.5 and later) places images
and videos at frame indices of the output. A prompt is still required. Two ways to give conditions:

* the spec's media fields, the simple case::

      generate(model="ltx-video-0.9.5", task="conditioned", prompt=..., image="a.png",
               extra={"frame_index": 40, "strength": 0.9})
      generate(..., task="conditioned", video="clip.mp4")                    # a clip at frame 0
      generate(..., task="conditioned", image="first.png", last_image="last.png")  # keyframes

  `image` and `video` go at `extra["frame_index"]` (default 0), `last_image` at the last frame
  (num_frames - 1); `extra["strength"]` (default 1.0) applies to each. `frame_index` needs exactly
  one of image or video (with several conditions, list them as below).

* a list, for several conditions at chosen frames::

      extra={"conditions": [{"image": "a.png", "frame_index": 0},
                            {"video": "b.mp4", "frame_index": 80, "strength": 0.8}]}

  Each entry has exactly one of "image" / "video" (a path, URL, PIL image(s) or array, as the
  spec's media fields take) and optional "frame_index" (default 0) and "strength" (default 1.0);
  diffusers' `LTXVideoCondition` objects are accepted too. The list replaces image/video/last_image.

Checked before any weights load: at least one condition; frame_index a whole number in
[0, num_frames); strength a number in [0, 1] (snap=True clamps both). The pipeline trims a video
condition to the frames left after its index, rounded down to 8k+1.

Other knobs pass through `extra` (decode_timestep, decode_noise_scale, guidance_rescale,
image_cond_noise_scale, denoise_strength, max_sequence_length). Custom `timesteps` work only with
LTXConditionPipeline (LTXPipeline and LTXImageToVideoPipeline always pass sigmas too and raise);
they set the step count. The 0.9.7 distilled card runs every task with LTXConditionPipeline and
uses its documented timesteps when steps equals their count.

LTXConditionPipeline computes its own schedule and passes no `mu`, so a scheduler saved with
`use_dynamic_shifting=True` (as diffusers' LTX conversion writes it) makes it raise; videogen runs such
calls with a copy of the scheduler that has dynamic shifting off.
"""

from __future__ import annotations

import contextlib
import logging
import math
import numbers
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ..spec.numbers import whole_int
from ._common import DIT_CACHE_AUTO, DIT_CACHE_HOOK_SETTINGS, DIT_CACHE_METHODS_CACHEDIT
from .base import NO_MEDIA, Checked, Family, outside_catalog, size_unknown
from .card import ModelCard

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules

logger = logging.getLogger("videogen")

#: extra keys that describe conditions (task="conditioned"); videogen turns them into LTXVideoCondition
CONDITION_KEYS = ("conditions", "frame_index", "strength")
#: the media key of the loaded conditions `check` returns for `call_kwargs`
MEDIA_KEY = "ltx_conditions"
#: timestep-aware VAE (0.9.1 and later): the LTX-Video repository's advice, as the diffusers docs give it
TIMESTEP_VAE = {"decode_timestep": 0.05, "decode_noise_scale": 0.025, "image_cond_noise_scale": 0.025}
DISTILLED_TIMESTEPS = [1000, 993, 987, 981, 975, 909, 725, 0.03]
ALL_TASKS = ("t2v", "i2v", "conditioned")
CONDITION_ONLY = {"t2v": "LTXConditionPipeline", "i2v": "LTXConditionPipeline"}


class LTXFamily(Family):
    name = "ltx"
    # step caches (VideoSpec.cache): the DiT defaults (families/_common.py cites each source; docs/speed.md
    # has what each costs on the tiny model)
    cache_methods = DIT_CACHE_METHODS_CACHEDIT
    cache_hook_settings = DIT_CACHE_HOOK_SETTINGS
    cache_auto = DIT_CACHE_AUTO
    pipelines = MappingProxyType(
        {"t2v": "LTXPipeline", "i2v": "LTXImageToVideoPipeline", "conditioned": "LTXConditionPipeline"}
    )
    card_defaults = {
        "height": 512,
        "width": 704,
        "num_frames": 161,
        "fps": 25,
        "steps": 50,
        "guidance_scale": 3.0,
        "frame_rule": (8, 1),
        "size_multiple": 32,
        "dtypes": {"default": "bfloat16"},
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 9, "steps": 2}
    flow_matching = True
    #: what the LTX-Video repos ship (the tiny builder writes the same): dynamic shifting, stretched to 0.1
    scheduler = {
        "_class_name": "FlowMatchEulerDiscreteScheduler",
        "use_dynamic_shifting": True,
        "base_shift": 0.95,
        "max_shift": 2.05,
        "base_image_seq_len": 1024,
        "max_image_seq_len": 4096,
        "shift_terminal": 0.1,
    }
    context_parallel = True  # the transformer has a `_cp_plan` (diffusers 0.42.1)

    # ---- catalog -------------------------------------------------------------------------------
    def card_for_pipeline(
        self, ref: str, class_name: str, index: Mapping[str, Any], read_config: Callable[[str], dict]
    ) -> ModelCard:
        """0.9.0 / 0.9.5 (timestep-aware VAE) / 13B (48 layers) templates, from the configs. The size and
        frames are those of the catalog card whose architecture the transformer matches; the transformer
        config holds no size, so an unknown architecture has none (`size_unknown`)."""
        transformer = read_config("transformer")
        vae = read_config("vae")
        timestep_vae = bool(vae.get("timestep_conditioning"))
        if int(transformer.get("num_layers") or 28) >= 48:
            template = "ltx-video-0.9.7-dev"
        else:
            template = "ltx-video-0.9.5" if timestep_vae else "ltx-video"
        card = self.card_named(template)
        known = self.known_card(class_name, index, read_config, prefer=card)
        if known is not None:  # a copy or fine-tune of a catalog architecture: its size and frames
            card = replace(card, height=known.height, width=known.width, num_frames=known.num_frames)
        conditioned = class_name == "LTXConditionPipeline" or timestep_vae
        card = outside_catalog(
            card,
            ref,
            class_name,
            tasks=ALL_TASKS if conditioned else ("t2v", "i2v"),
            call_defaults=card.call_defaults if timestep_vae else {},
            pipelines={},
        )
        return card if known else size_unknown(card)

    # ---- validation ----------------------------------------------------------------------------
    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        spec, media = super().check(spec, card, rules, media)  # the rules every family shares
        extra = spec.extra
        if "frame_rate" in extra:
            raise SpecError(
                f"extra['frame_rate']: LTX's frame_rate is the video's fps; pass fps={extra['frame_rate']!r} "
                f"instead (now fps={spec.fps})",
                field="extra",
                valid=spec.fps,
            )
        class_name = card.pipeline_class(spec.inferred_task(), self)
        if "timesteps" in extra:
            timesteps = extra["timesteps"]
            if class_name != "LTXConditionPipeline":
                raise SpecError(
                    f"extra['timesteps'] can't be used with {class_name} (it always passes sigmas, and "
                    "diffusers refuses both); use steps=N, or a model whose pipeline is LTXConditionPipeline "
                    "(task='conditioned' or the distilled card)",
                    field="extra",
                )
            if (
                not isinstance(timesteps, (list, tuple))
                or not timesteps
                or not all(isinstance(t, numbers.Real) and not isinstance(t, bool) for t in timesteps)
            ):
                raise SpecError(
                    f"extra['timesteps'] must be a list of numbers, e.g. {DISTILLED_TIMESTEPS}", field="extra"
                )
            spec = spec.replace(steps=len(timesteps))
        if spec.task != "conditioned":
            for key in CONDITION_KEYS:
                if key in extra:
                    raise SpecError(
                        f"extra[{key!r}] only applies to task='conditioned' (LTXConditionPipeline); pass "
                        f"task='conditioned' or leave it out (task is {spec.task!r})",
                        field="extra",
                    )
            return Checked(spec, media)
        if not (spec.prompt or "").strip():
            raise SpecError(
                f"prompt is required for {card.name}, conditioned generation too: describe the "
                "video, e.g. prompt='a cat surfing a wave'",
                field="prompt",
            )
        return Checked(spec, {**media, MEDIA_KEY: conditions_for(spec, media, rules)})

    # ---- calling -------------------------------------------------------------------------------
    def call_kwargs(
        self, spec: CompleteSpec, card: ModelCard, media: Mapping[str, Any], params: AbstractSet[str]
    ) -> dict[str, Any]:
        if spec.task == "conditioned":
            media = {k: v for k, v in media.items() if k not in ("image", "last_image", "video")}
        kwargs = super().call_kwargs(spec, card, media, params)
        for key in CONDITION_KEYS:
            kwargs.pop(key, None)
        if "frame_rate" in params:
            kwargs["frame_rate"] = spec.fps
        default_ts = card.call_defaults.get("timesteps")
        if "timesteps" not in spec.extra and default_ts is not None and len(default_ts) != spec.steps:
            logger.info("%s: steps=%s, so not its %d default timesteps", card.name, spec.steps, len(default_ts))
            kwargs.pop("timesteps", None)
        if spec.task == "conditioned":
            from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

            conditions = media.get(MEDIA_KEY)
            if conditions is None:
                conditions = conditions_for(spec, media, None)
            kwargs["conditions"] = [LTXVideoCondition(**c) for c in conditions]
        return kwargs

    def call_context(self, pipe: Any, spec: CompleteSpec) -> contextlib.AbstractContextManager[Any]:
        """LTXConditionPipeline passes its own timesteps and no `mu`: a dynamic-shifting scheduler raises
        ("`mu` must be passed"), so the call gets a copy with `use_dynamic_shifting=False` (`call_scheduler`)."""
        if runs_static(pipe.scheduler, type(pipe).__name__):
            return static_shift(pipe)
        return contextlib.nullcontext()

    def call_scheduler(self, scheduler: Any, class_name: str) -> Any:
        """LTXConditionPipeline's calls run a dynamic-shifting scheduler as a static copy (`call_context`)."""
        return static_copy(scheduler) if runs_static(scheduler, class_name) else scheduler

    def total_steps(self, spec: CompleteSpec, call_kwargs: Mapping[str, Any]) -> int:
        timesteps = call_kwargs.get("timesteps")
        steps = len(timesteps) if timesteps is not None else int(spec.steps or 0)
        strength = call_kwargs.get("denoise_strength")
        if strength is not None and strength < 1:
            steps = min(int(steps * strength), steps)
        return steps

    # ---- tiny models ---------------------------------------------------------------------------
    def build_tiny(self, variant: str, folder: Path) -> None:
        """The tiny LTX pipeline ("t2v"; every task loads it): a timestep-aware VAE compressing ×8 in
        space and time like the real one, saved as LTXConditionPipeline."""
        import diffusers
        from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXVideoTransformer3DModel

        from . import tiny_parts

        if variant != "t2v":
            raise ValueError(f"unknown tiny ltx variant {variant!r}")
        scaling = (True, True, True, False)
        vae = AutoencoderKLLTXVideo(
            in_channels=3,
            out_channels=3,
            latent_channels=8,
            block_out_channels=(8,) * 4,
            decoder_block_out_channels=(8,) * 4,
            layers_per_block=(1,) * 5,
            decoder_layers_per_block=(1,) * 5,
            spatio_temporal_scaling=scaling,
            decoder_spatio_temporal_scaling=scaling,
            decoder_inject_noise=(False,) * 5,
            upsample_residual=(False,) * 4,
            upsample_factor=(1,) * 4,
            timestep_conditioning=True,
            patch_size=1,
            patch_size_t=1,
            encoder_causal=True,
            decoder_causal=False,
        )
        transformer = LTXVideoTransformer3DModel(
            in_channels=8,
            out_channels=8,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=4,
            attention_head_dim=8,
            cross_attention_dim=32,
            num_layers=2,  # First Block Cache needs two blocks (a head and a tail)
            caption_channels=32,
        )
        diffusers.LTXConditionPipeline(
            scheduler=FlowMatchEulerDiscreteScheduler(  # as the LTX-Video repos ship it
                use_dynamic_shifting=True,
                base_shift=0.95,
                max_shift=2.05,
                base_image_seq_len=1024,
                max_image_seq_len=4096,
                shift_terminal=0.1,
            ),
            vae=vae,
            text_encoder=tiny_parts.t5_encoder(32),
            tokenizer=tiny_parts.t5_tokenizer(),
            transformer=transformer,
        ).save_pretrained(folder)


@contextlib.contextmanager
def static_shift(pipe: Any) -> Iterator[None]:
    """The pipeline's scheduler without dynamic shifting for one call; the original is put back after."""
    original = pipe.scheduler
    pipe.scheduler = static_copy(original)
    try:
        yield
    finally:
        pipe.scheduler = original


def runs_static(scheduler: Any, class_name: str) -> bool:
    """Whether a call of `class_name` runs `scheduler` with dynamic shifting off (LTXConditionPipeline passes no
    `mu`)."""
    return class_name == "LTXConditionPipeline" and bool(scheduler.config.get("use_dynamic_shifting"))


def static_copy(scheduler: Any) -> Any:
    """A copy of `scheduler` with dynamic shifting off."""
    return type(scheduler).from_config(scheduler.config, use_dynamic_shifting=False)


# ---- conditions -------------------------------------------------------------------------------------
def _fix_extra(rules: Rules | None, label: str, value: Any, valid: Any, rule: str) -> Any:
    """`Rules.fix` for a value inside `extra`: the SpecError's field is "extra"."""
    if rules is None:
        if value == valid:
            return value
        raise SpecError(
            f"{label}={value!r}: {rule}; nearest valid value: {label}={valid!r}", field="extra", valid=valid
        )
    return rules.fix(label, value, valid, rule, field="extra")


def _frame_index(rules: Rules | None, label: str, value: Any, num_frames: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or (not isinstance(value, numbers.Integral) and value != math.floor(value))
    ):
        raise SpecError(
            f"{label}={value!r} must be a whole frame number in [0, {num_frames}), e.g. {label}=0",
            field="extra",
            valid=0,
        )
    value = whole_int(value)
    valid = min(max(value, 0), num_frames - 1)
    rule = f"frame_index must be in [0, num_frames) = [0, {num_frames})"
    return int(_fix_extra(rules, label, value, valid, rule))


def _strength(rules: Rules | None, label: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise SpecError(f"{label}={value!r} must be a number in [0, 1], e.g. {label}=1.0", field="extra", valid=1.0)
    valid = min(max(float(value), 0.0), 1.0)
    return float(_fix_extra(rules, label, float(value), valid, "strength must be in [0, 1]"))


def _entry(item: Any, label: str) -> dict[str, Any]:
    """One entry of extra["conditions"] as a dict (a mapping or an LTXVideoCondition-like object)."""
    if isinstance(item, Mapping):
        unknown = sorted(set(item) - {"image", "video", "frame_index", "strength"})
        if unknown:
            raise SpecError(
                f"{label} has unknown key {unknown[0]!r}; an entry takes image or video, frame_index and strength",
                field="extra",
            )
        return dict(item)
    if all(hasattr(item, k) for k in ("image", "video", "frame_index", "strength")):
        return {k: getattr(item, k) for k in ("image", "video", "frame_index", "strength")}
    raise SpecError(
        f"{label} must be a dict like {{'image': 'a.png', 'frame_index': 0, 'strength': 1.0}}, "
        f"not {type(item).__name__}",
        field="extra",
    )


def conditions_for(spec: CompleteSpec, media: Mapping[str, Any], rules: Rules | None) -> list[dict[str, Any]]:
    """The conditions of a task="conditioned" spec, checked and loaded: dicts of LTXVideoCondition fields."""
    from ..media.read import to_frames, to_pil

    extra = spec.extra
    num_frames = spec.num_frames
    out: list[dict[str, Any]] = []
    if "conditions" in extra:
        for name in ("image", "last_image", "video"):
            if getattr(spec, name) is not None:
                kind = "video" if name == "video" else "image"
                raise SpecError(
                    f"{name}: with extra['conditions'] list every condition there; leave {name} "
                    f"out or put it in the list as {{'{kind}': ...}}",
                    field=name,
                )
        for key in ("frame_index", "strength"):
            if key in extra:
                raise SpecError(f"extra[{key!r}]: with extra['conditions'] give {key} in each entry", field="extra")
        items = extra["conditions"]
        if not isinstance(items, (list, tuple)) or not items:
            raise SpecError(
                "extra['conditions'] must be a non-empty list, e.g. [{'image': 'a.png', 'frame_index': 0}]",
                field="extra",
            )
        for i, item in enumerate(items):
            label = f"extra['conditions'][{i}]"
            entry = _entry(item, label)
            kinds = [k for k in ("image", "video") if entry.get(k) is not None]
            if len(kinds) != 1:
                raise SpecError(
                    f"{label} needs exactly one of 'image' or 'video' (got {' and '.join(kinds) or 'neither'})",
                    field="extra",
                )
            kind = kinds[0]
            try:
                loaded = (
                    to_pil(entry[kind], f"{label}['image']")
                    if kind == "image"
                    else to_frames(entry[kind], f"{label}['video']")
                )
            except SpecError as exc:
                raise SpecError(str(exc), field="extra") from None
            out.append(
                {
                    kind: loaded,
                    "frame_index": _frame_index(
                        rules, f"{label}['frame_index']", entry.get("frame_index", 0), num_frames
                    ),
                    "strength": _strength(rules, f"{label}['strength']", entry.get("strength", 1.0)),
                }
            )
        return out

    given = [k for k in ("image", "video", "last_image") if media.get(k) is not None]
    if not given:
        raise SpecError(
            "image: conditioned generation needs at least one condition: pass image=... or video=... (with "
            "extra={'frame_index': n}), last_image=..., or extra={'conditions': [{'image': ..., "
            "'frame_index': n}, ...]}",
            field="image",
        )
    if "frame_index" in extra and len(given) > 1:
        raise SpecError(
            f"extra['frame_index'] is ambiguous with {' and '.join(given)}: it places a single image or "
            "video; list several conditions in extra['conditions'] instead",
            field="extra",
        )
    index = _frame_index(rules, "extra['frame_index']", extra.get("frame_index", 0), num_frames)
    strength = _strength(rules, "extra['strength']", extra.get("strength", 1.0))
    for name in given:
        key = "video" if name == "video" else "image"
        out.append(
            {key: media[name], "frame_index": num_frames - 1 if name == "last_image" else index, "strength": strength}
        )
    return out


card = LTXFamily.card
CARDS = (
    card(
        "ltx-video",
        "Lightricks/LTX-Video",
        ("t2v", "i2v"),
        arch="ltx-2b",
        description="LTX-Video 0.9.0, 2B; text/image-to-video, 512x704 at 25 fps",
    ),
    card(
        "ltx-video-0.9.5",
        "Lightricks/LTX-Video-0.9.5",
        ALL_TASKS,
        arch="ltx-2b",
        call_defaults=TIMESTEP_VAE,
        description="LTX-Video 0.9.5, 2B; text/image-to-video and conditioning on images/videos at frames",
    ),
    card(
        "ltx-video-0.9.7-dev",
        "Lightricks/LTX-Video-0.9.7-dev",
        ALL_TASKS,
        steps=30,
        guidance_scale=5.0,
        arch="ltx-13b",
        call_defaults=dict(TIMESTEP_VAE, image_cond_noise_scale=0.0, guidance_rescale=0.7),
        description="LTX-Video 0.9.7 dev, 13B; text/image-to-video and conditioned generation",
    ),
    card(
        "ltx-video-0.9.7-distilled",
        "Lightricks/LTX-Video-0.9.7-distilled",
        ALL_TASKS,
        steps=8,
        guidance_scale=1.0,
        arch="ltx-13b",
        pipelines=CONDITION_ONLY,
        call_defaults=dict(TIMESTEP_VAE, image_cond_noise_scale=0.0, timesteps=DISTILLED_TIMESTEPS),
        description="LTX-Video 0.9.7 distilled, 13B; 8 steps without guidance",
    ),
    # tiny random-weight models, built offline (videogen.families.tiny)
    card(
        "tiny-ltx",
        None,
        ALL_TASKS,
        tiny="t2v",
        call_defaults=TIMESTEP_VAE,
        description="tiny random LTX-Video (0.9.5 layout)",
    ),
    card(
        "tiny-ltx-distilled",
        None,
        ALL_TASKS,
        tiny="t2v",
        steps=3,
        guidance_scale=1.0,
        pipelines=CONDITION_ONLY,
        call_defaults=dict(TIMESTEP_VAE, image_cond_noise_scale=0.0, timesteps=[1000, 900, 500]),
        description="tiny random LTX-Video, distilled-card layout (custom timesteps)",
    ),
)
FAMILY = LTXFamily(CARDS)
