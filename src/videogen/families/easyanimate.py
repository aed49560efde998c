"""EasyAnimate V5.1 (Alibaba PAI, 12B): text-to-video, and image-to-video / first-last-frame on the InP checkpoint.

Rules and what videogen does about the pipelines' surprises:

- num_frames is 4k+1 (the MagVit VAE compresses time ×4); the models are trained on up to 49 frames at 8 fps
  (diffusers' docs: "1~49 frames ... work best at this value"), so 49 is the most the cards take. Height and
  width are multiples of 16 (the pipelines raise otherwise).
- Image-to-video and first-last-frame run `EasyAnimateInpaintPipeline`, which takes no image: as diffusers' docs
  do, videogen builds its `video` (the image repeated over the frames, the last image as the last frame) and its
  `mask_video` (0 where a frame is kept, 255 where it is generated) with the pipeline module's own
  `get_image_to_video_latent`, at the spec's size.
- `guidance_scale` > 1 runs classifier-free guidance, and the pipelines then fail without a negative prompt
  (diffusers 0.42.1 iterates over None): without one, videogen passes the empty prompt "". At 1.0 a
  `negative_prompt` is refused (never read).
- Step caches: the transformer takes no diffusers cache hooks (it is not a CacheMixin); cache-dit's DBCache has
  an EasyAnimate adapter. The pipelines load no LoRAs and the transformer declares no context-parallel plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import DIT_CACHE_METHODS_CACHEDIT, check_negative_prompt_has_guidance
from .base import NO_MEDIA, Checked, Family

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules
    from .card import ModelCard

#: the frames the V5.1 models were trained on (diffusers' docs)
MAX_FRAMES = 49


class EasyAnimateFamily(Family):
    name = "easyanimate"
    pipelines = {
        "t2v": "EasyAnimatePipeline",
        "i2v": "EasyAnimateInpaintPipeline",
        "flf2v": "EasyAnimateInpaintPipeline",
    }
    card_defaults = {
        # the docs' call: 49 frames at 8 fps, 50 steps, guidance 6; the pipelines' 512×512 (sides 256 to 1024)
        "height": 512,
        "width": 512,
        "num_frames": MAX_FRAMES,
        "fps": 8,
        "steps": 50,
        "guidance_scale": 6.0,
        "frame_rule": (4, 1),
        "size_multiple": 16,
        "max_frames": MAX_FRAMES,
        # the docs' recommended dtype
        "dtypes": {"default": "float16"},
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 9, "fps": 8, "steps": 2}
    flow_matching = True
    scheduler = {"_class_name": "FlowMatchEulerDiscreteScheduler"}
    # step caches (VideoSpec.cache), measured on the tiny model (tests/families/test_easyanimate.py)
    cache_methods = {"dbcache": DIT_CACHE_METHODS_CACHEDIT["dbcache"]}
    cache_refused = dict.fromkeys(
        ("fbc", "taylorseer", "magcache", "pab", "fastercache"),
        "EasyAnimateTransformer3DModel takes no diffusers cache hooks in 0.42.1 (it is not a CacheMixin: no "
        "enable_cache); cache-dit's 'dbcache' runs on it",
    )
    cache_auto = ("dbcache",)

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        """A negative prompt needs classifier-free guidance on (guidance_scale above 1)."""
        checked = super().check(spec, card, rules, media)  # the rules every family shares
        check_negative_prompt_has_guidance(spec, card, 6.0)
        return checked

    def call_kwargs(
        self, spec: CompleteSpec, card: ModelCard, media: Mapping[str, Any], params: AbstractSet[str]
    ) -> dict[str, Any]:
        """An empty negative prompt under guidance (the pipelines fail without one); the inpaint pipeline's masked
        video from the image (and last image), as diffusers' docs build it."""
        kwargs = super().call_kwargs(spec, card, media, params)
        if float(spec.guidance_scale or 1.0) > 1.0:
            kwargs.setdefault("negative_prompt", "")
        if media.get("image") is not None and "mask_video" in params:
            from diffusers.pipelines.easyanimate.pipeline_easyanimate_inpaint import get_image_to_video_latent

            size = (spec.height, spec.width)
            video, mask = get_image_to_video_latent([media["image"]], media.get("last_image"), spec.num_frames, size)
            kwargs.update(video=video, mask_video=mask)
        return kwargs

    def build_tiny(self, variant: str, folder: Path) -> None:
        """Tiny EasyAnimate pipelines: "t2v" and "inp" (the transformer takes the masked video's latents and mask:
        16 + 16 + 1 channels, as the InP checkpoints)."""
        import diffusers
        from diffusers import AutoencoderKLMagvit, EasyAnimateTransformer3DModel, FlowMatchEulerDiscreteScheduler
        from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

        from . import tiny_parts

        if variant not in ("t2v", "inp"):
            raise ValueError(f"unknown tiny easyanimate variant {variant!r}")
        text = {
            "vocab_size": 128,
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            "bos_token_id": None,
            "eos_token_id": 2,
            "pad_token_id": 0,
        }
        qwen = Qwen2VLConfig(
            text_config=text,
            vision_config={"depth": 1, "embed_dim": 16, "hidden_size": 16, "num_heads": 2},
            vocab_size=128,
            image_token_id=125,
            video_token_id=126,
            vision_start_token_id=123,
            vision_end_token_id=124,
        )
        up, down = "SpatialTemporalUpBlock3D", "SpatialTemporalDownBlock3D"
        vae = AutoencoderKLMagvit(
            down_block_types=("SpatialDownBlock3D", down, down, down),
            up_block_types=("SpatialUpBlock3D", up, up, up),
            block_out_channels=(8, 8, 8, 8),
            latent_channels=16,
            layers_per_block=1,
            norm_num_groups=2,
            spatial_group_norm=False,
        )
        # the inpaint pipeline reads `cache_mag_vae` from the VAE's config, which the checkpoints' configs carry
        # (EasyAnimate's V5.1 config: true) and the class doesn't register
        vae.register_to_config(cache_mag_vae=True)
        cls = diffusers.EasyAnimateInpaintPipeline if variant == "inp" else diffusers.EasyAnimatePipeline
        cls(
            transformer=EasyAnimateTransformer3DModel(
                num_attention_heads=2,
                attention_head_dim=16,
                in_channels=33 if variant == "inp" else 16,
                out_channels=16,
                time_embed_dim=2,
                text_embed_dim=16,
                num_layers=2,  # cache-dit's DBCache reuses blocks after the first
                sample_width=4,
                sample_height=4,
                patch_size=2,
            ),
            vae=vae,
            text_encoder=Qwen2VLForConditionalGeneration(qwen).eval(),
            tokenizer=tiny_parts.qwen2_tokenizer(),
            scheduler=FlowMatchEulerDiscreteScheduler(),
        ).save_pretrained(folder)


card = EasyAnimateFamily.card
CARDS = (
    card(
        "easyanimate-v5.1-12b",
        "alibaba-pai/EasyAnimateV5.1-12b-zh-diffusers",
        ("t2v",),
        arch="easyanimate-v5.1-12b",
        description="EasyAnimate V5.1 text-to-video, 12B (Qwen2-VL text encoder); up to 49 frames at 8 fps",
    ),
    card(
        "easyanimate-v5.1-12b-inp",
        "alibaba-pai/EasyAnimateV5.1-12b-zh-InP-diffusers",
        ("i2v", "flf2v"),
        arch="easyanimate-v5.1-12b-inp",
        description="EasyAnimate V5.1 image-to-video and first-last-frame (InP), 12B; up to 49 frames at 8 fps",
    ),
    # tiny random-weight models, built offline (videogen.families.tiny)
    card("tiny-easyanimate", None, ("t2v",), tiny="t2v", description="tiny random EasyAnimate T2V (tests, demo)"),
    card(
        "tiny-easyanimate-inp", None, ("i2v", "flf2v"), tiny="inp", description="tiny random EasyAnimate InP I2V/FLF2V"
    ),
)
FAMILY = EasyAnimateFamily(CARDS)
