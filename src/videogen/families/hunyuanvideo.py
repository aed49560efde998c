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
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import (
    DIT_CACHE_AUTO,
    DIT_CACHE_HOOK_SETTINGS,
    DIT_CACHE_METHODS_CACHEDIT,
    cache_context,
    check_true_cfg,
    true_cfg_on,
    with_llama_tokenizer,
)
from .base import NO_MEDIA, Checked, Family, outside_catalog, size_unknown
from .card import ModelCard

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules

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
    "prompt_template": {
        "template": "{}",
        "crop_start": 0,
        "image_emb_start": 16,
        "image_emb_end": 16 + TINY_IMAGE_TOKENS,
        "image_emb_len": TINY_IMAGE_TOKENS,
    },
    "max_sequence_length": 16 + TINY_IMAGE_TOKENS,
}
#: `ModelCard.traits` of the I2V cards: how the transformer takes its image
LATENT_CONCAT = {"image_condition": "latent_concat"}  # 33 channels: the pipeline drops 4 frames
TOKEN_REPLACE = {"image_condition": "token_replace"}  # 16 channels


def image_condition(card: ModelCard) -> str | None:
    """ "latent_concat" (33 channels: the pipeline drops 4 frames), "token_replace" (16 channels), None (T2V)."""
    return card.traits.get("image_condition")


