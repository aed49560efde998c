"""Helios (BestWishYsh/Helios-*): long videos made chunk by chunk (`HeliosPipeline`: text- and image-to-video, and
video extension).

Rules and what videogen does about the pipeline's surprises:

- The pipeline generates `num_latent_frames_per_chunk` latent frames at a time (default 9: a window of 33 frames),
  each chunk conditioned on a history of the latents before it (`history_sizes`, default [16, 2, 1] latent frames:
  long, mid and short memory), decodes each chunk on its own, and cuts the joined video to 4k+1 frames. So it
  makes ceil(num_frames / window) windows and returns the largest 4k+1 count within them, which is num_frames only
  for some counts (33, 65, 97, 129, 165, ... with the default chunk): asked for its own default 132 it returns 129.
  videogen refuses any other count before load, naming the nearest (`snap=True` rounds).
- `num_latent_frames_per_chunk` (whole, ≥ 1) and `history_sizes` (three whole numbers ≥ 1) are `extra` keys,
  checked before load.
- height and width are multiples of 16 (Wan's VAE ×8, patch ×2; the pipeline raises).
- The scheduler is HeliosScheduler (its stages and UniPC solver); the pipeline hands it sigmas and a shift `mu`
  that other schedulers don't take, so `scheduler=` is refused.
- `guidance_scale` > 1 runs classifier-free guidance; at 1.0 a negative prompt would be ignored: refused.
- The image of image-to-video takes the first latent frame (and is the first chunk's prefix).
- Video extension (task="extend", the pipeline's `video`): the pipeline resizes the video's frames to height × width
  (a stretch, as for an image), encodes its first frame (the prefix every chunk sees, as an image-to-video image
  is) and its last whole windows (the largest multiple of the window's frames; the frames between the first and
  those are not read) one window at a time, noises them lightly (`add_noise_to_video_latents`, sigma 0.111–0.135)
  and puts them in the history the first new chunk is conditioned on. num_frames counts the new frames only (the
  same windows and 4k+1 cut as text-to-video), and the result is the new frames alone: the pipeline returns
  no frame of the input video (len(result) = num_frames, as diffusers returns it). Rules before load: the video
  has at least one window of frames (the pipeline raises otherwise); an image with the video is refused (the
  pipeline raises: "image and video cannot be provided simultaneously").
- Step caches: TaylorSeer (the DiT module pattern). LoRA: the pipeline loads LoRAs (`HeliosLoraLoaderMixin`).
  The transformer declares a context-parallel plan.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ._common import DIT_CACHE_HOOK_SETTINGS, DIT_CACHE_METHODS, check_negative_prompt_has_guidance
from .base import NO_MEDIA, Checked, Family

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules
    from .card import ModelCard

logger = logging.getLogger("videogen")

#: the pipeline's defaults
CHUNK = 9
HISTORY = (16, 2, 1)
TEMPORAL = 4  # Wan's VAE: 4 frames a latent frame
#: the transformer blocks diffusers' context-parallel plan for Helios names (blocks.0 to blocks.39)
PLAN_BLOCKS = 40
NOT_VERIFIED = "not verified on Helios's history-conditioned attention (refused rather than risk a silent no-op)"


def window(chunk: int) -> int:
    """The frames one chunk of `chunk` latent frames decodes to."""
    return (chunk - 1) * TEMPORAL + 1


def frames_made(num_frames: int, chunk: int) -> int:
    """The frames the pipeline returns when asked for `num_frames`: its windows' frames cut to 4k+1."""
    made = max(1, -(-num_frames // window(chunk))) * window(chunk)
    return (made - 1) // TEMPORAL * TEMPORAL + 1


def valid_frames(num_frames: int, chunk: int) -> int:
    """The count nearest `num_frames` that the pipeline returns as asked."""
    below = [frames_made(n * window(chunk), chunk) for n in range(1, num_frames // window(chunk) + 2)]
    return min(below, key=lambda f: (abs(f - num_frames), f))


class HeliosFamily(Family):
    name = "helios"
    pipelines = {"t2v": "HeliosPipeline", "i2v": "HeliosPipeline", "extend": "HeliosPipeline"}
    card_defaults = {
        "height": 384,
        "width": 640,
        "num_frames": 129,
        "fps": 24,
        "steps": 50,
        "guidance_scale": 5.0,
        "frame_rule": None,
        "size_multiple": 16,
        "dtypes": {"default": "bfloat16", "vae": "float32"},  # the docs load the VAE in float32
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 9, "fps": 8, "steps": 2}
    flow_matching = True
    scheduler = {"_class_name": "HeliosScheduler"}
    cache_methods = {"taylorseer": DIT_CACHE_METHODS["taylorseer"]}
    cache_hook_settings = DIT_CACHE_HOOK_SETTINGS
    cache_auto = ("taylorseer",)
    cache_refused = {
        "fbc": "First Block Cache finds the blocks through diffusers' block registry, which has no Helios block in "
        "diffusers 0.42.1",
        "magcache": "MagCache finds the blocks through diffusers' block registry, which has no Helios block in "
        "diffusers 0.42.1",
        "pab": f"Pyramid Attention Broadcast is {NOT_VERIFIED}",
        "fastercache": f"FasterCache is {NOT_VERIFIED}",
        "dbcache": f"cache-dit's DBCache is {NOT_VERIFIED}",
    }
    context_parallel = True

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        """The chunk knobs, the frame count the windows make, guidance for a negative prompt, the scheduler."""
        spec, media = super().check(spec, card, rules, media)  # the rules every family shares
        extra = {**card.call_defaults, **spec.extra}
        chunk = _whole("num_latent_frames_per_chunk", extra.get("num_latent_frames_per_chunk", CHUNK), CHUNK)
        history = extra.get("history_sizes", list(HISTORY))
        if not isinstance(history, (list, tuple)) or len(history) != 3 or not all(_is_whole(h) for h in history):
            raise SpecError(
                f"extra['history_sizes']={history!r} must be three whole numbers of latent frames, at least 1 each "
                "(long, mid and short memory; e.g. extra={'history_sizes': [16, 2, 1]})",
                field="extra",
                valid=list(HISTORY),
            )
        frames = spec.num_frames
        valid = valid_frames(frames, chunk)
        rule = (
            f"the pipeline makes windows of {window(chunk)} frames (num_latent_frames_per_chunk={chunk}) and returns "
            "the largest 4k+1 count within them, so only some counts come back as asked"
        )
        spec = spec.replace(num_frames=rules.fix("num_frames", frames, valid, rule))
        if spec.inferred_task() == "extend":
            _check_extension(media.get("video"), chunk)
        check_negative_prompt_has_guidance(spec, card, 5.0)
        _check_scheduler(spec.scheduler, card)
        return Checked(spec, media)

    def total_steps(self, spec: CompleteSpec, call_kwargs: Mapping[str, Any]) -> int:
        """Each chunk runs the whole schedule: steps × chunks (what progress and the step callbacks count)."""
        chunk = int(call_kwargs.get("num_latent_frames_per_chunk", CHUNK))
        frames = int(call_kwargs.get("num_frames", spec.num_frames))
        return spec.steps * max(1, -(-frames // window(chunk)))

    def schedule_steps(self, spec: CompleteSpec, call_kwargs: Mapping[str, Any]) -> int:
        return spec.steps  # one chunk's schedule (what MagCache's ratios are per)

    def check_components(self, spec: CompleteSpec, card: ModelCard, configs: Mapping[str, Mapping[str, Any]]) -> None:
        """Context parallelism: diffusers' plan for the Helios transformer names its blocks 0 to 39, so it runs only on
        a transformer of 40 blocks (another count fails when the plan is applied: tried on the CPU)."""
        layers = configs.get("transformer", {}).get("num_layers")
        if spec.parallel is not None and layers is not None and int(layers) != PLAN_BLOCKS:
            raise SpecError(
                f"parallel={spec.parallel!r}: diffusers 0.42.1's context-parallel plan for Helios names blocks 0 "
                f"to {PLAN_BLOCKS - 1}, and {card.name}'s transformer has {layers}; run it on one GPU (leave parallel "
                "out)",
                field="parallel",
                valid=None,
            )

    def build_tiny(self, variant: str, folder: Path) -> None:
        """The tiny Helios pipeline ("t2v"; it does image-to-video and extension too): two blocks of two 12-wide
        heads, Wan's tiny VAE and UMT5; the card's call uses chunks of 2 latent frames and a short history."""
        if variant != "t2v":
            raise ValueError(f"unknown tiny helios variant {variant!r}")
        from diffusers import AutoencoderKLWan, HeliosPipeline, HeliosScheduler, HeliosTransformer3DModel

        from . import tiny_parts

        HeliosPipeline(
            transformer=HeliosTransformer3DModel(
                num_attention_heads=2, attention_head_dim=12, text_dim=32, ffn_dim=32, num_layers=2, rope_dim=(4, 4, 4)
            ),
            vae=AutoencoderKLWan(
                base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
            ),
            text_encoder=tiny_parts.umt5_encoder(32),
            tokenizer=tiny_parts.t5_tokenizer(),
            # one stage (HeliosPipeline steps one schedule a chunk; the pyramid pipeline runs three), shifted by the
            # pipeline's mu
            scheduler=HeliosScheduler(stages=1, use_dynamic_shifting=True),
        ).save_pretrained(folder)


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _whole(key: str, value: Any, example: int) -> int:
    if not _is_whole(value):
        raise SpecError(
            f"extra[{key!r}]={value!r} must be a whole number, at least 1 (e.g. extra={{{key!r}: {example}}})",
            field="extra",
            valid=example,
        )
    return int(value)


def _check_extension(video: Any, chunk: int) -> None:
    """The pipeline encodes the video a window at a time (its last whole windows): at least one window of frames."""
    if video is None:
        return
    need = window(chunk)
    if len(video) < need:
        raise SpecError(
            f"video has {len(video)} frames, fewer than one window of {need} (num_latent_frames_per_chunk={chunk}): "
            f"video extension encodes the video's last whole windows of {need} frames; pass a video of at least "
            f"{need} frames (or a smaller extra['num_latent_frames_per_chunk'])",
            field="video",
            valid=need,
        )
    used = len(video) // need * need
    if used + 1 < len(video):
        logger.info(
            "helios extension: the pipeline reads the video's first frame and its last %d frames (whole windows of "
            "%d); frames 1 to %d are not used",
            used,
            need,
            len(video) - used - 1,
        )


def _check_scheduler(value: Any, card: ModelCard) -> None:
    name = value if isinstance(value, str) else value.get("name") if isinstance(value, Mapping) else None
    if value is None or name == "HeliosScheduler":
        return
    raise SpecError(
        f"scheduler={value!r} can't run {card.name}: its pipeline hands the scheduler per-stage sigmas and a shift "
        "(mu) that only HeliosScheduler (the checkpoint's) takes; leave scheduler out",
        field="scheduler",
        valid=None,
    )


card = HeliosFamily.card
TASKS = ("t2v", "i2v", "extend")
#: the tiny model's call: chunks of 2 latent frames (windows of 5 frames), a short history
TINY_CALL = {"num_latent_frames_per_chunk": 2, "history_sizes": [2, 1, 1]}
CARDS = (
    card(
        "helios-base",
        "BestWishYsh/Helios-Base",
        TASKS,
        arch="helios-14b",
        description="Helios base (14B, Wan-based): long videos chunk by chunk; 640x384, 24 fps",
    ),
    # tiny random-weight model, built offline (videogen.families.tiny)
    card(
        "tiny-helios",
        None,
        TASKS,
        tiny="t2v",
        call_defaults=TINY_CALL,
        description="tiny random Helios (t2v, i2v, extend; windows of 5 frames)",
    ),
)
FAMILY = HeliosFamily(CARDS)
