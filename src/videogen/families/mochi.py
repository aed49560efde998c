"""Mochi 1 (Genmo, 10B): text-to-video.

Rules and what videogen does about the pipeline's surprises:

- num_frames is 6k+1: the VAE compresses time ×6 and decodes (latent frames − 1)·6 + 1 frames, so other counts
  come back shorter than asked (9 → 7) without a word.
- height and width are multiples of 16: the pipeline checks multiples of 8, but the transformer's 2×2 patches of
  the ×8 latents fail on an odd latent side (a reshape error inside the transformer).
- `guidance_scale` > 1 runs classifier-free guidance (the two passes as one batch); at 1.0 the negative prompt is
  never encoded: a `negative_prompt` there is refused.
- The pipeline sets the cache context itself (one "cond_uncond" context a step) and its `current_timestep`, so the
  step caches that find blocks through diffusers' registry (MochiTransformerBlock is in it) or its attention class
  run on it as they are.
- The checkpoint's scheduler counts time from noise to data (`invert_sigmas=True`): another scheduler class
  would run the schedule backwards, so `scheduler=` other than FlowMatchEulerDiscreteScheduler is refused.
- LoRA: the pipeline loads LoRAs (`Mochi1LoraLoaderMixin`). No context-parallel plan in diffusers 0.42.1.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ._common import (
    DIT_CACHE_AUTO,
    DIT_CACHE_HOOK_SETTINGS,
    DIT_CACHE_METHODS_CACHEDIT,
    check_negative_prompt_has_guidance,
)
from .base import NO_MEDIA, Checked, Family

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules
    from .card import ModelCard


class MochiFamily(Family):
    name = "mochi"
    pipelines = {"t2v": "MochiPipeline"}
    card_defaults = {
        # the pipeline's defaults (480×848, 64 steps, guidance 4.5); 163 frames at 30 fps is the model's 5.4 s
        "height": 480,
        "width": 848,
        "num_frames": 163,
        "fps": 30,
        "steps": 64,
        "guidance_scale": 4.5,
        "frame_rule": (6, 1),
        "size_multiple": 16,
        "dtypes": {"default": "bfloat16"},
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 7, "fps": 8, "steps": 2}
    flow_matching = True
    # the checkpoint's scheduler (diffusers' conversion script): Mochi counts time from noise (0) to data (1)
    scheduler = {"_class_name": "FlowMatchEulerDiscreteScheduler", "invert_sigmas": True}
    # step caches (VideoSpec.cache): all six run on it, measured on the tiny model (tests/families/test_mochi.py:
    # each skips, the video changes a little); MagCache with calibrated ratios. The pipeline runs both guidance
    # passes as one batch (as CogVideoX's), so FasterCache's guidance-skipping branch runs.
    cache_methods = DIT_CACHE_METHODS_CACHEDIT
    cache_hook_settings = {
        **DIT_CACHE_HOOK_SETTINGS,
        "fastercache": {"tensor_format": "BCFHW", "is_guidance_distilled": False},
    }
    cache_auto = DIT_CACHE_AUTO

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        """A negative prompt needs classifier-free guidance on (guidance_scale above 1)."""
        checked = super().check(spec, card, rules, media)  # the rules every family shares
        check_negative_prompt_has_guidance(spec, card, 4.5)
        steps = checked.spec.steps
        if steps < 2:  # the pipeline's linear-quadratic schedule splits the steps in two halves: one is empty
            raise SpecError(
                f"steps={steps} is too few for {card.name}: its sigma schedule takes half the steps linear and half "
                "quadratic, so it needs at least 2 (the pipeline divides by zero); pass steps=2 or more",
                field="steps",
                valid=2,
            )
        _check_scheduler(spec.scheduler, card)
        return checked

    def build_tiny(self, variant: str, folder: Path) -> None:
        """The tiny Mochi pipeline ("t2v"): the VAE keeps the pipeline's fixed ×8 space, ×6 time and 12 latent
        channels (the pipeline hard-codes them), at 32 channels a block (its group norms take 32 groups)."""
        from diffusers import AutoencoderKLMochi, FlowMatchEulerDiscreteScheduler, MochiPipeline
        from diffusers import MochiTransformer3DModel as Transformer

        from . import tiny_parts

        if variant != "t2v":
            raise ValueError(f"unknown tiny mochi variant {variant!r}")
        MochiPipeline(
            transformer=Transformer(
                num_attention_heads=2,
                attention_head_dim=8,
                num_layers=2,
                pooled_projection_dim=16,
                text_embed_dim=32,
                time_embed_dim=4,
            ),
            vae=AutoencoderKLMochi(
                encoder_block_out_channels=(32,) * 4, decoder_block_out_channels=(32,) * 4, layers_per_block=(1,) * 5
            ),
            text_encoder=tiny_parts.t5_encoder(32),
            tokenizer=tiny_parts.t5_tokenizer(),
            scheduler=FlowMatchEulerDiscreteScheduler(invert_sigmas=True),
        ).save_pretrained(folder)


def _check_scheduler(value: Any, card: ModelCard) -> None:
    """Mochi's time runs from noise (0) to data (1): only flow-matching Euler with `invert_sigmas` runs it."""
    name = value if isinstance(value, str) else value.get("name") if isinstance(value, Mapping) else None
    inverted = not isinstance(value, Mapping) or value.get("invert_sigmas", True) is True
    if name is None or (name == "FlowMatchEulerDiscreteScheduler" and inverted):
        return
    raise SpecError(
        f"scheduler={value!r} can't run {card.name}: Mochi counts time from noise to data, which only "
        "FlowMatchEulerDiscreteScheduler with invert_sigmas=True (the checkpoint's own) does; another schedule "
        "would run backwards. Leave scheduler out",
        field="scheduler",
        valid=None,
    )


card = MochiFamily.card
CARDS = (
    card(
        "mochi-1-preview",
        "genmo/mochi-1-preview",
        ("t2v",),
        variant="bf16",
        arch="mochi-10b",
        description="Genmo Mochi 1 preview text-to-video, 10B (AsymmDiT); 480p, 30 fps, up to 5.4 s",
    ),
    # tiny random-weight model, built offline (videogen.families.tiny)
    card("tiny-mochi", None, ("t2v",), tiny="t2v", description="tiny random Mochi T2V (tests, demo)"),
)
FAMILY = MochiFamily(CARDS)
