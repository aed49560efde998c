"""Wan 2.1 / 2.2 (Wan-AI): text-, image-, first-last-frame- and video-to-video.

Rules: num_frames 4k+1; height and width multiples of 16 (VAE ×8, patch ×2), 32 for Wan 2.2
TI2V-5B (VAE ×16). The VAE runs in float32 on a GPU (the model authors' and diffusers' advice).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import (
    DIT_CACHE_AUTO,
    DIT_CACHE_HOOK_SETTINGS,
    DIT_CACHE_METHODS_CACHEDIT,
    cache_context,
    check_rope_table,
)
from .base import NO_MEDIA, Checked, Family, component_class, outside_catalog, size_unknown
from .card import ModelCard

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules

WAN_DTYPES = {"default": "bfloat16", "vae": "float32", "image_encoder": "float32"}


class WanFamily(Family):
    name = "wan"
    # step caches (VideoSpec.cache): the DiT defaults (families/_common.py cites each source; docs/speed.md
    # has what each costs on the tiny model)
    cache_methods = DIT_CACHE_METHODS_CACHEDIT
    cache_hook_settings = DIT_CACHE_HOOK_SETTINGS
    cache_auto = DIT_CACHE_AUTO
    pipelines = {
        "t2v": "WanPipeline",
        "i2v": "WanImageToVideoPipeline",
        "flf2v": "WanImageToVideoPipeline",
        "v2v": "WanVideoToVideoPipeline",
    }
    card_defaults = {
        "height": 480,
        "width": 832,
        "num_frames": 81,
        "fps": 16,
        "steps": 50,
        "guidance_scale": 5.0,
        "frame_rule": (4, 1),
        "size_multiple": 16,
        "dtypes": WAN_DTYPES,
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 9, "fps": 8, "steps": 2}
    flow_matching = True
    #: what the Wan-AI diffusers repos ship (their flow_shift differs by checkpoint; the checks need the class)
    scheduler = {
        "_class_name": "UniPCMultistepScheduler",
        "prediction_type": "flow_prediction",
        "use_flow_sigmas": True,
    }
    context_parallel = True  # the transformer has a `_cp_plan` (diffusers 0.42.1)

    def card_for_pipeline(
        self, ref: str, class_name: str, index: Mapping[str, Any], read_config: Callable[[str], dict]
    ) -> ModelCard:
        """The catalog card whose architecture the transformer configs match (its defaults are right), else
        a template by layout (two experts, TI2V VAE, image conditioning) with no default size: the
        transformer config holds none, so such a folder must be given height, width and num_frames."""
        two_experts = bool(component_class(index, "transformer_2"))
        vae = read_config("vae")
        transformer = read_config("transformer")
        if class_name == "WanImageToVideoPipeline":
            template = "wan2.2-i2v-a14b" if two_experts else "wan2.1-i2v-14b-480p"
        else:
            template = "wan2.2-t2v-a14b" if two_experts else "wan2.1-t2v-1.3b"
        if vae.get("z_dim") == 48:
            template = "wan2.2-ti2v-5b"
        known = self.known_card(class_name, index, read_config, prefer=self.card_named(template))
        card = known or self.card_named(template)
        spatial = int(vae.get("scale_factor_spatial") or 8)
        patch = transformer.get("patch_size") or [1, 2, 2]
        tasks = card.tasks
        if class_name == "WanImageToVideoPipeline" and int(transformer.get("pos_embed_seq_len") or 0) > 0:
            tasks = ("flf2v",)
        card = outside_catalog(card, ref, class_name, tasks=tasks, size_multiple=spatial * int(patch[1]))
        return card if known else size_unknown(card)

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        """First-last-frame-to-video puts its two images on the first and the last frame, which must differ:
        WanImageToVideoPipeline pads num_frames - 2 frames between them (one frame: a negative size)."""
        spec, media = super().check(spec, card, rules, media)  # the rules every family shares
        frames = spec.num_frames
        if spec.task == "flf2v" and frames < 2:
            step, offset = card.frame_rule or (1, 0)
            valid = next(offset + step * k for k in range(1, 9) if offset + step * k >= 2)
            rule = (
                "first-last-frame-to-video puts the first and the last image on two different frames, so "
                f"num_frames must be at least 2 (the smallest valid count: {valid})"
            )
            spec = spec.replace(num_frames=rules.fix("num_frames", frames, valid, rule))
        return Checked(spec, media)

    def check_components(self, spec: CompleteSpec, card: ModelCard, configs: Mapping[str, Mapping[str, Any]]) -> None:
        """The transformer's rotary position table must cover the latent frames, height and width in patches."""
        check_rope_table(spec, card, configs)

    def call_context(self, pipe: Any, spec: CompleteSpec) -> AbstractContextManager[Any]:
        """WanVideoToVideoPipeline sets no cache context, which First Block Cache and TaylorSeer need: the call
        runs in `transformer.cache_context("cond")` when a cache hook is on (the other Wan pipelines set theirs)."""
        if type(pipe).__name__ == "WanVideoToVideoPipeline":
            return cache_context(pipe, spec)
        return contextlib.nullcontext()

    def cache_refusal(self, spec: CompleteSpec, card: ModelCard, method: str) -> str | None:
        """Wan 2.2's two experts (high noise, then low noise) each see part of the schedule, and MagCache
        counts steps per transformer against the whole schedule's calibrated ratios."""
        if method == "magcache" and "guidance_scale_2" in card.call_defaults:  # the two-expert cards
            return f"{card.name} has two experts that split the schedule, which MagCache's per-step ratios can't follow"
        return None

    def build_tiny(self, variant: str, folder: Path) -> None:
        """Tiny Wan pipelines: "t2v", "i2v", "flf2v", "a14b" (2.2 two experts), "ti2v" (2.2 5B layout)."""
        import diffusers
        from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel

        from . import tiny_parts

        ti2v = variant == "ti2v"
        image_cond = variant in ("i2v", "flf2v")
        channels = 48 if ti2v else 16
        vae_kwargs: dict[str, Any] = dict(
            base_dim=3, z_dim=channels, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
        )
        if ti2v:
            vae_kwargs.update(
                in_channels=12,
                out_channels=12,
                is_residual=True,
                patch_size=2,
                scale_factor_spatial=16,
                scale_factor_temporal=4,
                latents_mean=[0.0] * 48,
                latents_std=[1.0] * 48,
            )
        vae = AutoencoderKLWan(**vae_kwargs)

        def transformer(**extra: Any) -> Any:
            kw: dict[str, Any] = dict(
                patch_size=(1, 2, 2),
                num_attention_heads=2,
                attention_head_dim=12,
                in_channels=channels,
                out_channels=channels,
                text_dim=32,
                freq_dim=256,
                ffn_dim=32,
                num_layers=2,
                cross_attn_norm=True,
                qk_norm="rms_norm_across_heads",
                rope_max_seq_len=32,
            )
            kw.update(extra)
            return WanTransformer3DModel(**kw)

        components: dict[str, Any] = dict(
            tokenizer=tiny_parts.t5_tokenizer(),
            text_encoder=tiny_parts.umt5_encoder(32),
            vae=vae,
            scheduler=UniPCMultistepScheduler(
                prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
            ),  # as the Wan 2.1 repos ship
        )
        if image_cond:
            from transformers import CLIPVisionModel

            extra: dict[str, Any] = dict(in_channels=36, image_dim=4)
            if variant == "flf2v":
                extra["pos_embed_seq_len"] = 2 * ((32 // 4) ** 2 + 1)  # two images of CLIP tokens + class token
            components["transformer"] = transformer(**extra)
            components["image_encoder"] = CLIPVisionModel(
                tiny_parts.clip_vision_config(
                    hidden=4, image_size=32, patch_size=4, num_attention_heads=2, intermediate_size=16
                )
            ).eval()
            components["image_processor"] = tiny_parts.clip_image_processor(32)
            cls = diffusers.WanImageToVideoPipeline
        elif variant == "a14b":
            components["transformer"] = transformer()
            components["transformer_2"] = transformer()
            components["boundary_ratio"] = 0.875
            cls = diffusers.WanPipeline
        elif variant in ("t2v", "ti2v"):
            components["transformer"] = transformer()
            if ti2v:
                components["expand_timesteps"] = True
            cls = diffusers.WanPipeline
        else:
            raise ValueError(f"unknown tiny wan variant {variant!r}")
        cls(**components).save_pretrained(folder)


card = WanFamily.card
CARDS = (
    card(
        "wan2.1-t2v-1.3b",
        "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
        ("t2v", "v2v"),
        arch="wan2.1-t2v-1.3b",
        description="Wan 2.1 text-to-video, 1.3B; 480p",
    ),
    card(
        "wan2.1-t2v-14b",
        "Wan-AI/Wan2.1-T2V-14B-Diffusers",
        ("t2v", "v2v"),
        height=720,
        width=1280,
        arch="wan2.1-t2v-14b",
        description="Wan 2.1 text-to-video, 14B; 480p and 720p",
    ),
    card(
        "wan2.1-i2v-14b-480p",
        "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
        ("i2v",),
        arch="wan2.1-i2v-14b",
        description="Wan 2.1 image-to-video, 14B, 480p",
    ),
    card(
        "wan2.1-i2v-14b-720p",
        "Wan-AI/Wan2.1-I2V-14B-720P-Diffusers",
        ("i2v",),
        height=720,
        width=1280,
        arch="wan2.1-i2v-14b",
        description="Wan 2.1 image-to-video, 14B, 720p",
    ),
    # flf2v only: its image embedder's position table is for two images, so one image crashes the transformer
    card(
        "wan2.1-flf2v-14b-720p",
        "Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers",
        ("flf2v",),
        height=720,
        width=1280,
        guidance_scale=5.5,
        arch="wan2.1-flf2v-14b",
        description="Wan 2.1 first-last-frame-to-video, 14B, 720p",
    ),
    # no v2v for the two-expert models: WanVideoToVideoPipeline has no transformer_2 and would drop one expert
    card(
        "wan2.2-t2v-a14b",
        "Wan-AI/Wan2.2-T2V-A14B-Diffusers",
        ("t2v",),
        height=720,
        width=1280,
        steps=40,
        guidance_scale=4.0,
        call_defaults={"guidance_scale_2": 3.0},
        arch="wan2.2-a14b",
        description="Wan 2.2 text-to-video, two 14B experts (high/low noise)",
    ),
    card(
        "wan2.2-i2v-a14b",
        "Wan-AI/Wan2.2-I2V-A14B-Diffusers",
        ("i2v",),
        height=720,
        width=1280,
        steps=40,
        guidance_scale=3.5,
        call_defaults={"guidance_scale_2": 3.5},
        arch="wan2.2-i2v-a14b",
        description="Wan 2.2 image-to-video, two 14B experts",
    ),
    card(
        "wan2.2-ti2v-5b",
        "Wan-AI/Wan2.2-TI2V-5B-Diffusers",
        ("t2v", "i2v"),
        height=704,
        width=1280,
        num_frames=121,
        fps=24,
        size_multiple=32,
        arch="wan2.2-ti2v-5b",
        description="Wan 2.2 text/image-to-video, 5B dense, 720p at 24 fps",
    ),
    # tiny random-weight models, built offline (videogen.families.tiny)
    card("tiny-wan", None, ("t2v", "v2v"), tiny="t2v", description="tiny random Wan 2.1 T2V (tests, demo)"),
    card("tiny-wan-i2v", None, ("i2v",), tiny="i2v", description="tiny random Wan 2.1 I2V"),
    card("tiny-wan-flf2v", None, ("flf2v",), tiny="flf2v", description="tiny random Wan 2.1 FLF2V"),
    card(
        "tiny-wan2.2",
        None,
        ("t2v",),
        tiny="a14b",
        guidance_scale=4.0,
        call_defaults={"guidance_scale_2": 3.0},
        description="tiny random Wan 2.2 two-expert T2V",
    ),
    card(
        "tiny-wan2.2-ti2v",
        None,
        ("t2v", "i2v"),
        tiny="ti2v",
        size_multiple=32,
        description="tiny random Wan 2.2 TI2V-5B layout",
    ),
)
FAMILY = WanFamily(CARDS)
