"""SkyReels-V2 (Skywork): text- and image-to-video, and the diffusion-forcing (DF) models for long videos.

Rules and what videogen does about the pipelines' surprises:

- num_frames is 4k+1; height and width are multiples of 16 (Wan's VAE ×8, patch ×2; the pipelines raise).
- The DF checkpoints run `SkyReelsV2DiffusionForcing(ImageToVideo)Pipeline`, which denoise the latent frames on
  a per-frame schedule and, past `base_num_frames` (default 97), in overlapping windows: each new window starts
  from the last `overlap_history` frames of the one before. Their knobs are documented `extra` keys, checked
  before load: `base_num_frames` (4k+1, at least 5), `overlap_history` (4k+1, below base_num_frames; the
  pipelines raise without it when num_frames exceeds base_num_frames, so videogen passes their recommended 17
  there unless the spec names one — `metadata["call"]` shows it), `ar_step` (0: synchronous; the
  frames of a block lag the block before by this many steps), `causal_block_size` (latent frames denoised
  together; it must divide every window's latent frames, or the schedule's shape breaks, and the overlap's,
  which the pipelines would otherwise cut with a warning) and
  `addnoise_condition` (noise mixed into the overlap frames, 0–60: the pipelines warn above 60).
- `causal_block_size` is written into the transformer's config (`_set_ar_attention`), where it would stay for
  the next call on the cached pipeline: videogen puts the config value back after the call.
- DF pipelines condition on the frame rate (16 fps or not): the spec's `fps` is passed as their `fps`.
- Video extension (task="extend", `SkyReelsV2DiffusionForcingVideoToVideoPipeline`): the pipeline encodes the
  input video's last `overlap_history` frames (default 17, as for long videos; the pipeline has no default and
  fails without one) and continues from them. num_frames is the pipeline's: the frames it generates, the first
  `overlap_history` of them made again from the video's end; the result is the input video followed by them
  (len(video) + num_frames frames, as diffusers returns it). Rules before load: the video has at least
  overlap_history frames, num_frames more latent frames than overlap_history, and the windows past
  base_num_frames follow the long-video rules above.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ._common import DIT_CACHE_HOOK_SETTINGS, DIT_CACHE_METHODS, check_rope_table
from .base import NO_MEDIA, Checked, Family

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules
    from .card import ModelCard

SKYREELS_DTYPES = {"default": "bfloat16", "vae": "float32", "image_encoder": "float32"}
#: the diffusion-forcing pipelines' own default window
BASE_NUM_FRAMES = 97
#: the overlap the pipelines recommend for long videos (17 or 37), passed when a long video names none
DEFAULT_OVERLAP = 17
#: the pipelines warn above this (the overlap frames drift)
MAX_ADDNOISE = 60
#: the diffusion-forcing pipelines' class names (they take the long-video knobs)
DF_PIPELINES = {
    "t2v": "SkyReelsV2DiffusionForcingPipeline",
    "i2v": "SkyReelsV2DiffusionForcingImageToVideoPipeline",
    "extend": "SkyReelsV2DiffusionForcingVideoToVideoPipeline",
}
#: the image takes the first latent frame: at least one more to generate
DF_I2V_MIN_FRAMES = 5
#: the long-video knobs (`extra` keys of the DF pipelines)
DF_KEYS = ("base_num_frames", "overlap_history", "ar_step", "causal_block_size", "addnoise_condition")


def _latent(frames: int) -> int:
    return (frames - 1) // 4 + 1


def _whole(key: str, value: Any, low: int, example: int, form: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (form and (value - 1) % 4):
        raise SpecError(
            f"extra[{key!r}]={value!r} must be a whole number {form}at least {low} (e.g. extra={{{key!r}: {example}}})",
            field="extra",
            valid=example,
        )
    return value


class SkyReelsV2Family(Family):
    name = "skyreels_v2"
    pipelines = {"t2v": "SkyReelsV2Pipeline", "i2v": "SkyReelsV2ImageToVideoPipeline"}
    card_defaults = {
        "height": 544,
        "width": 960,
        "num_frames": 97,
        "fps": 24,
        "steps": 50,
        "guidance_scale": 6.0,
        "frame_rule": (4, 1),
        "size_multiple": 16,
        "dtypes": SKYREELS_DTYPES,
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 9, "fps": 8, "steps": 2}
    flow_matching = True
    scheduler = {
        "_class_name": "UniPCMultistepScheduler",
        "prediction_type": "flow_prediction",
        "use_flow_sigmas": True,
    }
    # step caches (VideoSpec.cache), measured on the tiny models: TaylorSeer (the DiT module pattern) skips on
    # every pipeline; PAB and FasterCache on the text/image-to-video ones (cache_refusal: not diffusion forcing)
    cache_methods = {m: DIT_CACHE_METHODS[m] for m in ("taylorseer", "pab", "fastercache")}
    cache_hook_settings = DIT_CACHE_HOOK_SETTINGS
    cache_auto = ("taylorseer",)
    cache_refused = {
        "fbc": "First Block Cache finds the blocks through diffusers' block registry, which has no SkyReels-V2 block "
        "in diffusers 0.42.1 (the hook fails)",
        "magcache": "MagCache finds the blocks through diffusers' block registry, which has no SkyReels-V2 block in "
        "diffusers 0.42.1 (the hook fails)",
        "dbcache": "cache-dit has no adapter for SkyReels-V2",
    }

    def cache_refusal(self, spec: CompleteSpec, card: ModelCard, method: str) -> str | None:
        """PAB and FasterCache compare the pipeline's one current timestep with a range; a diffusion-forcing
        pipeline's is a vector (each frame at its own timestep), so their hooks fail."""
        if method in ("pab", "fastercache") and is_df(card, spec.inferred_task(), self):
            return (
                f"{card.name} is a diffusion-forcing model, whose frames each have their own timestep, and "
                f"{method} compares a single timestep with its range"
            )
        return None

    def reserved_call_kwargs(self) -> set[str]:
        return super().reserved_call_kwargs() | {"fps"}  # the spec's fps (DF pipelines)

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        """The long-video knobs on the diffusion-forcing models (refused on the others: silently ignored there)."""
        checked = super().check(spec, card, rules, media)  # the rules every family shares
        given = [key for key in DF_KEYS if key in spec.extra]
        if not is_df(card, spec.inferred_task(), self):
            if given:
                raise SpecError(
                    f"extra[{given[0]!r}] is a diffusion-forcing setting, and {card.name} is not a diffusion-forcing "
                    "model; use a skyreels-v2-df-* model for long videos, or leave it out",
                    field="extra",
                )
            return checked
        frames = spec.num_frames
        if spec.inferred_task() == "i2v" and frames < DF_I2V_MIN_FRAMES:
            rule = (
                "diffusion-forcing image-to-video puts the image on the first latent frame and generates the ones "
                f"after it, so num_frames must be at least {DF_I2V_MIN_FRAMES} (one frame fails inside the pipeline)"
            )
            spec = spec.replace(num_frames=rules.fix("num_frames", frames, DF_I2V_MIN_FRAMES, rule))
            checked = Checked(spec, checked.media)
        extra = {**card.call_defaults, **spec.extra}
        if spec.inferred_task() == "extend":
            _check_extension(spec, extra, checked.media.get("video"))
        check_long_video(spec, extra)
        _check_df_scheduler(spec.scheduler, card)
        return checked

    def check_components(self, spec: CompleteSpec, card: ModelCard, configs: Mapping[str, Mapping[str, Any]]) -> None:
        """Wan's rotary position table (`rope_max_seq_len` rows) must cover the latent frames and sides."""
        check_rope_table(spec, card, configs)

    def call_kwargs(
        self, spec: CompleteSpec, card: ModelCard, media: Mapping[str, Any], params: AbstractSet[str]
    ) -> dict[str, Any]:
        kwargs = super().call_kwargs(spec, card, media, params)
        if "fps" in params:
            kwargs["fps"] = spec.fps
        if "overlap_history" in params and kwargs.get("overlap_history") is None:
            base = int(kwargs.get("base_num_frames", BASE_NUM_FRAMES))
            # a long video (the pipelines raise without an overlap) or an extension (it always needs one)
            if spec.num_frames > base or spec.task == "extend":
                kwargs["overlap_history"] = default_overlap(base)
        return kwargs

    def call_context(self, pipe: Any, spec: CompleteSpec) -> AbstractContextManager[Any]:
        return _keep_block_size(pipe)

    def total_steps(self, spec: CompleteSpec, call_kwargs: Mapping[str, Any]) -> int:
        """A diffusion-forcing call's step callback fires once per row of each window's schedule: `steps` in
        synchronous mode, plus `ar_step` for each block after the first that the window denoises."""
        steps = int(spec.steps or 0)
        if (
            "base_num_frames" not in call_kwargs
            and "ar_step" not in call_kwargs
            and "overlap_history" not in call_kwargs
        ):
            return steps
        frames = spec.num_frames
        base = int(call_kwargs.get("base_num_frames", BASE_NUM_FRAMES))
        overlap = int(call_kwargs.get("overlap_history") or 0)
        block = int(call_kwargs.get("causal_block_size") or 1)
        ar_step = int(call_kwargs.get("ar_step") or 0)
        long = overlap > 0 and frames > base
        windows = _windows(_latent(frames), _latent(base), _latent(overlap)) if long else [_latent(frames)]
        extend = spec.task == "extend"  # the first window starts from the input video's overlap too
        total = 0
        for i, latents in enumerate(windows):
            prefix = 0 if i == 0 and not extend else _latent(overlap) // block * block
            pending = latents // block - prefix // block
            total += steps + (max(pending, 1) - 1) * ar_step if ar_step else steps
        return total

    def build_tiny(self, variant: str, folder: Path) -> None:
        """Tiny SkyReels-V2 pipelines: "t2v", "i2v" (a CLIP image encoder) and "df" (diffusion forcing)."""
        import diffusers
        from diffusers import AutoencoderKLWan, SkyReelsV2Transformer3DModel, UniPCMultistepScheduler

        from . import tiny_parts

        transformer: dict[str, Any] = dict(
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
        )
        components: dict[str, Any] = dict(
            tokenizer=tiny_parts.t5_tokenizer(),
            text_encoder=tiny_parts.umt5_encoder(32),
            vae=AutoencoderKLWan(
                base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
            ),
            scheduler=UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=8.0),
        )
        if variant == "t2v":
            cls = diffusers.SkyReelsV2Pipeline
        elif variant == "df":
            transformer["inject_sample_info"] = True  # the frame-rate embedding the DF pipelines pass
            cls = diffusers.SkyReelsV2DiffusionForcingPipeline
        elif variant == "i2v":
            from transformers import CLIPVisionModelWithProjection

            transformer.update(in_channels=36, image_dim=4, added_kv_proj_dim=24)
            vision = tiny_parts.clip_vision_config(
                hidden=4, image_size=32, patch_size=4, num_attention_heads=2, intermediate_size=16
            )
            components["image_encoder"] = CLIPVisionModelWithProjection(vision).eval()
            components["image_processor"] = tiny_parts.clip_image_processor(32)
            cls = diffusers.SkyReelsV2ImageToVideoPipeline
        else:
            raise ValueError(f"unknown tiny skyreels_v2 variant {variant!r}")
        cls(transformer=SkyReelsV2Transformer3DModel(**transformer), **components).save_pretrained(folder)


