"""HunyuanVideo 1.5 (Tencent, 8.3B): text-to-video and image-to-video.

Rules and what videogen does about the pipelines' surprises:

- num_frames is 4k+1 (the VAE compresses time ×4); height and width are multiples of 16 (VAE ×16, patch 1).
- Guidance lives in the pipeline's `guider` component (a `ClassifierFreeGuidance` whose config holds the
  checkpoint's scale: 6.0, or 1.0 for the CFG-distilled checkpoints): `__call__` takes no `guidance_scale`.
  videogen runs each call with the guider's scale set to `guidance_scale` (`guider.new`, put back after the
  call). At 1.0 classifier-free guidance is off and the pipeline never encodes a negative prompt: a
  `negative_prompt` with guidance_scale 1.0 is refused (it would be silently ignored).
- The image-to-video pipeline takes no height or width: it crops the image to the size *bucket* of the
  transformer's `target_size` (640 for 480p, 960 for 720p) nearest its aspect ratio. Its cards list those
  buckets as their only sizes (`ModelCard.sizes`), so `fit="follow"` picks the one the image's aspect ratio
  maps to, a size the pipeline would not produce is refused (or snapped) before load, and the video is the size
  the spec says.
- No step callback: videogen counts the scheduler's steps. No LoRA loader, no context-parallel plan.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ._common import DIT_CACHE_HOOK_SETTINGS, DIT_CACHE_METHODS
from .base import NO_MEDIA, Checked, Family

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules
    from .card import ModelCard


def buckets(target_size: int, patch: int) -> tuple[tuple[int, int], ...]:
    """The (height, width) sizes the image-to-video pipeline produces at `target_size`: the crop sizes of
    HunyuanVideo15ImageProcessor (sides in multiples of `patch`, about target_size² pixels, aspect at most 4:1)
    that its nearest-ratio choice maps to themselves (the others are never chosen for any image)."""
    count = round((target_size / patch) ** 2)
    sizes: list[tuple[int, int]] = []
    wide, high = count, 1
    while wide > 0:
        if max(wide, high) / min(wide, high) <= 4.0:
            sizes.append((wide * patch, high * patch))
        if (high + 1) * wide <= count:
            high += 1
        else:
            wide -= 1
    ratios = [round(h / w, 5) for h, w in sizes]

    def chosen(height: int, width: int) -> tuple[int, int]:
        aspect = height / width
        gaps = [(i, r - aspect) for i, r in enumerate(ratios)]
        side = [(i, g) for i, g in gaps if (g <= 0 if aspect >= 1 else g >= 0)]
        return sizes[min(side, key=lambda pair: abs(pair[1]))[0]]

    return tuple(hw for hw in sizes if chosen(*hw) == hw)


#: the diffusers docs run HunyuanVideo 1.5 in bfloat16
HV15_DTYPES = {"default": "bfloat16"}
#: the transformer's `target_size` per resolution (diffusers' conversion script)
TARGET_SIZE = {"480p": 640, "720p": 960}
#: FlowMatchEulerDiscreteScheduler shift per checkpoint kind (diffusers' conversion script)
SHIFT = {"480p_t2v": 5.0, "480p_i2v": 5.0, "720p_t2v": 9.0, "720p_i2v": 7.0}
#: tiny models: the transformer's parts whose random weights are scaled up (build_tiny)
TINY_SCALED = ("context_embedder", "proj_out", "norm_out", "time_embed", "cond_type")
#: tiny models: a VAE of ×4 in space and ×2 in time, target size 32
TINY_TARGET, TINY_PATCH = 32, 4


class HunyuanVideo15Family(Family):
    name = "hunyuanvideo15"
    pipelines = {"t2v": "HunyuanVideo15Pipeline", "i2v": "HunyuanVideo15ImageToVideoPipeline"}
    card_defaults = {
        "height": 480,
        "width": 848,
        "num_frames": 121,
        "fps": 24,
        "steps": 50,
        "guidance_scale": 6.0,
        "frame_rule": (4, 1),
        "size_multiple": 16,
        "dtypes": HV15_DTYPES,
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 9, "fps": 8, "steps": 2, "size_multiple": TINY_PATCH}
    flow_matching = True
    scheduler = {"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 5.0}
    # step caches (VideoSpec.cache): TaylorSeer (modules named by pattern), PAB and FasterCache (attention
    # modules) run on it (measured on the tiny model: they skip, the video changes a little)
    cache_methods = {m: DIT_CACHE_METHODS[m] for m in ("taylorseer", "pab", "fastercache")}
    cache_hook_settings = DIT_CACHE_HOOK_SETTINGS
    cache_refused = {
        "fbc": "First Block Cache finds the blocks through diffusers' block registry, which has no HunyuanVideo 1.5 "
        "block in diffusers 0.42.1 (the hook fails)",
        "magcache": "MagCache finds the blocks through diffusers' block registry, which has no HunyuanVideo 1.5 "
        "block in diffusers 0.42.1 (the hook fails)",
        "dbcache": "cache-dit has no adapter for HunyuanVideo 1.5",
    }
    cache_auto = ("taylorseer",)

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        """A negative prompt needs classifier-free guidance on (guidance_scale other than 1.0)."""
        checked = super().check(spec, card, rules, media)  # the rules every family shares
        scale = float(spec.guidance_scale if spec.guidance_scale is not None else card.guidance_scale)
        if spec.negative_prompt is not None and math.isclose(scale, 1.0):
            raise SpecError(
                f"negative_prompt is ignored by {card.name} at guidance_scale=1.0: classifier-free guidance is off "
                "and the pipeline never encodes a negative prompt. Pass guidance_scale=6.0 with the negative "
                "prompt for real CFG (twice the compute), or leave negative_prompt out",
                field="negative_prompt",
                valid=6.0,
            )
        return checked

    def call_context(self, pipe: Any, spec: CompleteSpec) -> AbstractContextManager[Any]:
        """The call runs with the guider's scale set to the spec's guidance_scale (put back after)."""
        return _guidance(pipe, float(spec.guidance_scale or 1.0))

    def build_tiny(self, variant: str, folder: Path) -> None:
        """Tiny HunyuanVideo 1.5 pipelines: "t2v" and "i2v" (a SigLIP image encoder), target size 32."""
        import diffusers
        from diffusers import AutoencoderKLHunyuanVideo15, FlowMatchEulerDiscreteScheduler
        from diffusers import HunyuanVideo15Transformer3DModel as Transformer
        from diffusers.guiders import ClassifierFreeGuidance
        from transformers import ByT5Tokenizer, T5Config, T5EncoderModel

        from . import tiny_parts

        image_dim = 12
        components: dict[str, Any] = {
            "tokenizer": tiny_parts.qwen2_tokenizer(),
            "text_encoder": tiny_parts.qwen2_5_vl_text_encoder(16),
            "tokenizer_2": ByT5Tokenizer(),
            "text_encoder_2": T5EncoderModel(T5Config(**tiny_parts.t5_config(16, vocab_size=384, num_layers=1))).eval(),
            "vae": AutoencoderKLHunyuanVideo15(
                latent_channels=4,
                block_out_channels=(16, 16),
                layers_per_block=1,
                spatial_compression_ratio=TINY_PATCH,
                temporal_compression_ratio=2,
                downsample_match_channel=False,
                upsample_match_channel=False,
            ),
            "scheduler": FlowMatchEulerDiscreteScheduler(shift=5.0),
            "guider": ClassifierFreeGuidance(guidance_scale=6.0),
            "transformer": Transformer(
                in_channels=9,
                out_channels=4,
                num_attention_heads=2,
                attention_head_dim=8,
                num_layers=1,
                num_refiner_layers=1,
                mlp_ratio=2.0,
                text_embed_dim=16,
                text_embed_2_dim=16,
                image_embed_dim=image_dim,
                rope_axes_dim=(2, 2, 4),
                target_size=TINY_TARGET,
                task_type=variant,
            ),
        }
        # random tiny weights barely carry the text into the video (a prompt moved it by half an 8-bit level): the
        # text path, the timestep embedding and the output projection scaled up ×6 make the prompt and the guidance
        # visible in the frames (tens of levels), so comparing videos compares what the transformer was given
        import torch

        with torch.no_grad():
            for name, parameter in components["transformer"].named_parameters():
                if parameter.dim() >= 2 and name.startswith(TINY_SCALED):
                    parameter.mul_(6.0)
        if variant == "t2v":
            cls = diffusers.HunyuanVideo15Pipeline
        elif variant == "i2v":
            from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

            vision = SiglipVisionConfig(
                hidden_size=image_dim,
                intermediate_size=16,
                num_hidden_layers=1,
                num_attention_heads=2,
                image_size=32,
                patch_size=8,
            )
            components["image_encoder"] = SiglipVisionModel(vision).eval()
            components["feature_extractor"] = SiglipImageProcessor(size={"height": 32, "width": 32})
            cls = diffusers.HunyuanVideo15ImageToVideoPipeline
        else:
            raise ValueError(f"unknown tiny hunyuanvideo15 variant {variant!r}")
        cls(**components).save_pretrained(folder)


@contextlib.contextmanager
def _guidance(pipe: Any, scale: float) -> Iterator[None]:
    guider = getattr(pipe, "guider", None)
    if guider is None or math.isclose(float(guider.guidance_scale), scale):
        yield
        return
    pipe.guider = guider.new(guidance_scale=scale)
    try:
        yield
    finally:
        pipe.guider = guider


def _resolution(kind: str, distilled: bool = False) -> dict[str, Any]:
    """What a checkpoint kind ("480p_t2v", ...) changes on the family's defaults."""
    resolution, task = kind.split("_")
    fields: dict[str, Any] = {"traits": {"scheduler": {**HunyuanVideo15Family.scheduler, "shift": SHIFT[kind]}}}
    if resolution == "720p":
        fields.update(height=720, width=1280)
    if task == "i2v":
        fields["sizes"] = buckets(TARGET_SIZE[resolution], 16)
    if distilled:
        fields["guidance_scale"] = 1.0
    return fields


