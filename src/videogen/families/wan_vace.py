"""Wan 2.1 VACE (Wan-AI): one model, several conditionings, through `WanVACEPipeline`.

How the spec maps (docs/families.md):

- t2v: no conditioning (VACE then generates from the prompt alone).
- i2v / flf2v: VACE's masked video, as diffusers' VACE docs build it: the image(s) at the first (and last) frame,
  gray frames (128) between them, and a mask that keeps those frames (black) and generates the rest (white).
- v2v: `video` is the *control* video (pose, depth, edges, ... already extracted), with no mask: every frame is
  generated following it, for num_frames frames (a longer video is cut, as for any video-to-video).
- v2v with `mask` (in/outpainting): `video` is the source video and `mask` is white where VACE generates and
  black where it keeps the source; one mask image applies to every frame, a mask video is cut to num_frames as the
  video is. The mask is drawn on the video, so its frames must have the video's size.
- `reference_images` (any task): one image or a list, passed as VACE's reference images (subjects, style); VACE
  letterboxes each into the output's size and adds a latent frame per image in front of the video.
- VACE sizes its video from the first frame (scaled into the output's area, rounded down to whole patches), not
  from height and width: videogen hands it frames (and mask frames) of exactly the spec's size (Lanczos), so the
  video is that size.

Rules as Wan's (num_frames 4k+1, sides multiples of 16), and the rotary table counts the reference images'
latent frames too.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ._common import DIT_CACHE_HOOK_SETTINGS, DIT_CACHE_METHODS, check_rope_table
from .base import NO_MEDIA, Checked, Family

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules
    from .card import ModelCard

#: VACE's masked video: what fills the frames to generate, and the mask values (keep / generate)
GRAY, KEEP, GENERATE = (128, 128, 128), 0, 255


class WanVACEFamily(Family):
    name = "wan_vace"
    pipelines = {
        "t2v": "WanVACEPipeline",
        "i2v": "WanVACEPipeline",
        "flf2v": "WanVACEPipeline",
        "v2v": "WanVACEPipeline",
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
        "dtypes": {"default": "bfloat16", "vae": "float32"},
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 9, "fps": 8, "steps": 2}
    flow_matching = True
    scheduler = {
        "_class_name": "UniPCMultistepScheduler",
        "prediction_type": "flow_prediction",
        "use_flow_sigmas": True,
    }
    v2v_strength = 1.0  # a control video, not a restyle: the whole schedule runs
    # the inputs VACE takes beyond each task's own: reference images always, a mask over a source video
    inputs = {
        "t2v": ("reference_images",),
        "i2v": ("reference_images",),
        "flf2v": ("reference_images",),
        "v2v": ("mask", "reference_images"),
    }
    # step caches (VideoSpec.cache): TaylorSeer (the DiT module pattern), PAB and FasterCache (attention modules),
    # as on Wan; the VACE blocks are not in diffusers' block registry
    cache_methods = {m: DIT_CACHE_METHODS[m] for m in ("taylorseer", "pab", "fastercache")}
    cache_hook_settings = DIT_CACHE_HOOK_SETTINGS
    cache_auto = ("taylorseer",)
    cache_refused = {
        "fbc": "First Block Cache finds the blocks through diffusers' block registry, which has no VACE block in "
        "diffusers 0.42.1",
        "magcache": "MagCache finds the blocks through diffusers' block registry, which has no VACE block in "
        "diffusers 0.42.1",
        "dbcache": "cache-dit has no adapter for Wan VACE",
    }

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        """A mask must cover the video: as many frames as num_frames (or one image), the video's size."""
        checked = super().check(spec, card, rules, media)  # the rules every family shares
        mask, video = media.get("mask"), media.get("video")
        if isinstance(mask, list) and len(mask) < spec.num_frames:
            n = spec.num_frames
            raise SpecError(
                f"mask: a mask video of {len(mask)} frames is shorter than num_frames={n}: VACE needs a mask for "
                f"every frame it makes; pass a mask of at least {n} frames (a longer one is cut), one mask image "
                f"for every frame, or num_frames={_frames_within(len(mask), card)}",
                field="mask",
                valid=n,
            )
        if mask is not None and video:
            size = (mask[0] if isinstance(mask, list) else mask).size
            if size != video[0].size:
                w, h = video[0].size
                raise SpecError(
                    f"mask: its frames are {size[0]}×{size[1]}, the video's are {w}×{h}; a mask marks pixels of the "
                    f"video, so it must have the video's size: pass a {w}×{h} mask",
                    field="mask",
                    valid=(w, h),
                )
        return checked

    def check_components(self, spec: CompleteSpec, card: ModelCard, configs: Mapping[str, Mapping[str, Any]]) -> None:
        check_rope_table(spec, card, configs)
        refs = spec.reference_images
        count = 0 if refs is None else len(refs) if isinstance(refs, (list, tuple)) else 1
        rows = int((configs.get("transformer") or {}).get("rope_max_seq_len") or 1024)
        temporal = int((configs.get("vae") or {}).get("scale_factor_temporal") or 4)
        latent = (spec.num_frames - 1) // temporal + 1
        if count and latent + count > rows:
            raise SpecError(
                f"reference_images: {count} images add {count} latent frames to the video's {latent}, more than the "
                f"{rows} the transformer's rotary table (rope_max_seq_len) covers for {card.name}; pass at most "
                f"{max(rows - latent, 0)} reference images (or fewer frames)",
                field="reference_images",
                valid=max(rows - latent, 0),
            )

    def call_kwargs(
        self, spec: CompleteSpec, card: ModelCard, media: Mapping[str, Any], params: AbstractSet[str]
    ) -> dict[str, Any]:
        kwargs = super().call_kwargs(spec, card, media, params)
        size = (spec.width, spec.height)
        if spec.task in ("i2v", "flf2v"):
            kwargs["video"], kwargs["mask"] = masked_video(
                media["image"], media.get("last_image"), spec.num_frames, size
            )
        elif spec.task == "v2v":
            kwargs["video"] = [_sized(frame, size) for frame in kwargs["video"]]
            mask = media.get("mask")
            if mask is not None:
                frames = mask[: len(kwargs["video"])] if isinstance(mask, list) else [mask] * len(kwargs["video"])
                kwargs["mask"] = [_sized(frame, size) for frame in frames]
        if media.get("reference_images") is not None:
            kwargs["reference_images"] = list(media["reference_images"])
        return kwargs

    def build_tiny(self, variant: str, folder: Path) -> None:
        """The tiny Wan VACE pipeline ("vace"): Wan's tiny parts with one VACE block."""
        if variant != "vace":
            raise ValueError(f"unknown tiny wan_vace variant {variant!r}")
        from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanVACEPipeline, WanVACETransformer3DModel

        from . import tiny_parts

        transformer = WanVACETransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=16,
            out_channels=16,
            text_dim=32,
            freq_dim=256,
            ffn_dim=32,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=32,
            vace_layers=[0],
            vace_in_channels=96,  # 16 latent channels twice + the 8×8 mask pixels of a latent
        )
        WanVACEPipeline(
            tokenizer=tiny_parts.t5_tokenizer(),
            text_encoder=tiny_parts.umt5_encoder(32),
            vae=AutoencoderKLWan(
                base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
            ),
            scheduler=UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0),
            transformer=transformer,
        ).save_pretrained(folder)


