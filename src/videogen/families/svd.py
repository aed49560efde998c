"""Stable Video Diffusion (Stability AI): image-to-video from an image alone, `StableVideoDiffusionPipeline`.

No text encoder: `accepts_prompt = False`, so a prompt or negative prompt is a SpecError.
Rules: height and width multiples of 8; any frame count up to what the checkpoint was trained on
(14 for img2vid, 25 for img2vid-xt).

Guidance: SVD ramps the guidance linearly over the frames from `min_guidance_scale` (first frame,
default 1.0, settable in `extra`) to `max_guidance_scale` (last frame); `spec.guidance_scale` is that
maximum (default 3.0, the pipeline's). It must be at least min_guidance_scale. The pipeline has no
`guidance_scale` parameter, so none is passed; `extra["max_guidance_scale"]` is refused (use
guidance_scale).

Micro-conditioning goes through `extra`: `fps`, `motion_bucket_id`, `noise_aug_strength`,
`decode_chunk_size`. SVD's `fps` is the frame rate the model is *conditioned* on (it was trained on
fps - 1), not the playback rate: `spec.fps` (default 7) only sets the written video's frame rate,
and the pipeline's conditioning fps keeps its default (7) unless `extra={"fps": ...}` sets it. The two
are independent on purpose: changing the playback speed of a clip must not change its content.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ._common import UNET_CACHE_AUTO, UNET_CACHE_METHODS, unet_card
from .base import NO_MEDIA, Checked, Family
from .card import ModelCard

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules

MIN_GUIDANCE = 1.0  # StableVideoDiffusionPipeline's min_guidance_scale default
#: extra key → (minimum, whole number only, example). `fps` is micro-conditioning, not the playback rate: videogen
#: doesn't reserve it, so it stays settable in `extra`.
_MICRO = {
    "fps": (1, True, 7),
    "motion_bucket_id": (0, True, 127),
    "noise_aug_strength": (0.0, False, 0.02),
    "decode_chunk_size": (1, True, 8),
    "min_guidance_scale": (0.0, False, MIN_GUIDANCE),
}


class SVDFamily(Family):
    name = "svd"
    # step cache (VideoSpec.cache): DeepCache on the UNet (videogen.speed.deepcache; defaults and their source in
    # families/_common.py); the DiT cache hooks don't apply to a UNet
    cache_methods = UNET_CACHE_METHODS
    cache_auto = UNET_CACHE_AUTO
    pipelines = MappingProxyType({"i2v": "StableVideoDiffusionPipeline"})
    #: `num_frames` and `max_frames` are the frames the checkpoint was trained on (14, or 25 for XT)
    card_defaults = {
        "height": 576,
        "width": 1024,
        "fps": 7,
        "steps": 25,
        "guidance_scale": 3.0,
        "frame_rule": None,
        "size_multiple": 8,
        "dtypes": {"default": "float16"},
    }
    tiny_defaults = {"height": 32, "width": 32, "steps": 2}
    #: what the stabilityai repos ship (the tiny builder writes the same)
    scheduler = {
        "_class_name": "EulerDiscreteScheduler",
        "prediction_type": "v_prediction",
        "use_karras_sigmas": True,
        "timestep_type": "continuous",
        "sigma_max": 700.0,
        "sigma_min": 0.002,
    }
    accepts_prompt = False

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        spec, media = super().check(spec, card, rules, media)  # the rules every family shares
        if "max_guidance_scale" in spec.extra:
            raise SpecError(
                f"extra['max_guidance_scale'] is set from guidance_scale for {card.name}; pass "
                f"guidance_scale={spec.extra['max_guidance_scale']!r} instead (SVD's guidance ramps from "
                "min_guidance_scale on the first frame to guidance_scale on the last)",
                field="extra",
            )
        for key, (minimum, whole, example) in _MICRO.items():
            value = spec.extra.get(key)
            if value is None:
                continue
            kind = (int,) if whole else (int, float)
            if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
                what = "a whole number" if whole else "a number"
                raise SpecError(
                    f"extra[{key!r}]={value!r} must be {what}, at least {minimum} (e.g. extra={{{key!r}: {example}}})",
                    field="extra",
                    valid=example,
                )
        image = media.get("image")
        if image is not None and min(image.size) < 2:
            raise SpecError(
                f"image: {card.name} gets a {image.size[0]}x{image.size[1]} image, and its pipeline blurs the image "
                "with a 3-pixel kernel (reflect padding) before resizing it to the encoder's 224x224, which needs "
                f"at least 2 pixels per side; pass an image at least 2x2, e.g. {spec.width}x{spec.height} "
                "(the video's size)",
                field="image",
            )
        low = float(spec.extra.get("min_guidance_scale", MIN_GUIDANCE))
        guidance = spec.guidance_scale
        if spec.num_frames == 1 and guidance > 1 >= low:
            # the one frame's guidance is min_guidance_scale (no second branch) while the image was encoded for
            # guidance_scale's two: diffusers' SVD pipeline then fails mid-call (found by the edge property test)
            spec = spec.replace(
                num_frames=rules.fix(
                    "num_frames",
                    1,
                    2,
                    f"SVD ramps guidance over the frames from min_guidance_scale ({low}) to guidance_scale "
                    f"({guidance}); one frame gets only min_guidance_scale, which the pipeline can't mix with "
                    "guidance_scale's two branches (or pass guidance_scale=1.0 for one frame)",
                )
            )
        if guidance < low:
            spec = spec.replace(
                guidance_scale=rules.fix(
                    "guidance_scale",
                    guidance,
                    low,
                    f"SVD ramps guidance from min_guidance_scale ({low}) on the first frame to guidance_scale "
                    "on the last, so guidance_scale must be at least min_guidance_scale",
                )
            )
        return Checked(spec, media)

    def call_kwargs(
        self, spec: CompleteSpec, card: ModelCard, media: Mapping[str, Any], params: AbstractSet[str]
    ) -> dict[str, Any]:
        kwargs = super().call_kwargs(spec, card, media, params)
        kwargs.pop("guidance_scale", None)  # not a parameter of the pipeline
        kwargs["max_guidance_scale"] = spec.guidance_scale
        return kwargs

    def card_for_pipeline(
        self, ref: str, class_name: str, index: Mapping[str, Any], read_config: Callable[[str], dict]
    ) -> ModelCard:
        """An SVD checkpoint outside the catalog: frame count from its UNet config; size from the catalog card
        whose architecture it matches, else the UNet's sample_size × the VAE's scale (the pipeline's own
        default), else none (`size_unknown`)."""
        frames = read_config("unet").get("num_frames")
        template = self.card_named("svd-img2vid-xt" if frames == 25 else "svd-img2vid")
        if isinstance(frames, int) and frames > 0:
            template = replace(template, num_frames=frames, max_frames=frames)
        return unet_card(self, template, ref, class_name, index, read_config)

    def build_tiny(self, variant: str, folder: Path) -> None:
        """The tiny `StableVideoDiffusionPipeline` ("i2v"), near diffusers' test configs (smaller, faster).

        The image encoder takes 224×224 images: the pipeline resizes a PIL image to 224 before encoding it.
        """
        if variant != "i2v":
            raise ValueError(f"unknown tiny svd variant {variant!r}")
        from diffusers import (
            AutoencoderKLTemporalDecoder,
            EulerDiscreteScheduler,
            StableVideoDiffusionPipeline,
            UNetSpatioTemporalConditionModel,
        )
        from transformers import CLIPVisionModelWithProjection

        from . import tiny_parts

        unet = UNetSpatioTemporalConditionModel(
            block_out_channels=(32, 64),
            layers_per_block=1,
            sample_size=32,
            in_channels=8,
            out_channels=4,
            down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
            up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
            cross_attention_dim=32,
            num_attention_heads=(2, 4),
            projection_class_embeddings_input_dim=96,
            addition_time_embed_dim=32,
            num_frames=8,
        )
        vae = AutoencoderKLTemporalDecoder(
            block_out_channels=[32, 32, 32],
            in_channels=3,
            out_channels=3,
            down_block_types=["DownEncoderBlock2D"] * 3,
            layers_per_block=1,
            latent_channels=4,
        )  # ×4 smaller latents: fast
        image_encoder = CLIPVisionModelWithProjection(
            tiny_parts.clip_vision_config(hidden=32, image_size=224, patch_size=32, projection_dim=32)
        ).eval()
        scheduler = EulerDiscreteScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            interpolation_type="linear",
            num_train_timesteps=1000,
            prediction_type="v_prediction",
            sigma_max=700.0,
            sigma_min=0.002,
            steps_offset=1,
            timestep_spacing="leading",
            timestep_type="continuous",
            use_karras_sigmas=True,
        )
        StableVideoDiffusionPipeline(
            vae=vae,
            image_encoder=image_encoder,
            unet=unet,
            scheduler=scheduler,
            feature_extractor=tiny_parts.clip_image_processor(224),
        ).save_pretrained(folder)


card = SVDFamily.card
CARDS = (
    card(
        "svd-img2vid",
        "stabilityai/stable-video-diffusion-img2vid",
        ("i2v",),
        num_frames=14,
        max_frames=14,
        variant="fp16",
        arch="svd",
        description="Stable Video Diffusion image-to-video, 14 frames at 576x1024; no prompt",
    ),
    card(
        "svd-img2vid-xt",
        "stabilityai/stable-video-diffusion-img2vid-xt",
        ("i2v",),
        num_frames=25,
        max_frames=25,
        variant="fp16",
        arch="svd-xt",
        description="Stable Video Diffusion XT image-to-video, 25 frames at 576x1024; no prompt",
    ),
    # tiny random-weight model, built offline (videogen.families.tiny)
    card(
        "tiny-svd",
        None,
        ("i2v",),
        tiny="i2v",
        num_frames=4,
        max_frames=8,
        description="tiny random Stable Video Diffusion",
    ),
)
FAMILY = SVDFamily(CARDS)
