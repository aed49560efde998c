"""I2VGen-XL (ali-vilab): image-to-video with a prompt, `I2VGenXLPipeline` (deprecated in diffusers).

Rules: height and width multiples of 8; any frame count. `target_fps` (the frame-rate conditioning)
follows `spec.fps` unless `extra["target_fps"]` sets it; `decode_chunk_size` keeps the pipeline
default (1) unless set in `extra`.

Known breakage: the pipeline's default `clip_skip=1` crashes on transformers >= 5.6 (`CLIPTextModel`
has no `.text_model`). videogen passes `clip_skip=None` unless the user sets `extra["clip_skip"]`;
then the call runs with `_common.clip_skip_alias`, which makes the pipeline's own clip_skip code
work. The pipeline samples the image latents from the global torch RNG: `uses_global_rng` (generation.py
seeds it with the spec's seed under a lock). It has no step callback: generation.py counts scheduler steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ._common import (
    UNET_CACHE_AUTO,
    UNET_CACHE_METHODS,
    check_clip_skip,
    check_clip_skip_depth,
    clip_skip_alias,
    unet_card,
)
from .base import NO_MEDIA, Checked, Family
from .card import ModelCard

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules


class I2VGenXLFamily(Family):
    name = "i2vgen_xl"
    # step cache (VideoSpec.cache): DeepCache on the UNet (videogen.speed.deepcache; defaults and their source in
    # families/_common.py); the DiT cache hooks don't apply to a UNet
    cache_methods = UNET_CACHE_METHODS
    cache_auto = UNET_CACHE_AUTO
    pipelines = MappingProxyType({"i2v": "I2VGenXLPipeline"})
    card_defaults = {
        "height": 704,
        "width": 1280,
        "num_frames": 16,
        "fps": 16,
        "steps": 50,
        "guidance_scale": 9.0,
        "frame_rule": None,
        "size_multiple": 8,
        "dtypes": {"default": "float16"},
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 4, "steps": 2}
    #: what ali-vilab/i2vgen-xl ships (the tiny builder writes the same)
    scheduler = {"_class_name": "DDIMScheduler", "beta_schedule": "scaled_linear", "clip_sample": False}
    uses_global_rng = True

    def check_components(self, spec: CompleteSpec, card: ModelCard, configs: Mapping[str, Mapping[str, Any]]) -> None:
        """clip_skip below the CLIP text encoder's depth, from its config (before load)."""
        check_clip_skip_depth(spec.extra.get("clip_skip"), configs.get("text_encoder", {}).get("num_hidden_layers"))

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        spec, media = super().check(spec, card, rules, media)  # the rules every family shares
        check_clip_skip(spec.extra.get("clip_skip"))
        target = spec.extra.get("target_fps")
        if target is not None and (isinstance(target, bool) or not isinstance(target, int) or target < 1):
            raise SpecError(
                f"extra['target_fps']={target!r} must be a whole number of frames per second, at least 1 "
                f"(e.g. extra={{'target_fps': {card.fps}}}); leave it out to follow fps",
                field="extra",
                valid=card.fps,
            )
        chunk = spec.extra.get("decode_chunk_size")
        if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
            raise SpecError(
                f"extra['decode_chunk_size']={chunk!r} must be a whole number of frames decoded at once, "
                "at least 1 (e.g. extra={'decode_chunk_size': 1})",
                field="extra",
                valid=1,
            )
        return Checked(spec, media)

    def call_kwargs(
        self, spec: CompleteSpec, card: ModelCard, media: Mapping[str, Any], params: AbstractSet[str]
    ) -> dict[str, Any]:
        kwargs = super().call_kwargs(spec, card, media, params)
        kwargs.setdefault("target_fps", spec.fps)
        kwargs.setdefault("clip_skip", None)  # the pipeline's default (1) crashes on transformers >= 5.6
        return kwargs

    def call_context(self, pipe: Any, spec: CompleteSpec) -> AbstractContextManager[Any]:
        return clip_skip_alias(pipe, spec.extra.get("clip_skip"))

    def card_for_pipeline(
        self, ref: str, class_name: str, index: Mapping[str, Any], read_config: Callable[[str], dict]
    ) -> ModelCard:
        """The catalog card's defaults when the UNet is its architecture; else the UNet's sample_size × the
        VAE's scale; else no default size (`size_unknown`)."""
        return unet_card(self, self.card_named("i2vgen-xl"), ref, class_name, index, read_config)

    def build_tiny(self, variant: str, folder: Path) -> None:
        """The tiny `I2VGenXLPipeline` ("i2v"): diffusers' test UNet, a 3-block VAE (small latents: fast)."""
        if variant != "i2v":
            raise ValueError(f"unknown tiny i2vgen_xl variant {variant!r}")
        from diffusers import I2VGenXLPipeline
        from diffusers.models.unets import I2VGenXLUNet
        from transformers import CLIPTextModel, CLIPVisionModelWithProjection

        from . import tiny_parts

        unet = I2VGenXLUNet(
            block_out_channels=(4, 8),
            layers_per_block=1,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
            up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
            cross_attention_dim=4,
            attention_head_dim=4,
            num_attention_heads=None,
            norm_num_groups=2,
        )
        text_encoder = CLIPTextModel(tiny_parts.clip_text_config(hidden=4, num_attention_heads=2)).eval()
        image_encoder = CLIPVisionModelWithProjection(
            tiny_parts.clip_vision_config(
                hidden=4, image_size=32, patch_size=4, num_attention_heads=2, intermediate_size=16, projection_dim=4
            )
        ).eval()
        I2VGenXLPipeline(
            vae=tiny_parts.sd_vae(),
            text_encoder=text_encoder,
            tokenizer=tiny_parts.clip_tokenizer(),
            image_encoder=image_encoder,
            feature_extractor=tiny_parts.clip_image_processor(32),
            unet=unet,
            scheduler=tiny_parts.ddim_scheduler(),
        ).save_pretrained(folder)


card = I2VGenXLFamily.card
CARDS = (
    card(
        "i2vgen-xl",
        "ali-vilab/i2vgen-xl",
        ("i2v",),
        variant="fp16",
        arch="i2vgen-xl",
        description="I2VGen-XL image-to-video with a prompt; 704x1280, 16 frames at 16 fps",
    ),
    # tiny random-weight model, built offline (videogen.families.tiny)
    card("tiny-i2vgen-xl", None, ("i2v",), tiny="i2v", description="tiny random I2VGen-XL"),
)
FAMILY = I2VGenXLFamily(CARDS)