def is_df(card: ModelCard, task: str, family: Family) -> bool:
    """Whether `card` runs `task` with a diffusion-forcing pipeline."""
    return task in card.tasks and card.pipeline_class(task, family) in DF_PIPELINES.values()


def check_long_video(spec: CompleteSpec, extra: Mapping[str, Any]) -> None:
    """The diffusion-forcing knobs: each one's type and range, and how they fit together and with num_frames."""
    frames = spec.num_frames
    base = _whole("base_num_frames", extra.get("base_num_frames", BASE_NUM_FRAMES), 5, 97, "of the form 4k+1, ")
    if "ar_step" in extra:
        _whole("ar_step", extra["ar_step"], 0, 5)
    block = extra.get("causal_block_size")
    if block is not None:
        _whole("causal_block_size", block, 1, 5)
    noise = extra.get("addnoise_condition", 0)
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise <= MAX_ADDNOISE:
        raise SpecError(
            f"extra['addnoise_condition']={noise!r} must be a number from 0 to {MAX_ADDNOISE} (the noise mixed into "
            "each window's overlap frames; 20 is the pipelines' recommendation)",
            field="extra",
            valid=20,
        )
    overlap = extra.get("overlap_history")
    long = frames > base
    if overlap is None and (long or spec.task == "extend"):
        overlap = default_overlap(base)
        if overlap is None:
            why = (
                "video extension starts from the video's last overlap_history frames"
                if spec.task == "extend"
                else f"num_frames={frames} is more than base_num_frames={base}, so the video is made in overlapping "
                "windows"
            )
            raise SpecError(
                f"extra['overlap_history'] is required: {why}, and the recommended {DEFAULT_OVERLAP} doesn't fit below "
                f"{base}; pass a smaller overlap_history (4k+1), a larger base_num_frames, "
                f"or num_frames={base} or fewer",
                field="extra",
                valid=1,
            )
    if overlap is None:
        windows = [_latent(frames)]
    else:
        _whole("overlap_history", overlap, 1, 17, "of the form 4k+1, ")
        if _latent(overlap) >= _latent(base):
            raise SpecError(
                f"extra['overlap_history']={overlap} must be less than base_num_frames={base}: each window adds the "
                f"frames after the overlap (e.g. extra={{'overlap_history': 17}})",
                field="extra",
                valid=17,
            )
        windows = _windows(_latent(frames), _latent(base), _latent(overlap)) if long else [_latent(frames)]
        if long and spec.inferred_task() == "i2v" and windows[-1] != windows[0]:
            _refuse_short_last_window(frames, _latent(base), _latent(overlap))
    if block is not None and block > 1:
        counts = windows + ([_latent(overlap)] if (long or spec.task == "extend") and overlap is not None else [])
        bad = [w for w in counts if w % block]
        if bad:
            raise SpecError(
                f"extra['causal_block_size']={block} must divide the latent frames of every window and of the overlap "
                f"({', '.join(map(str, counts))} for num_frames={frames}), and {bad[0]} isn't a multiple of it: "
                "pick a divisor, or num_frames, base_num_frames and overlap_history whose latent frames it divides",
                field="extra",
            )