def masked_video(first: Any, last: Any, frames: int, size: tuple[int, int]) -> tuple[list[Any], list[Any]]:
    """VACE's video and mask for images at the first (and last) frame, at `size` (width, height): kept frames
    black in the mask, the frames to generate gray in the video and white in the mask."""
    from PIL import Image

    video = [_sized(first, size)] + [Image.new("RGB", size, GRAY)] * (frames - 1)
    mask = [Image.new("L", size, KEEP)] + [Image.new("L", size, GENERATE)] * (frames - 1)
    if last is not None and frames > 1:
        video[-1], mask[-1] = _sized(last, size), Image.new("L", size, KEEP)
    return video, mask


def _frames_within(frames: int, card: ModelCard) -> int:
    """The largest frame count on `card`'s rule (4k+1) that `frames` frames cover."""
    step, offset = card.frame_rule or (1, 0)
    return max(offset, (frames - offset) // step * step + offset)


def _sized(image: Any, size: tuple[int, int]) -> Any:
    """`image` in RGB at exactly `size`: VACE sizes the video from its first frame (scaled into the output's area,
    then rounded down to whole patches), so a frame of another size would make a video of another size."""
    from PIL import Image

    image = image.convert("RGB")
    return image if image.size == size else image.resize(size, Image.Resampling.LANCZOS)


card = WanVACEFamily.card
CARDS = (
    card(
        "wan2.1-vace-1.3b",
        "Wan-AI/Wan2.1-VACE-1.3B-diffusers",
        ("t2v", "i2v", "flf2v", "v2v"),
        traits={"scheduler": {**WanVACEFamily.scheduler, "flow_shift": 3.0}},
        arch="wan2.1-vace-1.3b",
        description="Wan 2.1 VACE, 1.3B: text, first(-last) frame or control video to video; 480p",
    ),
    card(
        "wan2.1-vace-14b",
        "Wan-AI/Wan2.1-VACE-14B-diffusers",
        ("t2v", "i2v", "flf2v", "v2v"),
        height=720,
        width=1280,
        traits={"scheduler": {**WanVACEFamily.scheduler, "flow_shift": 5.0}},
        arch="wan2.1-vace-14b",
        description="Wan 2.1 VACE, 14B: text, first(-last) frame or control video to video; 480p and 720p",
    ),
    # tiny random-weight model, built offline (videogen.families.tiny)
    card(
        "tiny-wan_vace",
        None,
        ("t2v", "i2v", "flf2v", "v2v"),
        tiny="vace",
        description="tiny random Wan VACE (tests, demo)",
    ),
)
FAMILY = WanVACEFamily(CARDS)
