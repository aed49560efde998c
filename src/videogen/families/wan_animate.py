"""Wan 2.2 Animate (Wan-AI): a character image moved by a driving performance, through `WanAnimatePipeline`.

How the spec maps (docs/families.md):

- task "animate": `image` is the character; `pose_video` (the driving video's rendered skeleton) and `face_video`
  (its face crops) drive it. The pipeline's `mode="animate"`.
- task "replace": the same, and the character replaces the person in `video` (the pipeline's `background_video`)
  where `mask` is white (its `mask_video`; one mask image applies to every frame). `mode="replace"`.
- Either task is inferred from the inputs: `pose_video`/`face_video` mean animate, with `video` or `mask` replace.
- num_frames is the output's length: the driving videos' frames by default (the pose video's), each video cut to
  it. The pipeline makes it in segments of `extra["segment_frame_length"]` frames (77), each starting from the
  last `extra["prev_segment_conditioning_frames"]` (1 or 5) of the one before.
- Step caches: PAB and FasterCache (timestep ranges, which each segment's schedule runs through again);
  TaylorSeer on one segment only (it would carry predictions across segments); First Block Cache and MagCache
  refused: the face adapters run between the blocks, onto a cached residual that already holds their update.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ._common import DIT_CACHE_HOOK_SETTINGS, DIT_CACHE_METHODS, check_negative_prompt_has_guidance, check_rope_table
from .base import NO_MEDIA, Checked, Family

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules
    from .card import ModelCard

#: the pipeline's defaults: frames per segment (4k+1) and frames each segment takes from the one before (1 or 5)
SEGMENT, PREVIOUS, PREVIOUS_CHOICES = 77, 1, (1, 5)
#: the driving inputs cut to num_frames, and the pipeline argument each becomes
DRIVING = {"pose_video": "pose_video", "face_video": "face_video", "video": "background_video", "mask": "mask_video"}


class WanAnimateFamily(Family):
    name = "wan_animate"
    pipelines = {"animate": "WanAnimatePipeline", "replace": "WanAnimatePipeline"}
    card_defaults = {
        # the pipeline's defaults and its docs' call: 1280×720, 20 steps, no classifier-free guidance, 30 fps
        "height": 720,
        "width": 1280,
        "num_frames": 77,
        "fps": 30,
        "steps": 20,
        "guidance_scale": 1.0,
        "frame_rule": None,  # any length: the pipeline pads the last segment and cuts the output
        "size_multiple": 16,
        "dtypes": {"default": "bfloat16", "vae": "float32"},
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 5, "fps": 8, "steps": 2}
    flow_matching = True
    scheduler = {
        "_class_name": "UniPCMultistepScheduler",
        "prediction_type": "flow_prediction",
        "use_flow_sigmas": True,
        "flow_shift": 5.0,
    }
    frames_param = None  # the output is as long as the pose video it gets
    cache_methods = {m: DIT_CACHE_METHODS[m] for m in ("taylorseer", "pab", "fastercache")}
    cache_hook_settings = DIT_CACHE_HOOK_SETTINGS
    cache_auto = ("taylorseer",)
    cache_refused = {
        "fbc": "the face adapters run between Wan Animate's blocks, so First Block Cache would add their update "
        "onto a cached residual that already holds it",
        "magcache": "the face adapters run between Wan Animate's blocks, so MagCache would add their update onto a "
        "cached residual that already holds it",
        "dbcache": "cache-dit has no adapter for Wan Animate",
    }

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        """The segments' knobs, the driving videos' lengths, guidance for a negative prompt."""
        checked = super().check(spec, card, rules, media)
        check_negative_prompt_has_guidance(spec, card, 5.0)
        extra = {**card.call_defaults, **spec.extra}
        previous = extra.get("prev_segment_conditioning_frames", PREVIOUS)
        if isinstance(previous, bool) or previous not in PREVIOUS_CHOICES:
            raise SpecError(
                f"extra['prev_segment_conditioning_frames']={previous!r}: each segment starts from 1 or 5 frames "
                "of the one before (Wan Animate's choices); pass 1 (the default) or 5",
                field="extra",
                valid=PREVIOUS_CHOICES,
            )
        segment = extra.get("segment_frame_length", SEGMENT)
        step = 4  # the VAE's temporal factor: a segment is 4k+1 frames
        lowest = (2 * previous) // step * step + 1 + step  # the first 4k+1 above twice the frames carried over
        if isinstance(segment, bool) or not isinstance(segment, int) or segment % step != 1 or segment < lowest:
            valid = max(segment // step * step + 1, lowest) if isinstance(segment, int) else SEGMENT
            raise SpecError(
                f"extra['segment_frame_length']={segment!r} must be a whole 4k+1 number of frames, more than twice "
                f"prev_segment_conditioning_frames={previous} (each segment makes frames beyond those it takes from "
                f"the one before); nearest valid value: extra['segment_frame_length']={valid}",
                field="extra",
                valid=valid,
            )
        frames = spec.num_frames
        if frames <= previous:
            rule = f"Wan Animate needs more frames than the {previous} each segment takes from the one before"
            frames = rules.fix("num_frames", frames, previous + 1, rule)
            checked = Checked(spec.replace(num_frames=frames), checked.media)
        for name in DRIVING:  # each cut to num_frames (the pose video's length unless given: checks.rules.TASK_FRAMES)
            value = media.get(name)
            if isinstance(value, list) and len(value) < frames:
                raise SpecError(
                    f"{name}: {len(value)} frames, fewer than num_frames={frames} (the pose video's length unless "
                    f"given): every driving video needs a frame for each frame made; pass num_frames={len(value)} "
                    f"or a longer {name}",
                    field=name,
                    valid=len(value),
                )
        return checked

    def check_components(self, spec: CompleteSpec, card: ModelCard, configs: Mapping[str, Mapping[str, Any]]) -> None:
        """The sides, and one segment's latent frames with the character's (one more), within the rotary table;
        the whole video is never in the transformer at once."""
        check_rope_table(spec.replace(num_frames=1), card, configs)
        segment = int({**card.call_defaults, **spec.extra}.get("segment_frame_length", SEGMENT))
        rows = int((configs.get("transformer") or {}).get("rope_max_seq_len") or 1024)
        temporal = int((configs.get("vae") or {}).get("scale_factor_temporal") or 4)
        if (segment - 1) // temporal + 2 > rows:
            top = (rows - 2) * temporal + 1
            raise SpecError(
                f"extra['segment_frame_length']={segment}: a segment's latent frames and the character's are more "
                f"than the {rows} the transformer's rotary position table (rope_max_seq_len) covers for {card.name}; "
                f"nearest valid value: extra['segment_frame_length']={top}",
                field="extra",
                valid=top,
            )

    def reserved_call_kwargs(self) -> set[str]:
        return super().reserved_call_kwargs() | set(DRIVING.values()) | {"mode"}

    def call_kwargs(
        self, spec: CompleteSpec, card: ModelCard, media: Mapping[str, Any], params: AbstractSet[str]
    ) -> dict[str, Any]:
        kwargs = super().call_kwargs(spec, card, media, params)
        frames = spec.num_frames
        for name, argument in DRIVING.items():
            value = media.get(name)
            if value is not None:  # a mask image: the same mask for every frame
                kwargs[argument] = value[:frames] if isinstance(value, list) else [value] * frames
        kwargs["mode"] = spec.task
        return kwargs

    def total_steps(self, spec: CompleteSpec, call_kwargs: Mapping[str, Any]) -> int:
        return int(spec.steps or 0) * segments(spec, call_kwargs)

    def schedule_steps(self, spec: CompleteSpec, call_kwargs: Mapping[str, Any]) -> int:
        return int(spec.steps or 0)  # each segment runs the whole schedule

    def cache_refusal(self, spec: CompleteSpec, card: ModelCard, method: str) -> str | None:
        """TaylorSeer extrapolates each module's output along the steps and knows nothing of segments."""
        count = segments(spec, {**card.call_defaults, **spec.extra})
        if method == "taylorseer" and count > 1:
            return (
                f"num_frames={spec.num_frames} takes {count} Wan Animate segments, and TaylorSeer would carry its "
                "predictions from one segment's steps into the next"
            )
        return None

    def build_tiny(self, variant: str, folder: Path) -> None:
        """The tiny Wan Animate ("animate"): Wan's tiny parts, a CLIP image encoder, a one-adapter transformer with
        an 8-pixel motion encoder; 5-frame segments (the card's call default): its 5 frames are one, 9 take two."""
        if variant != "animate":
            raise ValueError(f"unknown tiny wan_animate variant {variant!r}")
        from diffusers import (
            AutoencoderKLWan,
            UniPCMultistepScheduler,
            WanAnimatePipeline,
            WanAnimateTransformer3DModel,
        )
        from transformers import CLIPVisionModel

        from . import tiny_parts

        transformer = WanAnimateTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=36,  # the noise, the reference/previous frames' latents and their 4-channel mask
            latent_channels=16,
            out_channels=16,
            text_dim=32,
            freq_dim=256,
            ffn_dim=32,
            num_layers=2,
            image_dim=4,
            added_kv_proj_dim=24,
            rope_max_seq_len=32,
            motion_encoder_channel_sizes={"4": 4, "8": 4},
            motion_encoder_size=8,
            motion_style_dim=8,
            motion_dim=4,
            motion_encoder_dim=8,
            face_encoder_hidden_dim=8,
            face_encoder_num_heads=2,
            inject_face_latents_blocks=2,
            motion_encoder_batch_size=8,
        )
        WanAnimatePipeline(
            tokenizer=tiny_parts.t5_tokenizer(),
            text_encoder=tiny_parts.umt5_encoder(32),
            vae=AutoencoderKLWan(
                base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
            ),
            scheduler=UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0),
            image_processor=tiny_parts.clip_image_processor(32),
            image_encoder=CLIPVisionModel(
                tiny_parts.clip_vision_config(
                    hidden=4, image_size=32, patch_size=4, num_attention_heads=2, intermediate_size=16
                )
            ).eval(),
            transformer=transformer,
        ).save_pretrained(folder)


def segments(spec: CompleteSpec, arguments: Mapping[str, Any]) -> int:
    """How many segments the pipeline makes num_frames in (its own arithmetic: the last one padded)."""
    length = int(arguments.get("segment_frame_length", SEGMENT))
    previous = int(arguments.get("prev_segment_conditioning_frames", PREVIOUS))
    effective = max(length - previous, 1)
    frames = max(int(spec.num_frames or 0) - previous, 0)
    return max(1, -(-frames // effective))


card = WanAnimateFamily.card
CARDS = (
    card(
        "wan2.2-animate-14b",
        "Wan-AI/Wan2.2-Animate-14B-Diffusers",
        ("animate", "replace"),
        arch="wan2.2-animate-14b",
        description="Wan 2.2 Animate, 14B: a character image animated (or put into a video) by pose and face videos",
    ),
    # tiny random-weight model, built offline (videogen.families.tiny); 5-frame segments: 5 frames are one, 9 two
    card(
        "tiny-wan_animate",
        None,
        ("animate", "replace"),
        tiny="animate",
        call_defaults={"segment_frame_length": 5},
        description="tiny random Wan Animate (tests, demo)",
    ),
)
FAMILY = WanAnimateFamily(CARDS)