def _check_extension(spec: CompleteSpec, extra: Mapping[str, Any], video: Any) -> None:
    """Video extension starts from the video's last overlap_history frames and generates num_frames frames from
    them: the video must have those frames, and num_frames must reach past them (else the pipeline runs no
    window and fails)."""
    overlap = extra.get("overlap_history")
    if overlap is None:
        overlap = default_overlap(int(extra.get("base_num_frames", BASE_NUM_FRAMES)))
    if overlap is None or isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 1:
        return  # check_long_video names the overlap's own problem
    if video is not None and len(video) < overlap:
        name = "extra['overlap_history']" if "overlap_history" in extra else "overlap_history (the default)"
        raise SpecError(
            f"video has {len(video)} frames, fewer than {name}={overlap}: video extension "
            "continues from the video's last overlap_history frames; pass a longer video or a smaller "
            f"overlap_history (4k+1, at most {len(video)})",
            field="video",
        )
    frames = spec.num_frames
    if _latent(frames) <= _latent(overlap):
        valid = (_latent(overlap)) * 4 + 1
        raise SpecError(
            f"num_frames={frames} adds nothing to the video: video extension generates num_frames frames, of which "
            f"the first overlap_history={overlap} remake the video's end, so num_frames must be at least {valid}",
            field="num_frames",
            valid=valid,
        )