card = HunyuanVideo15Family.card
_REPO = "hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-"
CARDS = (
    card(
        "hunyuanvideo1.5-480p-t2v",
        _REPO + "480p_t2v",
        ("t2v",),
        _resolution("480p_t2v"),
        arch="hunyuanvideo1.5-8.3b",
        description="HunyuanVideo 1.5 text-to-video, 8.3B; 480p, 24 fps",
    ),
    card(
        "hunyuanvideo1.5-720p-t2v",
        _REPO + "720p_t2v",
        ("t2v",),
        _resolution("720p_t2v"),
        arch="hunyuanvideo1.5-8.3b",
        description="HunyuanVideo 1.5 text-to-video, 8.3B; 720p",
    ),
    card(
        "hunyuanvideo1.5-480p-t2v-distilled",
        _REPO + "480p_t2v_distilled",
        ("t2v",),
        _resolution("480p_t2v", distilled=True),
        arch="hunyuanvideo1.5-8.3b",
        description="HunyuanVideo 1.5 text-to-video, 8.3B, CFG-distilled (guidance 1.0: one pass a step); 480p",
    ),
    card(
        "hunyuanvideo1.5-480p-i2v",
        _REPO + "480p_i2v",
        ("i2v",),
        _resolution("480p_i2v"),
        arch="hunyuanvideo1.5-8.3b",
        description="HunyuanVideo 1.5 image-to-video, 8.3B; 480p size buckets by the image's aspect ratio",
    ),
    card(
        "hunyuanvideo1.5-720p-i2v",
        _REPO + "720p_i2v",
        ("i2v",),
        _resolution("720p_i2v"),
        arch="hunyuanvideo1.5-8.3b",
        description="HunyuanVideo 1.5 image-to-video, 8.3B; 720p size buckets",
    ),
    card(
        "hunyuanvideo1.5-480p-i2v-distilled",
        _REPO + "480p_i2v_distilled",
        ("i2v",),
        _resolution("480p_i2v", distilled=True),
        arch="hunyuanvideo1.5-8.3b",
        description="HunyuanVideo 1.5 image-to-video, 8.3B, CFG-distilled; 480p size buckets",
    ),
    card(
        "hunyuanvideo1.5-720p-i2v-distilled",
        _REPO + "720p_i2v_distilled",
        ("i2v",),
        _resolution("720p_i2v", distilled=True),
        arch="hunyuanvideo1.5-8.3b",
        description="HunyuanVideo 1.5 image-to-video, 8.3B, CFG-distilled; 720p size buckets",
    ),
    # tiny random-weight models, built offline (videogen.families.tiny)
    card(
        "tiny-hunyuanvideo15", None, ("t2v",), tiny="t2v", description="tiny random HunyuanVideo 1.5 T2V (tests, demo)"
    ),
    card(
        "tiny-hunyuanvideo15-i2v",
        None,
        ("i2v",),
        tiny="i2v",
        sizes=buckets(TINY_TARGET, TINY_PATCH),
        description="tiny random HunyuanVideo 1.5 I2V (size buckets of target size 32)",
    ),
)
FAMILY = HunyuanVideo15Family(CARDS)
