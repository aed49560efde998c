"""I2VGen-XL (ali-vilab): image-to-video with a prompt, `I2VGenXLPipeline` (deprecated in diffusers).

Rules: height and width multiples of 8; any frame count. `target_fps` (the frame-rate conditioning)
follows `spec.fps` unless `extra["target_fps"]` sets it; `decode_chunk_size` keeps the pipeline
default (1) unless set in `extra`.

Known breakage: the pipeline's default `clip_skip=1` crashes on transformers >= 5.6 (`CLIPTextModel`
has no `.text_model`). videogen passes `clip_skip=None` unless the user sets `extra["clip_skip"]`;
then the call runs with `modelscope.clip_skip_alias`, which makes the pipeline's own clip_skip code
work. The pipeline samples the image latents from the global torch RNG: `uses_global_rng` (generation.py
seeds it with the spec's seed under a lock). It has no step callback: generation.py counts scheduler steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..catalog import ModelCard
from ..errors import SpecError
from .base import Family, size_unknown, unet_size
from .modelscope import check_clip_skip, clip_skip_alias

if TYPE_CHECKING:
    from ..spec import VideoSpec
    from ..validate import Rules


def _card(name: str, repo: str | None, **kw: Any) -> ModelCard:
    base: dict[str, Any] = {"height": 704, "width": 1280, "num_frames": 16, "fps": 16, "steps": 50,
                            "guidance_scale": 9.0, "frame_rule": None, "size_multiple": 8,
                            "dtypes": {"default": "float16"}}
    base.update(kw)
    return ModelCard(name=name, family="i2vgen_xl", repo=repo, tasks=("i2v",), **base)


CARDS = (
    _card("i2vgen-xl", "ali-vilab/i2vgen-xl", variant="fp16", arch="i2vgen-xl",
          description="I2VGen-XL image-to-video with a prompt; 704x1280, 16 frames at 16 fps"),
    # tiny random-weight model, built offline (videogen.testing)
    _card("tiny-i2vgen-xl", None, tiny="i2v", height=32, width=32, num_frames=4, steps=2,
          description="tiny random I2VGen-XL"),
)


class I2VGenXLFamily(Family):
    name = "i2vgen_xl"
    pipelines = MappingProxyType({"i2v": "I2VGenXLPipeline"})
    cards = CARDS
    uses_global_rng = True

    def check(self, spec: VideoSpec, card: ModelCard, rules: Rules) -> VideoSpec:
        spec = super().check(spec, card, rules)  # the rules every family shares
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
        return spec

    def call_kwargs(self, spec: VideoSpec, card: ModelCard, media: Mapping[str, Any],
                    params: set[str]) -> dict[str, Any]:
        kwargs = super().call_kwargs(spec, card, media, params)
        kwargs.setdefault("target_fps", int(spec.fps))
        kwargs.setdefault("clip_skip", None)  # the pipeline's default (1) crashes on transformers >= 5.6
        return kwargs

    def call_context(self, pipe: Any, spec: VideoSpec) -> AbstractContextManager[Any]:
        return clip_skip_alias(pipe, spec.extra.get("clip_skip"))

    def card_for_pipeline(self, ref: str, class_name: str, index: Mapping[str, Any],
                          read_config: Callable[[str], dict]) -> ModelCard:
        """The catalog card's defaults when the UNet is its architecture; else the UNet's sample_size × the
        VAE's scale; else no default size (`size_unknown`)."""
        card = replace(CARDS[0], name=ref, repo=ref, variant=None, arch=None,
                       description=f"{class_name} (not in the catalog)")
        if self.known_card(class_name, index, read_config) is not None:
            return card
        size = unet_size(read_config)
        return replace(card, height=size, width=size) if size else size_unknown(card, ("height", "width"))

    def build_tiny(self, variant: str, folder: Path) -> None:
        build_tiny_i2vgen_xl(variant, folder)


def build_tiny_i2vgen_xl(variant: str, folder: Path) -> None:
    """The tiny `I2VGenXLPipeline` ("i2v"): diffusers' test UNet, a 3-block VAE (small latents: fast)."""
    if variant != "i2v":
        raise ValueError(f"unknown tiny i2vgen_xl variant {variant!r}")
    from diffusers import AutoencoderKL, DDIMScheduler, I2VGenXLPipeline
    from diffusers.models.unets import I2VGenXLUNet
    from transformers import CLIPTextModel, CLIPVisionModelWithProjection

    from .. import _tiny

    unet = I2VGenXLUNet(
        block_out_channels=(4, 8), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"), up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        cross_attention_dim=4, attention_head_dim=4, num_attention_heads=None, norm_num_groups=2)
    text_encoder = CLIPTextModel(_tiny.clip_text_config(hidden=4, num_attention_heads=2)).eval()
    image_encoder = CLIPVisionModelWithProjection(
        _tiny.clip_vision_config(hidden=4, image_size=32, patch_size=4, num_attention_heads=2,
                                 intermediate_size=16, projection_dim=4)).eval()
    vae = AutoencoderKL(block_out_channels=(8, 8, 8), in_channels=3, out_channels=3,
                        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
                        latent_channels=4, sample_size=32, norm_num_groups=2)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False)
    I2VGenXLPipeline(vae=vae, text_encoder=text_encoder, tokenizer=_tiny.clip_tokenizer(),
                     image_encoder=image_encoder, feature_extractor=_tiny.clip_image_processor(32),
                     unet=unet, scheduler=scheduler).save_pretrained(folder)


FAMILY = I2VGenXLFamily()