def _check_df_scheduler(value: Any, card: ModelCard) -> None:
    """The diffusion-forcing pipelines step each frame's own scheduler with integer timesteps (rows of their step
    matrix), which the FlowMatch schedulers refuse (a ValueError mid-call)."""
    name = value if isinstance(value, str) else value.get("name") if isinstance(value, Mapping) else None
    if isinstance(name, str) and name.startswith("FlowMatch"):
        raise SpecError(
            f"scheduler={name!r} can't run {card.name}'s diffusion forcing: its pipeline steps every frame with "
            "integer timesteps, which the FlowMatch schedulers refuse; use scheduler='UniPCMultistepScheduler' (the "
            "checkpoint's) or 'DPMSolverMultistepScheduler'",
            field="scheduler",
            valid="UniPCMultistepScheduler",
        )


def _refuse_short_last_window(frames: int, base: int, overlap: int) -> None:
    """Image-to-video diffusion forcing fails on a last window shorter than the others (diffusers 0.42.1 indexes
    past it: IndexError), so the latent frames must be base + k × (base − overlap)."""
    stride = base - overlap
    latents = base + -(-(_latent(frames) - base) // stride) * stride
    valid = (latents - 1) * 4 + 1
    raise SpecError(
        f"num_frames={frames} leaves image-to-video diffusion forcing a last window shorter than the others, which "
        "its pipeline can't run (it fails inside diffusers); the windows must add up exactly: nearest valid value: "
        f"num_frames={valid} (or change base_num_frames/overlap_history)",
        field="num_frames",
        valid=valid,
    )


def default_overlap(base: int) -> int | None:
    """The overlap videogen passes for a long video whose spec names none: the pipelines' recommended 17, when it
    is below `base` in latent frames."""
    return DEFAULT_OVERLAP if _latent(DEFAULT_OVERLAP) < _latent(base) else None


def _windows(latents: int, base: int, overlap: int) -> list[int]:
    """The latent frames each window of a long video denoises (as the DF pipelines split it)."""
    count = 1 + (latents - base - 1) // (base - overlap) + 1
    sizes, done = [base], base
    for _ in range(1, count):
        left = latents - done
        sizes.append(min(left + overlap, base))
        done += sizes[-1] - overlap
    return sizes


@contextlib.contextmanager
def _keep_block_size(pipe: Any) -> Iterator[None]:
    """`causal_block_size` is written into the transformer's config: put the value back after the call."""
    transformer = getattr(pipe, "transformer", None)
    before = getattr(getattr(transformer, "config", None), "num_frame_per_block", None)
    try:
        yield
    finally:
        if transformer is not None and before is not None and transformer.config.num_frame_per_block != before:
            transformer.register_to_config(num_frame_per_block=before)


card = SkyReelsV2Family.card
I2V = {"guidance_scale": 5.0, "traits": {"scheduler": {**SkyReelsV2Family.scheduler, "flow_shift": 5.0}}}
T2V = {"traits": {"scheduler": {**SkyReelsV2Family.scheduler, "flow_shift": 8.0}}}
DF = {"pipelines": DF_PIPELINES, "steps": 30, **T2V}
DF_TASKS = ("t2v", "i2v", "extend")
P720 = {"height": 720, "width": 1280, "num_frames": 121}
CARDS = (
    card(
        "skyreels-v2-t2v-14b-540p",
        "Skywork/SkyReels-V2-T2V-14B-540P-Diffusers",
        ("t2v",),
        T2V,
        arch="skyreels-v2-t2v-14b",
        description="SkyReels-V2 text-to-video, 14B; 544x960, 24 fps",
    ),
    card(
        "skyreels-v2-t2v-14b-720p",
        "Skywork/SkyReels-V2-T2V-14B-720P-Diffusers",
        ("t2v",),
        T2V,
        P720,
        arch="skyreels-v2-t2v-14b",
        description="SkyReels-V2 text-to-video, 14B; 720p",
    ),
    card(
        "skyreels-v2-i2v-1.3b-540p",
        "Skywork/SkyReels-V2-I2V-1.3B-540P-Diffusers",
        ("i2v",),
        I2V,
        arch="skyreels-v2-i2v-1.3b",
        description="SkyReels-V2 image-to-video, 1.3B; 544x960",
    ),
    card(
        "skyreels-v2-i2v-14b-540p",
        "Skywork/SkyReels-V2-I2V-14B-540P-Diffusers",
        ("i2v",),
        I2V,
        arch="skyreels-v2-i2v-14b",
        description="SkyReels-V2 image-to-video, 14B; 544x960",
    ),
    card(
        "skyreels-v2-i2v-14b-720p",
        "Skywork/SkyReels-V2-I2V-14B-720P-Diffusers",
        ("i2v",),
        I2V,
        P720,
        arch="skyreels-v2-i2v-14b",
        description="SkyReels-V2 image-to-video, 14B; 720p",
    ),
    card(
        "skyreels-v2-df-1.3b-540p",
        "Skywork/SkyReels-V2-DF-1.3B-540P-Diffusers",
        DF_TASKS,
        DF,
        arch="skyreels-v2-df-1.3b",
        description="SkyReels-V2 diffusion forcing, 1.3B: long videos in overlapping windows (extra: base_num_frames, "
        "overlap_history, ar_step, causal_block_size, addnoise_condition); 544x960",
    ),
    card(
        "skyreels-v2-df-14b-540p",
        "Skywork/SkyReels-V2-DF-14B-540P-Diffusers",
        DF_TASKS,
        DF,
        arch="skyreels-v2-df-14b",
        description="SkyReels-V2 diffusion forcing, 14B: long videos; 544x960",
    ),
    card(
        "skyreels-v2-df-14b-720p",
        "Skywork/SkyReels-V2-DF-14B-720P-Diffusers",
        DF_TASKS,
        DF,
        P720,
        # one window by default (the pipelines' base_num_frames, 97): a longer video names its overlap_history
        num_frames=BASE_NUM_FRAMES,
        arch="skyreels-v2-df-14b",
        description="SkyReels-V2 diffusion forcing, 14B: long videos; 720p",
    ),
    # tiny random-weight models, built offline (videogen.families.tiny)
    card("tiny-skyreels_v2", None, ("t2v",), tiny="t2v", description="tiny random SkyReels-V2 T2V (tests, demo)"),
    card("tiny-skyreels_v2-i2v", None, ("i2v",), I2V, tiny="i2v", description="tiny random SkyReels-V2 I2V"),
    card(
        "tiny-skyreels_v2-df",
        None,
        DF_TASKS,
        {"pipelines": DF_PIPELINES},
        tiny="df",
        description="tiny random SkyReels-V2 diffusion forcing (t2v, i2v, extend; long videos in windows)",
    ),
)
FAMILY = SkyReelsV2Family(CARDS)