class HunyuanVideoFamily(Family):
    name = "hunyuanvideo"
    # step caches (VideoSpec.cache): the DiT defaults (families/_common.py cites each source; docs/speed.md
    # has what each costs on the tiny model)
    cache_methods = DIT_CACHE_METHODS_CACHEDIT
    cache_hook_settings = DIT_CACHE_HOOK_SETTINGS
    cache_auto = DIT_CACHE_AUTO
    pipelines = {"t2v": "HunyuanVideoPipeline", "i2v": "HunyuanVideoImageToVideoPipeline"}
    card_defaults = {
        "height": 720,
        "width": 1280,
        "num_frames": 129,
        "fps": 24,
        "steps": 50,
        "guidance_scale": 6.0,
        "frame_rule": (4, 1),
        "size_multiple": 16,
        "dtypes": HUNYUAN_DTYPES,
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 9, "fps": 8, "steps": 2}
    flow_matching = True
    #: what hunyuanvideo-community/HunyuanVideo ships (the tiny builder writes the same)
    scheduler = {"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 7.0}
    trims_frames = True  # the 33-channel I2V is asked for 4 frames more than it returns

    def card_for_pipeline(
        self, ref: str, class_name: str, index: Mapping[str, Any], read_config: Callable[[str], dict]
    ) -> ModelCard:
        """The catalog card whose architecture the transformer matches, else a template (by the I2V
        transformer's image_condition_type) with no default size: the transformer config holds none."""
        template = "hunyuanvideo"
        if class_name == "HunyuanVideoImageToVideoPipeline":
            kind = read_config("transformer").get("image_condition_type") or "latent_concat"
            template = "hunyuanvideo-i2v-33ch" if kind == "latent_concat" else "hunyuanvideo-i2v"
        card = self.card_named(template)
        known = self.known_card(class_name, index, read_config, prefer=card)
        card = outside_catalog(known or card, ref, class_name)
        return card if known else size_unknown(card)

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        checked = super().check(spec, card, rules, media)  # the rules every family shares
        check_true_cfg(spec, card)
        if (
            image_condition(card) == "latent_concat"
            and spec.guidance_scale not in (None, 1.0)
            and not true_cfg_on(spec, card)
        ):
            logger.warning(
                "%s has no embedded guidance: guidance_scale=%s has no effect (use true_cfg_scale "
                "with a negative_prompt for guidance)",
                card.name,
                spec.guidance_scale,
            )
        return checked

    def load(self, card: ModelCard, pipeline_cls: Any, load_kwargs: dict[str, Any]) -> Any:
        return pipeline_cls.from_pretrained(
            card.source, **with_llama_tokenizer(load_kwargs, card.source, card.revision)
        )

    def call_kwargs(
        self, spec: CompleteSpec, card: ModelCard, media: Mapping[str, Any], params: AbstractSet[str]
    ) -> dict[str, Any]:
        kwargs = super().call_kwargs(spec, card, media, params)
        if spec.task == "i2v" and image_condition(card) == "latent_concat":
            kwargs["num_frames"] = spec.num_frames + LATENT_CONCAT_DROPPED_FRAMES
        return kwargs

    def call_context(self, pipe: Any, spec: CompleteSpec) -> ContextManager[Any]:
        if spec.task != "i2v":  # HunyuanVideoPipeline sets its own "cond"/"uncond" contexts
            return contextlib.nullcontext()
        return cache_context(pipe, spec)

    def build_tiny(self, variant: str, folder: Path) -> None:
        """Tiny HunyuanVideo pipelines: "t2v" and "i2v" (the 33-channel latent-concat layout, LLaVA encoder)."""
        import diffusers
        from diffusers import FlowMatchEulerDiscreteScheduler, HunyuanVideoTransformer3DModel

        from . import tiny_parts

        components: dict[str, Any] = {
            **tiny_parts.hunyuan_text_parts(16, 8),
            "vae": tiny_parts.hunyuan_video_vae(),
            "scheduler": FlowMatchEulerDiscreteScheduler(shift=7.0),
        }
        transformer_kw: dict[str, Any] = {
            "in_channels": 4,
            "out_channels": 4,
            "num_attention_heads": 2,
            "attention_head_dim": 10,
            "num_layers": 1,
            "num_single_layers": 1,
            "num_refiner_layers": 1,
            "patch_size": 1,
            "patch_size_t": 1,
            "guidance_embeds": True,
            "text_embed_dim": 16,
            "pooled_projection_dim": 8,
            "rope_axes_dim": (2, 4, 4),
        }
        if variant == "t2v":
            components["transformer"] = HunyuanVideoTransformer3DModel(**transformer_kw)
            cls = diffusers.HunyuanVideoPipeline
        elif variant == "i2v":
            from transformers import CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration

            vision = CLIPVisionConfig(
                hidden_size=8,
                intermediate_size=37,
                num_attention_heads=4,
                num_hidden_layers=2,
                image_size=32,
                patch_size=8,
                projection_dim=32,
            )
            llava = LlavaConfig(
                vision_config=vision,
                text_config=tiny_parts.llama_config(16),
                image_token_index=999,
                pad_token_id=components["tokenizer"].pad_token_id,
            )
            components["text_encoder"] = LlavaForConditionalGeneration(llava).eval()
            components["image_processor"] = tiny_parts.clip_image_processor(32)
            transformer_kw.update(in_channels=2 * 4 + 1, guidance_embeds=False, image_condition_type="latent_concat")
            components["transformer"] = HunyuanVideoTransformer3DModel(**transformer_kw)
            cls = diffusers.HunyuanVideoImageToVideoPipeline
        else:
            raise ValueError(f"unknown tiny hunyuanvideo variant {variant!r}")
        cls(**components).save_pretrained(folder)


card = HunyuanVideoFamily.card
CARDS = (
    card(
        "hunyuanvideo",
        "hunyuanvideo-community/HunyuanVideo",
        ("t2v",),
        arch="hunyuanvideo-13b",
        description="HunyuanVideo text-to-video, 13B, guidance-distilled; 720p (also 544x960), 24 fps",
    ),
    card(
        "hunyuanvideo-i2v",
        "hunyuanvideo-community/HunyuanVideo-I2V",
        ("i2v",),
        arch="hunyuanvideo-13b",
        traits=TOKEN_REPLACE,
        description="HunyuanVideo-I2V, 16 channels (token replace, Tencent's updated I2V), 720p",
    ),
    card(
        "hunyuanvideo-i2v-33ch",
        "hunyuanvideo-community/HunyuanVideo-I2V-33ch",
        ("i2v",),
        guidance_scale=1.0,
        arch="hunyuanvideo-i2v-33ch-13b",
        traits=LATENT_CONCAT,
        description="HunyuanVideo-I2V, 33 channels (latent concat, Tencent's first I2V), 720p",
    ),
    # tiny random-weight models, built offline (videogen.families.tiny)
    card(
        "tiny-hunyuanvideo",
        None,
        ("t2v",),
        tiny="t2v",
        call_defaults=TINY_T2V_CALL,
        description="tiny random HunyuanVideo T2V (tests, demo)",
    ),
    card(
        "tiny-hunyuanvideo-i2v",
        None,
        ("i2v",),
        tiny="i2v",
        guidance_scale=1.0,
        traits=LATENT_CONCAT,
        call_defaults=TINY_I2V_CALL,
        description="tiny random HunyuanVideo-I2V (33-channel latent-concat layout)",
    ),
)
FAMILY = HunyuanVideoFamily(CARDS)
