"""CogVideoX (THUDM / Zhipu AI): text-, image- and video-to-video. Not a flow-matching model (DDIM / DPM).

Rules, from the model cards:
* CogVideoX 1.0 (2b, 5b, 5b-I2V): 480x720 only; num_frames 8k+1, at most 49; 8 fps. 5b-I2V's learned
  positional embeddings make any other size fail; other counts than 8k+1 come out longer (4k+1 with k
  odd is decoded to 4k+4 frames).
* CogVideoX 1.5 (5B, 5B-I2V): num_frames 16k+1, at most 161 (81 by default); 16 fps. The 5B text model
  runs at 768x1360; the I2V model at any size whose shorter side is 768 and longer side at most 1360.
  1.5 does no video-to-video here: CogVideoXVideoToVideoPipeline needs an even latent frame count,
  which no 16k+1 (or 8k+1) count gives.
* height and width are multiples of 16 (VAE ×8, patch ×2; diffusers only checks ×8).
* max_sequence_length is fixed by the checkpoint (transformer.config.max_text_seq_length, 226):
  videogen passes it, and an `extra` that sets another value is refused (the 2b and 5b-I2V positional
  embeddings have exactly that many text slots, so another length fails or misplaces tokens).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ._common import DIT_CACHE_AUTO, DIT_CACHE_HOOK_SETTINGS, DIT_CACHE_METHODS_CACHEDIT
from .base import NO_MEDIA, Checked, Family, outside_catalog, size_unknown
from .card import ModelCard

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules

#: the text length of every released CogVideoX checkpoint
TEXT_TOKENS = 226
#: cards whose size is free within (shorter side, longest longer side): CogVideoX 1.5 I2V
SIDE_RULES: dict[str, tuple[int, int]] = {"cogvideox1.5-5b-i2v": (768, 1360)}
V10: dict[str, Any] = {
    "height": 480,
    "width": 720,
    "num_frames": 49,
    "fps": 8,
    "frame_rule": (8, 1),
    "max_frames": 49,
    "sizes": ((480, 720),),
}
V15: dict[str, Any] = {
    "height": 768,
    "width": 1360,
    "num_frames": 81,
    "fps": 16,
    "frame_rule": (16, 1),
    "max_frames": 161,
}


class CogVideoXFamily(Family):
    name = "cogvideox"
    # step caches (VideoSpec.cache): the DiT defaults (families/_common.py cites each source). FasterCache
    # as diffusers' cache docs set it for CogVideoX: 5-D latents frames-first ("BFCHW"), and cond/uncond in
    # one batch, so its CFG skipping runs (distilled where guidance_scale <= 1 leaves no uncond batch)
    cache_methods = DIT_CACHE_METHODS_CACHEDIT
    cache_hook_settings = {
        **DIT_CACHE_HOOK_SETTINGS,
        "fastercache": {"tensor_format": "BFCHW", "is_guidance_distilled": False},
    }
    cache_auto = DIT_CACHE_AUTO
    #: what the 5b, 5b-I2V and 1.5 repos ship (the 2b's card says CogVideoXDDIMScheduler in its traits)
    scheduler = {
        "_class_name": "CogVideoXDPMScheduler",
        "prediction_type": "v_prediction",
        "rescale_betas_zero_snr": True,
        "timestep_spacing": "trailing",
    }
    pipelines = MappingProxyType(
        {"t2v": "CogVideoXPipeline", "i2v": "CogVideoXImageToVideoPipeline", "v2v": "CogVideoXVideoToVideoPipeline"}
    )
    card_defaults = {
        "steps": 50,
        "guidance_scale": 6.0,
        "size_multiple": 16,
        "dtypes": {"default": "bfloat16"},
        "call_defaults": {"max_sequence_length": TEXT_TOKENS},
    }
    #: 16x16, 2 steps, 16 text tokens (frames per card: at most 2·frames - 1)
    tiny_defaults = {
        "height": 16,
        "width": 16,
        "sizes": ((16, 16),),
        "steps": 2,
        "call_defaults": {"max_sequence_length": 16},
    }

    # ---- catalog -------------------------------------------------------------------------------
    def card_for_pipeline(
        self, ref: str, class_name: str, index: Mapping[str, Any], read_config: Callable[[str], dict]
    ) -> ModelCard:
        """A 2b / 5b / 5b-I2V / 1.5 template, with the size and text length of the configs.

        1.0 configs give the size and frames trained at; 1.5 configs hold placeholders, so a 1.5 pipeline
        takes the defaults of the catalog card whose architecture it matches, or has none (`size_unknown`).
        """
        transformer = read_config("transformer")
        vae = read_config("vae")
        v15 = transformer.get("patch_size_t") is not None
        i2v = class_name == "CogVideoXImageToVideoPipeline"
        template = {
            (False, False): "cogvideox-5b",
            (False, True): "cogvideox-5b-i2v",
            (True, False): "cogvideox1.5-5b",
            (True, True): "cogvideox1.5-5b-i2v",
        }[(v15, i2v)]
        if template == "cogvideox-5b" and int(transformer.get("num_attention_heads") or 0) == 30:
            template = "cogvideox-2b"  # 30 heads: the 2b architecture (fp16)
        card = self.card_named(template)
        spatial = 2 ** (len(vae.get("block_out_channels") or (0,) * 4) - 1)
        patch = int(transformer.get("patch_size") or 2)
        kw: dict[str, Any] = {}
        if not v15 and transformer.get("sample_height") and transformer.get("sample_width"):
            # 1.0: the size and frame count the model was trained at (1.5 configs hold placeholders)
            height = int(transformer["sample_height"]) * spatial
            width = int(transformer["sample_width"]) * spatial
            frames = int(transformer.get("sample_frames") or card.num_frames)
            kw.update(
                height=height,
                width=width,
                sizes=((height, width),),
                num_frames=frames,
                max_frames=max(frames, card.max_frames or 0),
            )
        known = None if kw else self.known_card(class_name, index, read_config, prefer=card)
        if known is not None:  # 1.5 (its configs hold placeholders): a copy or fine-tune of a catalog model
            kw.update(height=known.height, width=known.width, num_frames=known.num_frames)
        tokens = int(transformer.get("max_text_seq_length") or TEXT_TOKENS)
        card = outside_catalog(
            card, ref, class_name, size_multiple=spatial * patch, call_defaults={"max_sequence_length": tokens}, **kw
        )
        return card if kw else size_unknown(card)

    # ---- validation ----------------------------------------------------------------------------
    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        spec, media = super().check(spec, card, rules, media)  # the rules every family shares
        if card.name in SIDE_RULES:
            short, longest = SIDE_RULES[card.name]
            height, width = spec.height, spec.width
            longer = min(max(height, width, short), longest)
            valid = (short, longer) if height <= width else (longer, short)
            rule = f"the shorter side must be {short} and the longer side {short} to {longest}"
            height = rules.fix("height", height, valid[0], rule)
            width = rules.fix("width", width, valid[1], rule)
            spec = spec.replace(height=height, width=width)
        tokens = card.call_defaults.get("max_sequence_length")
        if "max_sequence_length" in spec.extra and tokens is not None:
            value = spec.extra["max_sequence_length"]
            if value != tokens:
                label = "extra['max_sequence_length']"
                rule = (
                    "CogVideoX's text length is fixed by the checkpoint (transformer "
                    f"max_text_seq_length={tokens}); videogen passes it, so leave it out"
                )
                rules.fix(label, value, tokens, rule, field="extra")
                spec = spec.replace(extra={**spec.extra, "max_sequence_length": tokens})
        return Checked(spec, media)

    # ---- tiny models ---------------------------------------------------------------------------
    def build_tiny(self, variant: str, folder: Path) -> None:
        """Tiny CogVideoX pipelines: "t2v" (2b layout), "i2v" (5b-I2V layout), "1.5" (1.5 text model)."""
        import diffusers
        from diffusers import (
            AutoencoderKLCogVideoX,
            CogVideoXDDIMScheduler,
            CogVideoXDPMScheduler,
            CogVideoXTransformer3DModel,
        )

        from . import tiny_parts

        if variant not in ("t2v", "i2v", "1.5"):
            raise ValueError(f"unknown tiny cogvideox variant {variant!r}")
        vae = AutoencoderKLCogVideoX(
            in_channels=3,
            out_channels=3,
            down_block_types=("CogVideoXDownBlock3D",) * 4,
            up_block_types=("CogVideoXUpBlock3D",) * 4,
            block_out_channels=(8,) * 4,
            latent_channels=4,
            layers_per_block=1,
            norm_num_groups=2,
            temporal_compression_ratio=4,
            sample_height=16,
            sample_width=16,
        )
        kw: dict[str, Any] = dict(
            num_attention_heads=4,
            attention_head_dim=8,
            in_channels=4,
            out_channels=4,  # noqa: C408
            time_embed_dim=2,
            text_embed_dim=32,
            num_layers=2,  # First Block Cache needs two blocks (a head and a tail)
            sample_width=2,
            sample_height=2,
            sample_frames=9,
            patch_size=2,
            temporal_compression_ratio=4,
            max_text_seq_length=16,
        )
        if variant == "i2v":  # image latents concatenated to the noise; rotary + learned positions (5b-I2V)
            kw.update(
                in_channels=8,
                num_attention_heads=2,
                attention_head_dim=16,
                use_rotary_positional_embeddings=True,
                use_learned_positional_embeddings=True,
            )
        elif variant == "1.5":  # temporal patch 2, rotary positions only
            kw.update(
                num_attention_heads=2,
                attention_head_dim=16,
                patch_size_t=2,
                sample_frames=17,
                use_rotary_positional_embeddings=True,
            )
        # the schedulers the 2b (DDIM) and 5b (DPM) repos ship
        scheduler_cls = CogVideoXDDIMScheduler if variant == "t2v" else CogVideoXDPMScheduler
        scheduler = scheduler_cls(
            clip_sample=False,
            prediction_type="v_prediction",
            rescale_betas_zero_snr=True,
            timestep_spacing="trailing",
            snr_shift_scale=3.0 if variant == "t2v" else 1.0,
        )
        components = {
            "tokenizer": tiny_parts.t5_tokenizer(),
            "text_encoder": tiny_parts.t5_encoder(32),
            "vae": vae,
            "transformer": CogVideoXTransformer3DModel(**kw),
            "scheduler": scheduler,
        }
        cls = diffusers.CogVideoXImageToVideoPipeline if variant == "i2v" else diffusers.CogVideoXPipeline
        cls(**components).save_pretrained(folder)


card = CogVideoXFamily.card
CARDS = (
    card(
        "cogvideox-2b",
        "THUDM/CogVideoX-2b",
        ("t2v", "v2v"),
        V10,
        dtypes={"default": "float16"},
        traits={"scheduler": {**CogVideoXFamily.scheduler, "_class_name": "CogVideoXDDIMScheduler"}},
        arch="cogvideox-2b",
        description="CogVideoX 2B; text/video-to-video, 480x720, 49 frames at 8 fps (fp16)",
    ),
    card(
        "cogvideox-5b",
        "THUDM/CogVideoX-5b",
        ("t2v", "v2v"),
        V10,
        arch="cogvideox-5b",
        description="CogVideoX 5B; text/video-to-video, 480x720, 49 frames at 8 fps",
    ),
    card(
        "cogvideox-5b-i2v",
        "THUDM/CogVideoX-5b-I2V",
        ("i2v",),
        V10,
        arch="cogvideox-5b-i2v",
        description="CogVideoX 5B image-to-video; 480x720 only",
    ),
    card(
        "cogvideox1.5-5b",
        "THUDM/CogVideoX1.5-5B",
        ("t2v",),
        V15,
        sizes=((768, 1360),),
        arch="cogvideox1.5-5b",
        description="CogVideoX 1.5 5B text-to-video; 768x1360, up to 161 frames, 16 fps",
    ),
    card(
        "cogvideox1.5-5b-i2v",
        "THUDM/CogVideoX1.5-5B-I2V",
        ("i2v",),
        V15,
        arch="cogvideox1.5-5b-i2v",
        description="CogVideoX 1.5 5B image-to-video; shorter side 768, longer up to 1360, 16 fps",
    ),
    # tiny random-weight models, built offline (videogen.families.tiny)
    card(
        "tiny-cogvideox",
        None,
        ("t2v", "v2v"),
        V10,
        tiny="t2v",
        num_frames=9,
        max_frames=17,
        description="tiny random CogVideoX 1.0 (2b layout: sin-cos positions)",
    ),
    card(
        "tiny-cogvideox-i2v",
        None,
        ("i2v",),
        V10,
        tiny="i2v",
        num_frames=9,
        max_frames=17,
        description="tiny random CogVideoX 1.0 I2V (5b-I2V layout: learned positions)",
    ),
    card(
        "tiny-cogvideox1.5",
        None,
        ("t2v",),
        V15,
        tiny="1.5",
        num_frames=17,
        max_frames=33,
        description="tiny random CogVideoX 1.5 (temporal patch 2)",
    ),
)
FAMILY = CogVideoXFamily(CARDS)
