"""HunyuanVideo (Tencent): text-to-video and image-to-video.

Rules and what videogen does about the pipelines' surprises:

- num_frames is 4k+1 (the VAE compresses time ×4; other counts come back rounded down); height and
  width are multiples of 16 (VAE ×8, patch ×2; the pipelines raise otherwise).
- `guidance_scale` is the *distilled* (embedded) guidance of a CFG-distilled model, not
  classifier-free guidance. Real CFG runs only with `extra={"true_cfg_scale": > 1}` *and* a
  `negative_prompt`, at twice the cost. The pipelines silently ignore either one without the other, so
  videogen refuses both half-settings with a SpecError that names the fix
  (`negative_prompt=""` is a valid empty negative prompt).
- HunyuanVideo-I2V-33ch (`image_condition_type="latent_concat"`) drops the first 4 decoded frames
  (the conditioning image), returning num_frames − 4 frames. videogen asks that pipeline for
  num_frames + 4 (still 4k+1), so the video has exactly the num_frames asked for. The 16-channel
  HunyuanVideo-I2V (`"token_replace"`) returns num_frames as asked and is called unchanged.
- transformers 5's `LlamaTokenizer` installs a Metaspace pre-tokenizer over the Llama-3 ByteLevel
  tokenizer.json, which changes the real tokenization. `load` reads the tokenizer with
  `PreTrainedTokenizerFast` (tokenizer.json as written) with right padding, as Tencent's code does.
- HunyuanVideoImageToVideoPipeline sets no cache context, which FirstBlockCache / TaylorSeer need:
  `call_context` wraps an i2v call in `transformer.cache_context("cond")` when a cache hook is on the
  transformer (a no-op otherwise). Under true CFG the conditional and unconditional passes then share
  that context, which makes the cache approximate (logged).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..catalog import ModelCard
from ..errors import SpecError
from .base import Family, size_unknown

if TYPE_CHECKING:
    import numpy as np

    from ..spec import VideoSpec
    from ..validate import Rules

logger = logging.getLogger("videogen")

#: the diffusers docs: transformer in bfloat16, text encoders and VAE in float16
HUNYUAN_DTYPES = {"default": "float16", "transformer": "bfloat16"}
#: frames HunyuanVideo-I2V-33ch (latent_concat) drops from the front of the decoded video
LATENT_CONCAT_DROPPED_FRAMES = 4
#: tiny text settings: the real prompt templates need the Llama-3 special tokens the tiny tokenizer lacks
TINY_T2V_CALL = {"prompt_template": {"template": "{}", "crop_start": 0}, "max_sequence_length": 16}
TINY_IMAGE_TOKENS = 16  # tiny LLaVA: 32×32 image, 8×8 patches
#: tiny I2V: the pipeline writes the image tokens over positions 16..31 of the (uncropped) prompt
TINY_I2V_CALL = {
    "prompt_template": {"template": "{}", "crop_start": 0, "image_emb_start": 16,
                        "image_emb_end": 16 + TINY_IMAGE_TOKENS, "image_emb_len": TINY_IMAGE_TOKENS},
    "max_sequence_length": 16 + TINY_IMAGE_TOKENS,
}


@dataclass(frozen=True)
class HunyuanCard(ModelCard):
    """A HunyuanVideo card that also knows how the I2V transformer takes its image."""

    #: "latent_concat" (33 channels: the pipeline drops 4 frames), "token_replace" (16 channels), None (T2V)
    image_condition: str | None = None


def _card(name: str, repo: str | None, tasks: tuple[str, ...], **kw: Any) -> HunyuanCard:
    base: dict[str, Any] = {"height": 720, "width": 1280, "num_frames": 129, "fps": 24, "steps": 50,
                            "guidance_scale": 6.0, "frame_rule": (4, 1), "size_multiple": 16,
                            "dtypes": HUNYUAN_DTYPES}
    base.update(kw)
    return HunyuanCard(name=name, family="hunyuanvideo", repo=repo, tasks=tasks, **base)


CARDS = (
    _card("hunyuanvideo", "hunyuanvideo-community/HunyuanVideo", ("t2v",), arch="hunyuanvideo-13b",
          description="HunyuanVideo text-to-video, 13B, guidance-distilled; 720p (also 544x960), 24 fps"),
    _card("hunyuanvideo-i2v", "hunyuanvideo-community/HunyuanVideo-I2V", ("i2v",), arch="hunyuanvideo-13b",
          image_condition="token_replace",
          description="HunyuanVideo-I2V, 16 channels (token replace, Tencent's updated I2V), 720p"),
    _card("hunyuanvideo-i2v-33ch", "hunyuanvideo-community/HunyuanVideo-I2V-33ch", ("i2v",),
          guidance_scale=1.0, arch="hunyuanvideo-i2v-33ch-13b", image_condition="latent_concat",
          description="HunyuanVideo-I2V, 33 channels (latent concat, Tencent's first I2V), 720p"),
    # tiny random-weight models, built offline (videogen.testing)
    _card("tiny-hunyuanvideo", None, ("t2v",), tiny="t2v", height=32, width=32, num_frames=9, fps=8, steps=2,
          call_defaults=TINY_T2V_CALL, description="tiny random HunyuanVideo T2V (tests, demo)"),
    _card("tiny-hunyuanvideo-i2v", None, ("i2v",), tiny="i2v", height=32, width=32, num_frames=9, fps=8,
          steps=2, guidance_scale=1.0, image_condition="latent_concat", call_defaults=TINY_I2V_CALL,
          description="tiny random HunyuanVideo-I2V (33-channel latent-concat layout)"),
)


# ---- helpers shared with FramePack ------------------------------------------------------------
def check_true_cfg(spec: VideoSpec, card: ModelCard) -> None:
    """Real CFG needs both `true_cfg_scale` > 1 and a negative prompt; either alone is silently ignored."""
    value = {**card.call_defaults, **spec.extra}.get("true_cfg_scale", 1.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise SpecError(f"extra['true_cfg_scale']={value!r} must be a number (e.g. 6.0, or 1.0 for no "
                        "real CFG)", field="extra")
    if spec.negative_prompt is not None and value <= 1.0:
        raise SpecError(
            f"negative_prompt is ignored by {card.name} unless extra['true_cfg_scale'] > 1: the model is "
            "guidance-distilled (guidance_scale is embedded guidance, not classifier-free guidance). "
            "Pass extra={'true_cfg_scale': 6.0} with the negative prompt for real CFG (twice the compute), "
            "or leave negative_prompt out",
            field="negative_prompt",
        )
    if value > 1.0 and spec.negative_prompt is None:
        raise SpecError(
            f"negative_prompt is required: extra['true_cfg_scale']={value} turns on real classifier-free "
            f"guidance, which {card.name} runs only with a negative prompt (otherwise it is silently "
            "ignored). Pass negative_prompt='...' (negative_prompt='' for an empty one), or drop "
            "true_cfg_scale",
            field="negative_prompt",
        )


def true_cfg_on(spec: VideoSpec, card: ModelCard | None = None) -> bool:
    """Whether the call runs real classifier-free guidance (two transformer passes a step)."""
    defaults = card.call_defaults if card is not None else {}
    value = {**defaults, **spec.extra}.get("true_cfg_scale", 1.0)
    return spec.negative_prompt is not None and float(value) > 1.0


def cache_hooked(module: Any) -> bool:
    """True when a stateful diffusers cache hook (FirstBlockCache, TaylorSeer, PAB, ...) is on `module`."""
    if module is None:
        return False
    if getattr(module, "is_cache_enabled", False):  # CacheMixin.enable_cache
        return True
    registry = getattr(module, "_diffusers_hook", None)  # hooks applied with apply_* directly
    if registry is None:
        return False
    try:
        registries = (registry, *registry._get_child_registries())
        return any(getattr(hook, "_is_stateful", False) for reg in registries for hook in reg.hooks.values())
    except AttributeError:  # a diffusers without these internals: trust is_cache_enabled
        return False


def cache_context(pipe: Any, spec: VideoSpec) -> ContextManager[Any]:
    """`transformer.cache_context("cond")` for pipelines that set none, when a cache hook needs it."""
    transformer = getattr(pipe, "transformer", None)
    if not cache_hooked(transformer):
        return contextlib.nullcontext()
    if true_cfg_on(spec):
        logger.warning("%s: the cache hook sees the conditional and unconditional passes of true CFG in one "
                       "cache context, so its reuse is approximate", spec.model)
    return transformer.cache_context("cond")


def load_llama_tokenizer(source: str | Path, subfolder: str = "tokenizer", **kwargs: Any) -> Any | None:
    """The Llama tokenizer as its tokenizer.json defines it (`PreTrainedTokenizerFast`), padding right.

    transformers 5's `LlamaTokenizer` replaces the Llama-3 ByteLevel pre-tokenizer with Metaspace, which
    changes HunyuanVideo's tokens. None when the folder has no tokenizer.json (then the pipeline's own
    loader is used).
    """
    from transformers import PreTrainedTokenizerFast

    local = Path(source) / subfolder
    if Path(source).is_dir() and not (local / "tokenizer.json").is_file():
        return None
    try:
        return PreTrainedTokenizerFast.from_pretrained(str(source), subfolder=subfolder, padding_side="right",
                                                       **kwargs)
    except (OSError, ValueError) as exc:
        logger.warning("could not read %s/%s as a fast tokenizer (%s); using the pipeline's loader",
                       source, subfolder, exc)
        return None


# ---- the family -------------------------------------------------------------------------------
class HunyuanVideoFamily(Family):
    name = "hunyuanvideo"
    pipelines = {"t2v": "HunyuanVideoPipeline", "i2v": "HunyuanVideoImageToVideoPipeline"}
    cards = CARDS
    flow_matching = True

    def card_for_pipeline(self, ref: str, class_name: str, index: Mapping[str, Any],
                          read_config: Callable[[str], dict]) -> ModelCard:
        if class_name == "HunyuanVideoImageToVideoPipeline":
            kind = read_config("transformer").get("image_condition_type") or "latent_concat"
            template = "hunyuanvideo-i2v-33ch" if kind == "latent_concat" else "hunyuanvideo-i2v"
        elif class_name == "HunyuanVideoPipeline":
            template = "hunyuanvideo"
        else:
            return super().card_for_pipeline(ref, class_name, index, read_config)
        card = next(c for c in CARDS if c.name == template)
        known = self.known_card(class_name, index, read_config, prefer=card)
        card = replace(known or card, name=ref, repo=ref, arch=None, description=f"{class_name} (not in the catalog)")
        return card if known else size_unknown(card)  # the transformer config holds no size

    def check(self, spec: VideoSpec, card: ModelCard, rules: Rules) -> VideoSpec:
        spec = super().check(spec, card, rules)  # the rules every family shares
        check_true_cfg(spec, card)
        if _image_condition(card) == "latent_concat" and spec.guidance_scale not in (None, 1.0) \
                and not true_cfg_on(spec, card):
            logger.warning("%s has no embedded guidance: guidance_scale=%s has no effect (use true_cfg_scale "
                           "with a negative_prompt for guidance)", card.name, spec.guidance_scale)
        return spec

    def load(self, card: ModelCard, pipeline_cls: type, load_kwargs: dict[str, Any]) -> Any:
        kwargs = dict(load_kwargs)
        if "tokenizer" not in kwargs:
            tokenizer = load_llama_tokenizer(card.source, "tokenizer", revision=card.revision)
            if tokenizer is not None:
                kwargs["tokenizer"] = tokenizer
        return pipeline_cls.from_pretrained(card.source, **kwargs)

    def call_kwargs(self, spec: VideoSpec, card: ModelCard, media: Mapping[str, Any],
                    params: set[str]) -> dict[str, Any]:
        kwargs = super().call_kwargs(spec, card, media, params)
        if spec.task == "i2v" and _image_condition(card) == "latent_concat":
            kwargs["num_frames"] = int(spec.num_frames) + LATENT_CONCAT_DROPPED_FRAMES
        return kwargs

    def call_context(self, pipe: Any, spec: VideoSpec) -> ContextManager[Any]:
        if spec.task != "i2v":  # HunyuanVideoPipeline sets its own "cond"/"uncond" contexts
            return contextlib.nullcontext()
        return cache_context(pipe, spec)

    def frames(self, output: Any, spec: VideoSpec, card: ModelCard) -> np.ndarray:
        import numpy as np

        frames = np.asarray(output.frames[0])
        if spec.num_frames and len(frames) > spec.num_frames:
            frames = frames[: spec.num_frames]
        return frames

    def build_tiny(self, variant: str, folder: Path) -> None:
        build_tiny_hunyuanvideo(variant, folder)


def _image_condition(card: ModelCard) -> str | None:
    return getattr(card, "image_condition", None)


def build_tiny_hunyuanvideo(variant: str, folder: Path) -> None:
    """Tiny HunyuanVideo pipelines: "t2v" and "i2v" (the 33-channel latent-concat layout, LLaVA encoder)."""
    import diffusers
    from diffusers import FlowMatchEulerDiscreteScheduler, HunyuanVideoTransformer3DModel

    from .. import _tiny

    components: dict[str, Any] = {**_tiny.hunyuan_text_parts(16, 8), "vae": _tiny.hunyuan_video_vae(),
                                  "scheduler": FlowMatchEulerDiscreteScheduler(shift=7.0)}
    transformer_kw: dict[str, Any] = {
        "in_channels": 4, "out_channels": 4, "num_attention_heads": 2, "attention_head_dim": 10,
        "num_layers": 1, "num_single_layers": 1, "num_refiner_layers": 1, "patch_size": 1, "patch_size_t": 1,
        "guidance_embeds": True, "text_embed_dim": 16, "pooled_projection_dim": 8, "rope_axes_dim": (2, 4, 4)}
    if variant == "t2v":
        components["transformer"] = HunyuanVideoTransformer3DModel(**transformer_kw)
        cls = diffusers.HunyuanVideoPipeline
    elif variant == "i2v":
        from transformers import CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration

        vision = CLIPVisionConfig(hidden_size=8, intermediate_size=37, num_attention_heads=4,
                                  num_hidden_layers=2, image_size=32, patch_size=8, projection_dim=32)
        llava = LlavaConfig(vision_config=vision, text_config=_tiny.llama_config(16), image_token_index=999,
                            pad_token_id=components["tokenizer"].pad_token_id)
        components["text_encoder"] = LlavaForConditionalGeneration(llava).eval()
        components["image_processor"] = _tiny.clip_image_processor(32)
        transformer_kw.update(in_channels=2 * 4 + 1, guidance_embeds=False,
                              image_condition_type="latent_concat")
        components["transformer"] = HunyuanVideoTransformer3DModel(**transformer_kw)
        cls = diffusers.HunyuanVideoImageToVideoPipeline
    else:
        raise ValueError(f"unknown tiny hunyuanvideo variant {variant!r}")
    cls(**components).save_pretrained(folder)


FAMILY = HunyuanVideoFamily()
