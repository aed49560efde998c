"""Latte (Ma et al., "Latte: Latent Diffusion Transformer for Video Generation"; Latte-1, 1B DiT): text-to-video,
16 frames of 512×512.

Rules and what videogen does about the pipeline's surprises:

- The frame count is fixed by the transformer: its temporal position table (`temp_pos_embed`, `video_length`
  rows, 16 on Latte-1) is added whole to the latents after the first block, so any other count fails inside
  diffusers after the prompt is encoded. num_frames is that `video_length` (or 1: a single frame skips the table,
  Latte's text-to-image): the card's frame count (a folder outside the catalog: its transformer's), which
  `snap=True` rounds to, and checked again from the transformer's config before load. The pipeline calls the frame count
  `video_length`.
- Height and width are multiples of 16 (the VAE's ×8 and the transformer's 2×2 patches).
- The prompt is tokenized to 120 T5 tokens (fixed in diffusers 0.42.1; longer prompts are cut with a warning).
- `clean_caption`: the pipeline's default (True) cleans the prompt with beautifulsoup4 and ftfy, and where they
  are not installed it warns and skips the cleaning, so the same spec would encode a different prompt on another
  machine. The cards pass `clean_caption=False` (the prompt as written); `extra={"clean_caption": True}` asks for
  the cleaning (it needs both packages).
- `guidance_scale` > 1 runs classifier-free guidance (the two passes as one batch) against `negative_prompt`
  (the pipeline's default: empty); at 1.0 a `negative_prompt` is refused (never read).
- Step caches: the pipeline sets no cache context, so `call_context` wraps the call in
  `transformer.cache_context("cond")` when a hook is on. TaylorSeer, PAB and FasterCache (its guidance branch:
  the passes are one batch) run on it; First-Block Cache and MagCache are refused (they reuse the last block's
  residual, but Latte regroups the tokens between its interleaved spatial and temporal blocks: a shape error),
  and cache-dit has no Latte adapter. The pipeline loads no LoRAs and the transformer declares no context-parallel
  plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ._common import DIT_CACHE_HOOK_SETTINGS, DIT_CACHE_METHODS, cache_context, check_negative_prompt_has_guidance
from .base import NO_MEDIA, Checked, Family

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules
    from .card import ModelCard

#: the frame count the transformer's temporal position table has rows for (LatteTransformer3DModel's default,
#: Latte-1's `video_length`)
VIDEO_LENGTH = 16


class LatteFamily(Family):
    name = "latte"
    pipelines = {"t2v": "LattePipeline"}
    frames_param = "video_length"
    card_defaults = {
        # the pipeline's defaults (diffusers' Latte docs call it with the prompt alone): 16 frames of 512×512,
        # 50 steps, guidance 7.5; Latte's sampling scripts save the video at 8 fps
        "height": 512,
        "width": 512,
        "num_frames": VIDEO_LENGTH,
        "fps": 8,
        "steps": 50,
        "guidance_scale": 7.5,
        "frame_rule": None,  # the transformer's video_length, checked from its config (check_components)
        "size_multiple": 16,
        "call_defaults": {"clean_caption": False},
        # the docs load the pipeline in float16
        "dtypes": {"default": "float16"},
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 4, "fps": 8, "steps": 2}
    # the checkpoint's scheduler (Latte's sampling config): DDIM over linear betas, epsilon prediction
    scheduler = {"_class_name": "DDIMScheduler", "beta_schedule": "linear", "prediction_type": "epsilon"}
    # step caches (VideoSpec.cache), measured on the tiny model (tests/families/test_latte.py)
    cache_methods = {m: DIT_CACHE_METHODS[m] for m in ("taylorseer", "pab", "fastercache")}
    cache_hook_settings = {
        **DIT_CACHE_HOOK_SETTINGS,
        "fastercache": {"tensor_format": "BCFHW", "is_guidance_distilled": False},
    }
    cache_refused = {
        **dict.fromkeys(
            ("fbc", "magcache"),
            "this hook runs the transformer's first block and reuses the output of its last, but Latte "
            "interleaves spatial and temporal blocks with the tokens regrouped (frames ↔ patches) between each "
            "pair, so the reused residual has the other layout and the step fails (a shape error in diffusers "
            "0.42.1)",
        ),
        "dbcache": "cache-dit has no Latte adapter",
    }
    cache_auto = ("taylorseer",)

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        """A negative prompt needs guidance; num_frames is the card's (its transformer's `video_length`) or 1."""
        checked = super().check(spec, card, rules, media)  # the rules every family shares
        check_negative_prompt_has_guidance(spec, card, 7.5)
        frames = checked.spec.num_frames
        if frames in (card.num_frames, 1):
            return checked
        fixed = rules.fix("num_frames", frames, card.num_frames, _frames_rule(card.name, card.num_frames))
        return Checked(checked.spec.replace(num_frames=fixed), checked.media)

    def check_components(self, spec: CompleteSpec, card: ModelCard, configs: Mapping[str, Mapping[str, Any]]) -> None:
        """The same rule from the transformer's config, where it is known (stored or the model's folder)."""
        length = int((configs.get("transformer") or {}).get("video_length") or VIDEO_LENGTH)
        if spec.num_frames not in (length, 1):
            raise SpecError(
                f"num_frames={spec.num_frames} is not valid for {card.name}: {_frames_rule(card.name, length)}; "
                f"pass num_frames={length}",
                field="num_frames",
                valid=length,
            )

    def card_for_pipeline(
        self, ref: str, class_name: str, index: Mapping[str, Any], read_config: Callable[[str], dict]
    ) -> ModelCard:
        """The Latte-1 card renamed, with the frame count the folder's transformer was made for."""
        card = super().card_for_pipeline(ref, class_name, index, read_config)
        length = int(read_config("transformer").get("video_length") or VIDEO_LENGTH)
        return replace(card, num_frames=length)

    def call_context(self, pipe: Any, spec: CompleteSpec) -> AbstractContextManager[Any]:
        """The cache context a step cache's hook needs (the pipeline sets none; both guidance passes are one
        batch, one call a step)."""
        return cache_context(pipe, spec)

    def build_tiny(self, variant: str, folder: Path) -> None:
        """The tiny Latte pipeline ("t2v"): two spatial and two temporal blocks of 2 heads × 8 over 4 frames (the
        temporal table's length), the SD VAE of three 8-channel blocks, a tiny T5, DDIM over linear betas."""
        import torch
        from diffusers import DDIMScheduler, LattePipeline, LatteTransformer3DModel

        from . import tiny_parts

        if variant != "t2v":
            raise ValueError(f"unknown tiny latte variant {variant!r}")
        torch.manual_seed(0)
        LattePipeline(
            transformer=LatteTransformer3DModel(
                sample_size=8,
                num_layers=2,
                patch_size=2,
                attention_head_dim=8,
                num_attention_heads=2,
                caption_channels=32,
                in_channels=4,
                cross_attention_dim=16,
                out_channels=8,
                attention_bias=True,
                activation_fn="gelu-approximate",
                num_embeds_ada_norm=1000,
                norm_type="ada_norm_single",
                norm_elementwise_affine=False,
                norm_eps=1e-6,
                video_length=4,
            ),
            vae=tiny_parts.sd_vae(),
            text_encoder=tiny_parts.t5_encoder(32),
            tokenizer=tiny_parts.t5_tokenizer(),
            scheduler=DDIMScheduler(beta_schedule="linear", clip_sample=False),
        ).save_pretrained(folder)


def _frames_rule(name: str, length: int) -> str:
    return (
        f"{name}'s transformer has a temporal position table of {length} rows (video_length), added to the latents "
        f"whole, so it makes exactly {length} frames (or 1, an image)"
    )


card = LatteFamily.card
CARDS = (
    card(
        "latte-1",
        "maxin-cn/Latte-1",
        ("t2v",),
        arch="latte-1",
        description="Latte-1 text-to-video, 1B (T5-XXL text encoder); 16 frames of 512x512 at 8 fps",
    ),
    # tiny random-weight model, built offline (videogen.families.tiny)
    card("tiny-latte", None, ("t2v",), tiny="t2v", description="tiny random Latte T2V (tests, demo)"),
)
FAMILY = LatteFamily(CARDS)
