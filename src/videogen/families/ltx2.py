"""LTX-2 (Lightricks): video *with sound* in one pass — text-to-video, image-to-video, conditioned generation.

One transformer denoises video and audio latents together; the video VAE decodes the frames, the audio VAE a
mel spectrogram and the vocoder the waveform, which videogen returns as `VideoResult.audio` (media/audio.py)
and muxes into a saved .mp4. The text encoder is Gemma 3 (its hidden states of every layer, through the
"connectors", condition both modalities).

Rules, checked before any weights load: num_frames 8k+1 (the video VAE compresses time ×8); height and width
multiples of 32 (the pipelines raise otherwise); at most `MAX_SECONDS` of video (num_frames / fps), and long
enough for one latent frame of audio (20 ms rounds up to it: a frame at 240 fps is too short); the
video's `fps` is the pipeline's `frame_rate` (it sets the audio's length and the transformer's time
coordinates), so `extra["frame_rate"]` is refused. `extra["min_seconds"]` / `extra["max_seconds"]` bound the
duration head's guess, which runs only without num_frames; videogen always passes num_frames, so they are
refused rather than ignored.

The guidance knobs are the pipeline's own names, in `extra`: `guidance_scale` (the spec field; video CFG),
`audio_guidance_scale`, `stg_scale` / `audio_stg_scale` (spatio-temporal guidance, at the transformer blocks
`spatio_temporal_guidance_blocks`: each below the transformer's layer count, checked from its config),
`modality_scale` / `audio_modality_scale` (modality-isolation guidance), `guidance_rescale` /
`audio_guidance_rescale`. Custom schedules go in `extra["sigmas"]` (they set the step count; the distilled
card uses its documented ones); `extra["timesteps"]` is refused: the pipeline always passes sigmas too.

Image conditions are re-compressed with H.264 at the CRF the model was trained with (33) before encoding,
which needs PyAV (`pip install av`); `extra["image_crf"]=0` (image-to-video) or `"crf": 0` in a condition skips
it. The tiny models skip it.

Two stages (`extra["two_stage"]`, text-to-video): the recipe diffusers documents for LTX-2 — stage 1 at half the
height and width, its latents doubled by the latent upsampler (LTX2LatentUpsamplePipeline), stage 2 refining them
at the spec's size with the stage-2 distilled sigmas (three steps, renoised at the first, no guidance), the audio
latents carried over. `True` takes the card's own upsampler (its `latent_upsampler` subfolder); a string names a
Hub id or folder of one. Checkpoints whose stage 2 needs the distilled LoRA (the dev ones) refuse it. When prompt
enhancement runs, the enhanced prompt is recorded (`metadata["prompt_enhancement"]`) and stage 2 reuses it.

Conditioned generation (LTX2ConditionPipeline) places images and clips at frame indices:
`image` at frame 0, `last_image` at the last frame, `video` from frame 0, or a list
`extra={"conditions": [{"image": "a.png", "frame_index": 0}, {"video": "b.mp4", "frame_index": 40,
"strength": 0.8}]}` (each entry: exactly one of image / video, frame_index in [0, num_frames), strength in
[0, 1]; snap=True clamps both; an image's optional "crf" as above).
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ..spec.numbers import whole_int
from ._common import DIT_CACHE_METHODS
from .base import NO_MEDIA, Checked, Family

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules
    from .card import ModelCard

ALL_TASKS = ("t2v", "i2v", "conditioned")
#: the longest video the LTX-2 pipelines make (their `max_seconds` default)
MAX_SECONDS = 20.0
#: the most frames any spec can ask for: 20 s at 60 fps (LTX-2 conditions faster rates at 60), 8k+1; the duration
#: rule (`_check_duration`) bounds the frames at the spec's own fps
MAX_FRAMES = 8 * ((int(MAX_SECONDS * 60) - 1) // 8) + 1
#: the audio's latent frames per second (16 kHz mel, hop 160, the audio VAE ×4 in time): the pipelines make
#: round(num_frames / fps × this) of them, and none at all is a crash inside the transformer
AUDIO_LATENTS_PER_SECOND = 16000 / 160 / 4
#: extra keys of the duration head, which videogen never runs (it always passes num_frames)
DURATION_KEYS = ("min_seconds", "max_seconds")
#: TaylorSeer's modules on LTX-2: each stream's attention and feed-forward and the cross-modal attention
TAYLORSEER_MODULES = r"transformer_blocks\.\d+\.((audio_)?(attn\d|ff)|(audio_to_video|video_to_audio)_attn)"
#: the distilled checkpoints' schedule (diffusers.pipelines.ltx2.utils.DISTILLED_SIGMA_VALUES)
DISTILLED_SIGMAS = [1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875]
#: what the LTX-2 repos ship and the tiny builder writes: dynamic shifting, stretched to 0.1
SCHEDULER = {
    "_class_name": "FlowMatchEulerDiscreteScheduler",
    "use_dynamic_shifting": True,
    "base_shift": 0.95,
    "max_shift": 2.05,
    "base_image_seq_len": 1024,
    "max_image_seq_len": 4096,
    "shift_terminal": 0.1,
}
#: LTX-2.0's recommended settings (the pipeline's own defaults are LTX-2.3's): STG at block 29, the legacy
#: cross-modality timestep
LTX2_0_CALL = {"spatio_temporal_guidance_blocks": [29], "use_cross_timestep": False}
#: the second stage of the two-stage recipe (diffusers.pipelines.ltx2.utils.STAGE_2_DISTILLED_SIGMA_VALUES)
STAGE_2_SIGMAS = [0.909375, 0.725, 0.421875]
#: the `extra` key asking for the two stages (read by the family, never passed to the pipeline)
TWO_STAGE = "two_stage"
#: the distilled checkpoints: the documented sigmas, no guidance of any kind
DISTILLED_CALL = {
    "sigmas": DISTILLED_SIGMAS,
    "stg_scale": 0.0,
    "audio_stg_scale": 0.0,
    "modality_scale": 1.0,
    "audio_modality_scale": 1.0,
    "audio_guidance_scale": 1.0,
    "guidance_rescale": 0.0,
    "audio_guidance_rescale": 0.0,
}


class LTX2Family(Family):
    name = "ltx2"
    pipelines = MappingProxyType(
        {"t2v": "LTX2Pipeline", "i2v": "LTX2ImageToVideoPipeline", "conditioned": "LTX2ConditionPipeline"}
    )
    card_defaults = {
        "height": 512,
        "width": 768,
        "num_frames": 121,
        "fps": 24,
        "steps": 30,
        "guidance_scale": 3.0,
        "frame_rule": (8, 1),
        "size_multiple": 32,
        "max_frames": MAX_FRAMES,
        "dtypes": {"default": "bfloat16"},
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 9, "steps": 2}
    flow_matching = True
    makes_sound = True
    scheduler = SCHEDULER
    context_parallel = True  # LTX2VideoTransformer3DModel has a `_cp_plan` (diffusers 0.42.1)
    own_extra = frozenset({TWO_STAGE})
    # step caches, as measured on tiny-ltx2 with diffusers 0.42.1 and cache-dit 1.5: TaylorSeer runs (its DiT
    # defaults; here on both streams' attention and feed-forward modules); the others fail on this transformer,
    # whose blocks carry the video and the audio streams together
    cache_methods = {"taylorseer": DIT_CACHE_METHODS["taylorseer"]}
    cache_hook_settings = {"taylorseer": {"cache_identifiers": [TAYLORSEER_MODULES]}}
    cache_auto = ("taylorseer",)
    cache_refused = {
        "fbc": "diffusers' First Block Cache has no entry for LTX2VideoTransformerBlock (its blocks return the "
        "video and the audio streams), so it can't hook this transformer",
        "magcache": "MagCache hooks the first and last transformer blocks through the same block registry as First "
        "Block Cache, which has no entry for LTX2VideoTransformerBlock",
        "pab": "Pyramid Attention Broadcast fails on LTX-2's attention (the audio stream's heads differ from the "
        "video's: a shape mismatch in diffusers 0.42.1)",
        "fastercache": "FasterCache fails on LTX-2's transformer in diffusers 0.42.1 (an assertion in its hook)",
        "dbcache": "cache-dit's LTX-2 adapter doesn't take the `sigma` argument LTX2Pipeline passes its transformer",
    }

    # ---- validation ----------------------------------------------------------------------------
    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        spec, media = super().check(spec, card, rules, media)
        extra = spec.extra
        if "frame_rate" in extra:
            raise SpecError(
                f"extra['frame_rate']: LTX-2's frame_rate is the video's fps (it sets the audio's length too); "
                f"pass fps={extra['frame_rate']!r} instead (now fps={spec.fps})",
                field="extra",
                valid=spec.fps,
            )
        for key in DURATION_KEYS:
            if key in extra:
                raise SpecError(
                    f"extra[{key!r}] bounds the duration head's guess, which runs only without num_frames, and "
                    f"videogen always passes num_frames: set the length with num_frames (seconds × fps, 8k+1; "
                    f"now {spec.num_frames} at {spec.fps} fps) and leave {key} out",
                    field="extra",
                )
        if "timesteps" in extra:
            raise SpecError(
                "extra['timesteps']: the LTX-2 pipelines always pass sigmas, and diffusers refuses both; give the "
                f"schedule as extra['sigmas'] (e.g. the distilled {DISTILLED_SIGMAS}) or use steps=N",
                field="extra",
            )
        spec = _check_duration(spec, rules)
        if "sigmas" in extra:
            spec = spec.replace(steps=len(_sigmas(extra["sigmas"])))
        else:
            sigmas = card.call_defaults.get("sigmas")
            if sigmas is not None and "steps" in rules.given and spec.steps != len(sigmas):
                raise SpecError(
                    f"steps={spec.steps}: {card.name} runs its {len(sigmas)} documented sigmas; leave steps out "
                    f"or give the schedule as extra['sigmas'] (a list of {spec.steps} descending numbers in (0, 1])",
                    field="steps",
                    valid=len(sigmas),
                )
        _check_stg(spec, card)
        _check_enhancement(spec, card)
        spec = _check_two_stage(spec, card, rules)
        if spec.task != "conditioned":
            if "conditions" in extra:
                raise SpecError(
                    f"extra['conditions'] only applies to task='conditioned' (LTX2ConditionPipeline); pass "
                    f"task='conditioned' or leave it out (task is {spec.task!r})",
                    field="extra",
                )
            if spec.task == "i2v":
                _check_image_crf(card, "extra['image_crf']", spec.extra.get("image_crf"), "extra={'image_crf': 0}")
            return Checked(spec, media)
        conditions = conditions_for(spec, media, rules)
        for i, c in enumerate(conditions):
            if "image" in c:
                label = f"extra['conditions'][{i}]['crf']" if "conditions" in extra else "image"
                zero = "{'image': ..., 'crf': 0} in extra['conditions']"
                _check_image_crf(card, label, c.get("crf"), zero)
        return Checked(spec, {**media, MEDIA_KEY: conditions})

    def check_components(self, spec: CompleteSpec, card: ModelCard, configs: Mapping[str, Mapping[str, Any]]) -> None:
        """STG blocks name transformer blocks: each must be below the transformer's `num_layers`."""
        layers = configs.get("transformer", {}).get("num_layers", 48)
        blocks = _call_value(spec, card, "spatio_temporal_guidance_blocks")
        if not _stg_on(spec, card) or not blocks:
            return
        wrong = [b for b in blocks if not 0 <= b < int(layers)]
        if wrong:
            raise SpecError(
                f"extra['spatio_temporal_guidance_blocks']={list(blocks)}: {card.name}'s transformer has {layers} "
                f"blocks, so each index must be in [0, {int(layers) - 1}]; e.g. [{int(layers) - 1}]",
                field="extra",
                valid=[int(layers) - 1],
            )

    # ---- calling -------------------------------------------------------------------------------
    def call_kwargs(
        self, spec: CompleteSpec, card: ModelCard, media: Mapping[str, Any], params: AbstractSet[str]
    ) -> dict[str, Any]:
        if spec.task == "conditioned":
            media = {k: v for k, v in media.items() if k not in ("image", "last_image", "video")}
        kwargs = super().call_kwargs(spec, card, media, params)
        kwargs["frame_rate"] = float(spec.fps)
        if spec.task == "conditioned":
            from diffusers.pipelines.ltx2 import LTX2VideoCondition

            conditions = media.get(MEDIA_KEY)
            if conditions is None:
                conditions = conditions_for(spec, media, None)
            crf = card.call_defaults.get("image_crf")  # the card's, where a condition gives none
            kwargs["conditions"] = [
                LTX2VideoCondition(
                    frames=c.get("image", c.get("video")),
                    index=c["frame_index"],
                    strength=c["strength"],
                    crf=c.get("crf", crf) if "image" in c else None,
                )
                for c in conditions
            ]
        return kwargs

    def total_steps(self, spec: CompleteSpec, call_kwargs: Mapping[str, Any]) -> int:
        sigmas = call_kwargs.get("sigmas")
        first = len(sigmas) if sigmas is not None else int(spec.steps or 0)
        return first + (len(STAGE_2_SIGMAS) if _two_stage(spec) else 0)

    def schedule_steps(self, spec: CompleteSpec, call_kwargs: Mapping[str, Any]) -> int:
        sigmas = call_kwargs.get("sigmas")
        return len(sigmas) if sigmas is not None else int(spec.steps or 0)

    def cache_refusal(self, spec: CompleteSpec, card: ModelCard, method: str) -> str | None:
        if _two_stage(spec):
            return (
                f"extra['{TWO_STAGE}'] runs two schedules, and {method} would carry what it caches from stage 1's "
                "steps into stage 2's"
            )
        return None

    def call(self, pipe: Any, kwargs: dict[str, Any], spec: CompleteSpec) -> tuple[Any, dict[str, Any]]:
        """One call, or the two stages (`extra["two_stage"]`); records the enhanced prompt when enhancement runs."""
        record: dict[str, Any] = {}
        with _recording_enhancement(pipe, kwargs, record):
            if not _two_stage(spec):
                return pipe(**kwargs), record
            return _two_stages(pipe, kwargs, spec, record), record

    def audio(self, output: Any, pipe: Any) -> tuple[Any, int] | None:
        """The first video's waveform (channels × samples, float32) and the vocoder's sample rate."""
        import numpy as np

        waveform = output.audio[0]
        if hasattr(waveform, "detach"):
            waveform = waveform.detach().float().cpu().numpy()
        return np.asarray(waveform, dtype=np.float32), int(pipe.vocoder.config.output_sampling_rate)

    # ---- tiny models ---------------------------------------------------------------------------
    def build_tiny(self, variant: str, folder: Path) -> None:
        """The tiny LTX-2 ("t2v"; every task loads it): every component random and small, the video VAE ×8 in
        space and time, the audio side at the real rates (16 kHz mel, hop 160; the vocoder ×240 to 24 kHz)."""
        import diffusers
        from diffusers.pipelines.ltx2 import LTX2TextConnectors
        from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

        if variant != "t2v":
            raise ValueError(f"unknown tiny ltx2 variant {variant!r}")
        hidden, layers = 16, 2
        text_encoder = tiny_gemma3(hidden, layers)
        transformer = diffusers.LTX2VideoTransformer3DModel(
            in_channels=4,
            out_channels=4,
            num_attention_heads=2,
            attention_head_dim=8,
            cross_attention_dim=16,
            vae_scale_factors=(8, 8, 8),
            audio_in_channels=4,
            audio_out_channels=4,
            audio_num_attention_heads=2,
            audio_attention_head_dim=4,
            audio_cross_attention_dim=8,
            num_layers=2,  # STG perturbs one block, First Block Cache would need two
            caption_channels=hidden,
            rope_double_precision=False,
            rope_type="split",
        )
        connectors = LTX2TextConnectors(
            caption_channels=hidden,
            text_proj_in_factor=layers + 1,  # every hidden state of the text encoder, the embeddings' included
            video_connector_num_attention_heads=2,
            video_connector_attention_head_dim=8,
            video_connector_num_layers=1,
            video_connector_num_learnable_registers=None,
            audio_connector_num_attention_heads=2,
            audio_connector_attention_head_dim=8,
            audio_connector_num_layers=1,
            audio_connector_num_learnable_registers=None,
            connector_rope_base_seq_len=32,
            rope_double_precision=False,
            rope_type="split",
        )
        three = ("LTX2VideoDownBlock3D",) * 3
        vae = diffusers.AutoencoderKLLTX2Video(
            latent_channels=4,
            block_out_channels=(8, 8, 8),
            decoder_block_out_channels=(8, 8, 8),
            down_block_types=three,
            downsample_type=("spatiotemporal",) * 3,
            upsample_type=("spatiotemporal",) * 3,
            layers_per_block=(1,) * 4,
            decoder_layers_per_block=(1,) * 4,
            spatio_temporal_scaling=(True,) * 3,
            decoder_spatio_temporal_scaling=(True,) * 3,
            decoder_inject_noise=(False,) * 4,
            upsample_residual=(False,) * 3,
            upsample_factor=(1,) * 3,
            patch_size=1,
            encoder_causal=True,
            decoder_causal=False,
        )
        audio_vae = diffusers.AutoencoderKLLTX2Audio(
            base_channels=4,
            output_channels=2,
            ch_mult=(1,),
            num_res_blocks=1,
            resolution=32,
            latent_channels=2,
            sample_rate=16000,
            mel_hop_length=160,
            mel_bins=8,
        )
        vocoder = LTX2Vocoder(
            in_channels=2 * 8,  # the audio VAE's output channels × mel bins
            hidden_channels=32,
            out_channels=2,
            upsample_kernel_sizes=[12, 10, 16],
            upsample_factors=[6, 5, 8],  # ×240: hop 160 at 16 kHz → 24 kHz, as the real vocoder
            resnet_kernel_sizes=[3],
            resnet_dilations=[[1, 3, 5]],
            output_sampling_rate=24000,
        )
        scheduler = diffusers.FlowMatchEulerDiscreteScheduler(
            **{k: v for k, v in SCHEDULER.items() if k != "_class_name"}
        )
        diffusers.LTX2ConditionPipeline(
            scheduler=scheduler,
            vae=vae,
            audio_vae=audio_vae,
            text_encoder=text_encoder,
            tokenizer=tiny_gemma_tokenizer(),
            connectors=connectors,
            transformer=transformer,
            vocoder=vocoder,
        ).save_pretrained(folder)
        tiny_latent_upsampler(4).save_pretrained(folder / "latent_upsampler")  # `two_stage=True` takes it


def tiny_latent_upsampler(latent_channels: int) -> Any:
    """A tiny random LTX2LatentUpsamplerModel (×2 in height and width) for latents of `latent_channels`."""
    from diffusers.pipelines.ltx2 import LTX2LatentUpsamplerModel

    return LTX2LatentUpsamplerModel(
        in_channels=latent_channels,
        mid_channels=32,  # its GroupNorm takes 32 groups
        num_blocks_per_stage=1,
        dims=3,
        spatial_upsample=True,
        temporal_upsample=False,
        rational_spatial_scale=2.0,
        use_rational_resampler=False,
    )


def tiny_gemma_tokenizer() -> Any:
    """A Gemma (BPE, no merges) tokenizer over characters: <pad>=0, <eos>=1, <bos>=2, <unk>=3; ids below 100."""
    import string

    from transformers import GemmaTokenizer

    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<mask>": 4}
    for c in string.ascii_lowercase + string.digits + string.punctuation + "\u2581":
        vocab.setdefault(c, len(vocab))
    return GemmaTokenizer(vocab=vocab, merges=[])


def tiny_gemma3(hidden: int, layers: int) -> Any:
    """A tiny Gemma 3 (text and SigLIP vision towers) whose ids fit `tiny_gemma_tokenizer`'s."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    config = Gemma3Config(
        text_config=dict(
            vocab_size=128,
            hidden_size=hidden,
            intermediate_size=32,
            num_hidden_layers=layers,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=8,
            max_position_embeddings=256,
            sliding_window=16,
        ),
        vision_config=dict(
            hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=8, patch_size=4
        ),
        mm_tokens_per_image=4,
        boi_token_index=120,  # above the tokenizer's ids: no text token is an image token
        eoi_token_index=121,
        image_token_index=122,
    )
    return Gemma3ForConditionalGeneration(config).eval()


# ---- rules ------------------------------------------------------------------------------------------
def _check_duration(spec: CompleteSpec, rules: Rules) -> CompleteSpec:
    """At most `MAX_SECONDS` of video: num_frames / fps, snapped down to the longest 8k+1 count that fits; and at
    least one latent frame of audio, snapped up to the shortest 8k+1 count that makes one."""
    fps = spec.fps
    frames = spec.num_frames
    if round(frames / fps * AUDIO_LATENTS_PER_SECOND) < 1:
        shortest = next(n for n in range(1, 8 * fps + 2, 8) if round(n / fps * AUDIO_LATENTS_PER_SECOND) >= 1)
        rule = (
            f"the sound needs at least one latent frame of audio ({1000 / AUDIO_LATENTS_PER_SECOND:g} ms): at {fps} "
            f"fps that is {shortest} frames (8k+1) or more"
        )
        return spec.replace(num_frames=rules.fix("num_frames", frames, shortest, rule))
    if frames / fps <= MAX_SECONDS:
        return spec
    longest = 8 * ((int(MAX_SECONDS * fps) - 1) // 8) + 1
    rule = f"LTX-2 makes at most {MAX_SECONDS:g} s of video; at {fps} fps that is {longest} frames (8k+1)"
    return spec.replace(num_frames=rules.fix("num_frames", frames, longest, rule))


def _sigmas(value: Any) -> list[float]:
    if (
        not isinstance(value, (list, tuple))
        or not value
        or not all(isinstance(s, numbers.Real) and not isinstance(s, bool) and 0 < float(s) <= 1 for s in value)
        or any(a <= b for a, b in zip(value, value[1:]))
    ):
        raise SpecError(
            f"extra['sigmas']={value!r} must be a list of descending numbers in (0, 1], e.g. {DISTILLED_SIGMAS}",
            field="extra",
        )
    return [float(s) for s in value]


def _call_value(spec: CompleteSpec, card: ModelCard, key: str) -> Any:
    """What the call passes for `key`: the spec's extra, else the card's call default, else the pipeline's."""
    defaults = {"stg_scale": 1.0, "audio_stg_scale": 1.0, "spatio_temporal_guidance_blocks": [28]}
    return spec.extra.get(key, card.call_defaults.get(key, defaults.get(key)))


def _stg_on(spec: CompleteSpec, card: ModelCard) -> bool:
    # the pipeline's rule: an audio scale of None or 0 falls back to the video's (`audio_stg_scale or stg_scale`)
    video = _call_value(spec, card, "stg_scale") or 0.0
    return video > 0 or (_call_value(spec, card, "audio_stg_scale") or video) > 0


def _check_stg(spec: CompleteSpec, card: ModelCard) -> None:
    blocks = _call_value(spec, card, "spatio_temporal_guidance_blocks")
    if blocks is not None and (
        not isinstance(blocks, (list, tuple))
        or not all(isinstance(b, numbers.Integral) and not isinstance(b, bool) for b in blocks)
    ):
        raise SpecError(
            f"extra['spatio_temporal_guidance_blocks']={blocks!r} must be a list of transformer block indices, "
            "e.g. [28]",
            field="extra",
        )
    if _stg_on(spec, card) and not blocks:
        raise SpecError(
            "extra['spatio_temporal_guidance_blocks'] is empty while STG is on (stg_scale or audio_stg_scale > 0): "
            "name the blocks STG perturbs, e.g. [28] (LTX-2.3) or [29] (LTX-2.0), or set "
            "extra={'stg_scale': 0.0, 'audio_stg_scale': 0.0}",
            field="extra",
        )


def _check_enhancement(spec: CompleteSpec, card: ModelCard) -> None:
    """Prompt enhancement (`extra["enable_prompt_enhancement"]`): LTX-2.0 and 2.3 rewrite the prompt with their own
    Gemma 3 text encoder, through the checkpoint's `processor` and a system prompt the caller gives."""
    if not spec.extra.get("enable_prompt_enhancement"):
        return
    if card.traits.get("processor") is False:
        raise SpecError(
            f"extra['enable_prompt_enhancement']: {card.name} ships no processor (the chat template and image "
            "processor enhancement runs through), so it can't enhance prompts; leave it out",
            field="extra",
        )
    if not spec.extra.get("system_prompt"):
        raise SpecError(
            "extra['enable_prompt_enhancement']: LTX-2.0 and 2.3 enhance the prompt with their own Gemma 3 text "
            "encoder, which needs the instructions it rewrites the prompt by: extra['system_prompt'] (e.g. "
            "'Rewrite the prompt as one detailed paragraph describing the scene, motion and sound')",
            field="extra",
        )


def _check_crf_value(label: str, crf: Any) -> None:
    if crf is not None and (isinstance(crf, bool) or not isinstance(crf, numbers.Integral) or not 0 <= int(crf) <= 51):
        raise SpecError(f"{label}={crf!r} must be a whole number in [0, 51] (0: no re-compression)", field="extra")


def _check_image_crf(card: ModelCard, label: str, crf: Any, zero: str) -> None:
    """An image condition is re-compressed with H.264 (PyAV) unless its CRF (`crf`, else the card's) is 0; `zero`
    says how to give 0."""
    crf = crf if crf is not None else card.call_defaults.get("image_crf")
    _check_crf_value(label, crf)
    if crf == 0:
        return
    import importlib.util

    if importlib.util.find_spec("av") is None:
        raise SpecError(
            f"{label}: LTX-2 re-compresses image conditions with H.264 at the CRF it was trained with, which needs "
            f"PyAV: pip install av; or pass {zero} to skip the re-compression",
            field="image" if label == "image" else "extra",
        )


# ---- two stages, prompt enhancement ------------------------------------------------------------------
def _two_stage(spec: CompleteSpec) -> bool:
    return spec.extra.get(TWO_STAGE) not in (None, False)


def _check_two_stage(spec: CompleteSpec, card: ModelCard, rules: Rules) -> CompleteSpec:
    """`extra["two_stage"]`: True (the card's upsampler) or where an upsampler is; text-to-video on a checkpoint
    whose stage 2 needs no LoRA; the size a multiple of twice the card's (stage 1 runs at half of it)."""
    value = spec.extra.get(TWO_STAGE)
    if value is None or value is False:
        return spec
    if value is not True and not (isinstance(value, str) and value.strip()):
        raise SpecError(
            f"extra['{TWO_STAGE}']={value!r} must be True (the model's own latent upsampler) or the Hub id or folder "
            "of an LTX2LatentUpsamplerModel, e.g. extra={'two_stage': True}",
            field="extra",
        )
    if spec.task != "t2v":
        raise SpecError(
            f"extra['{TWO_STAGE}'] runs text-to-video only (LTX2Pipeline, as diffusers documents the recipe); "
            f"task is {spec.task!r}: use task='t2v' or leave two_stage out",
            field="extra",
        )
    if not card.traits.get(TWO_STAGE):
        raise SpecError(
            f"extra['{TWO_STAGE}']: {card.name}'s second stage, as diffusers documents it, refines with the distilled "
            "LoRA (e.g. ltx-2-19b-distilled-lora-384), which videogen doesn't apply to one stage only; use a "
            "distilled checkpoint (ltx-2.3-distilled), whose second stage needs no LoRA, or leave two_stage out",
            field="extra",
        )
    if value is True and not card.traits.get("latent_upsampler"):
        raise SpecError(
            f"extra['{TWO_STAGE}']=True: {card.name} ships no latent upsampler in diffusers format; name one: "
            "extra={'two_stage': '<Hub id or folder of an LTX2LatentUpsamplerModel>'}",
            field="extra",
        )
    if isinstance(value, str) and not _upsampler_location(value):
        raise SpecError(
            f"extra['{TWO_STAGE}']={value!r} is neither a folder holding an LTX2LatentUpsamplerModel (its config.json, "
            "or a latent_upsampler/ subfolder) nor a Hub id ('org/name')",
            field="extra",
        )
    multiple = 2 * card.size_multiple
    for name in ("height", "width"):
        size = int(getattr(spec, name))
        valid = max(multiple, round(size / multiple) * multiple)
        rule = (
            f"with two_stage a multiple of {multiple} (stage 1 runs at half of it, a multiple of {card.size_multiple})"
        )
        spec = spec.replace(**{name: rules.fix(name, size, valid, rule)})
    return spec


def _upsampler_location(value: Any) -> tuple[str, str | None] | None:
    """Where `extra["two_stage"]`'s upsampler loads from: (folder or Hub id, subfolder), or None if it is neither."""
    import re

    if value is True:
        return None
    folder = Path(value).expanduser()
    if (folder / "latent_upsampler" / "config.json").is_file():
        return str(folder), "latent_upsampler"
    if (folder / "config.json").is_file():
        return str(folder), None
    if not folder.exists() and re.fullmatch(r"[\w.-]+/[\w.-]+", value):
        return value, "latent_upsampler"  # a Hub repo laid out as LTX2LatentUpsamplePipeline
    return None


def _latent_upsampler(pipe: Any, value: Any) -> Any:
    """The upsampler `extra["two_stage"]` names, loaded once per cached pipeline, on its device and in the VAE's
    dtype (True: the `latent_upsampler` subfolder of the pipeline's own checkpoint)."""
    from diffusers.pipelines.ltx2 import LTX2LatentUpsamplerModel

    from ..runtime.lock import LOAD_LOCK

    loaded = pipe.__dict__.setdefault("_videogen_latent_upsamplers", {})
    if value not in loaded:
        where = (pipe.name_or_path, "latent_upsampler") if value is True else _upsampler_location(value)
        if where is None:
            raise SpecError(f"extra['{TWO_STAGE}']={value!r}: no latent upsampler there", field="extra")
        with LOAD_LOCK:
            model = LTX2LatentUpsamplerModel.from_pretrained(where[0], subfolder=where[1], torch_dtype=pipe.vae.dtype)
        loaded[value] = model.eval()
    return loaded[value].to(pipe._execution_device)


def _two_stages(pipe: Any, kwargs: dict[str, Any], spec: CompleteSpec, record: dict[str, Any]) -> Any:
    """Stage 1 at half the size (latents out), the latents doubled, stage 2 at the spec's size from them and the
    audio latents: diffusers' documented two-stage recipe, on the pipeline already loaded."""
    from diffusers.pipelines.ltx2 import LTX2LatentUpsamplePipeline

    height, width = int(kwargs["height"]), int(kwargs["width"])
    first = pipe(**{**kwargs, "height": height // 2, "width": width // 2, "output_type": "latent"})
    upsampler = LTX2LatentUpsamplePipeline(
        vae=pipe.vae, latent_upsampler=_latent_upsampler(pipe, spec.extra[TWO_STAGE])
    )
    upsampler.set_progress_bar_config(disable=True)
    latents = upsampler(latents=first.frames, output_type="latent", return_dict=False)[0]
    enhanced = record.get("prompt_enhancement", {}).get("enhanced_prompt")
    second = {
        **kwargs,
        "latents": latents,
        "audio_latents": first.audio,
        "sigmas": STAGE_2_SIGMAS,
        "num_inference_steps": len(STAGE_2_SIGMAS),
        "noise_scale": STAGE_2_SIGMAS[0],  # renoised at its first sigma
        "guidance_scale": 1.0,
        "enable_prompt_enhancement": False,  # stage 1 enhanced it: the same prompt again
    }
    if enhanced is not None:
        second["prompt"] = enhanced
    record["two_stage"] = {
        "stage_1": {"height": height // 2, "width": width // 2, "steps": len(kwargs.get("sigmas") or []) or spec.steps},
        "upsampler": "latent_upsampler (the checkpoint's own)"
        if spec.extra[TWO_STAGE] is True
        else spec.extra[TWO_STAGE],
        "stage_2": {
            "height": height,
            "width": width,
            "sigmas": STAGE_2_SIGMAS,
            "noise_scale": STAGE_2_SIGMAS[0],
            "guidance_scale": 1.0,
        },
    }
    return pipe(**second)


@contextlib.contextmanager
def _recording_enhancement(pipe: Any, kwargs: Mapping[str, Any], record: dict[str, Any]) -> Iterator[None]:
    """While enhancement is asked for, the pipeline's `enhance_prompt` also writes what it returns into `record`
    (`prompt_enhancement`: the enhanced prompt and the system prompt): the prompt the video was made from."""
    if not kwargs.get("enable_prompt_enhancement") or not hasattr(pipe, "enhance_prompt"):
        yield
        return
    original = pipe.enhance_prompt

    def recorded(*args: Any, **kw: Any) -> Any:
        enhanced = original(*args, **kw)
        texts = list(enhanced) if isinstance(enhanced, (list, tuple)) else [enhanced]
        record["prompt_enhancement"] = {
            "enhanced_prompt": texts[0] if len(texts) == 1 else texts,
            "system_prompt": kw.get("system_prompt"),
            "seed": kw.get("seed"),
        }
        return enhanced

    pipe.__dict__["enhance_prompt"] = recorded  # this call only: the instance's attribute shadows the method
    try:
        yield
    finally:
        pipe.__dict__.pop("enhance_prompt", None)


# ---- conditions -------------------------------------------------------------------------------------
#: the media key of the loaded conditions `check` returns for `call_kwargs`
MEDIA_KEY = "ltx2_conditions"


def _fix(rules: Rules | None, label: str, value: Any, valid: Any, rule: str) -> Any:
    if rules is not None:
        return rules.fix(label, value, valid, rule, field="extra")
    if value != valid:
        raise SpecError(f"{label}={value!r}: {rule}; nearest valid value: {valid!r}", field="extra", valid=valid)
    return value


def _frame_index(rules: Rules | None, label: str, value: Any, num_frames: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != math.floor(value):
        raise SpecError(f"{label}={value!r} must be a whole frame number in [0, {num_frames})", field="extra", valid=0)
    index = whole_int(value)
    rule = f"frame_index must be in [0, num_frames) = [0, {num_frames})"
    return int(_fix(rules, label, index, min(max(index, 0), num_frames - 1), rule))


def _strength(rules: Rules | None, label: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise SpecError(f"{label}={value!r} must be a number in [0, 1]", field="extra", valid=1.0)
    return float(_fix(rules, label, float(value), min(max(float(value), 0.0), 1.0), "strength must be in [0, 1]"))


def conditions_for(spec: CompleteSpec, media: Mapping[str, Any], rules: Rules | None) -> list[dict[str, Any]]:
    """The conditions of a task="conditioned" spec, checked and loaded: dicts of image or video, frame_index
    and strength."""
    from ..media.read import to_frames, to_pil

    num_frames = spec.num_frames
    items = spec.extra.get("conditions")
    if items is None:
        given = [k for k in ("image", "video", "last_image") if media.get(k) is not None]
        if not given:
            raise SpecError(
                "image: conditioned generation needs at least one condition: image=... (frame 0), video=... "
                "(from frame 0), last_image=... (the last frame), or extra={'conditions': [{'image': ..., "
                "'frame_index': n}, ...]}",
                field="image",
            )
        return [
            {
                "video" if name == "video" else "image": media[name],
                "frame_index": num_frames - 1 if name == "last_image" else 0,
                "strength": 1.0,
            }
            for name in given
        ]
    for name in ("image", "last_image", "video"):
        if getattr(spec, name) is not None:
            raise SpecError(
                f"{name}: with extra['conditions'] list every condition there; leave {name} out", field=name
            )
    if not isinstance(items, (list, tuple)) or not items:
        raise SpecError(
            "extra['conditions'] must be a non-empty list, e.g. [{'image': 'a.png', 'frame_index': 0}]", field="extra"
        )
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        label = f"extra['conditions'][{i}]"
        if not isinstance(item, Mapping) or set(item) - {"image", "video", "frame_index", "strength", "crf"}:
            raise SpecError(
                f"{label} must be a dict with image or video, frame_index, strength and (images) crf, e.g. "
                "{'image': 'a.png', 'frame_index': 0, 'strength': 1.0}",
                field="extra",
            )
        kinds = [k for k in ("image", "video") if item.get(k) is not None]
        if len(kinds) != 1:
            raise SpecError(f"{label} needs exactly one of 'image' or 'video'", field="extra")
        kind = kinds[0]
        try:
            loaded = to_pil(item[kind], f"{label}['image']") if kind == "image" else to_frames(item[kind], label)
        except SpecError as exc:
            raise SpecError(str(exc), field="extra") from None
        entry = {
            kind: loaded,
            "frame_index": _frame_index(rules, f"{label}['frame_index']", item.get("frame_index", 0), num_frames),
            "strength": _strength(rules, f"{label}['strength']", item.get("strength", 1.0)),
        }
        if item.get("crf") is not None:
            if kind != "image":
                raise SpecError(
                    f"{label}['crf']: only image conditions are re-compressed; leave crf out", field="extra"
                )
            _check_crf_value(f"{label}['crf']", item["crf"])
            entry["crf"] = int(item["crf"])
        out.append(entry)
    return out


card = LTX2Family.card
CARDS = (
    card(
        "ltx-2",
        "Lightricks/LTX-2",
        ALL_TASKS,
        arch="ltx2-19b",
        call_defaults=LTX2_0_CALL,
        traits={"latent_upsampler": "latent_upsampler"},  # two stages need the distilled LoRA too: refused
        description="LTX-2 19B: video with synchronized audio, text/image-to-video and keyframes; 512x768 at 24 fps",
    ),
    card(
        "ltx-2.3",
        "diffusers/LTX-2.3-Diffusers",
        ALL_TASKS,
        arch="ltx2.3-22b",
        description="LTX-2.3 22B: video with audio; STG at block 28, modality guidance, audio guidance 7",
    ),
    card(
        "ltx-2.3-distilled",
        "diffusers/LTX-2.3-Distilled-Diffusers",
        ALL_TASKS,
        arch="ltx2.3-22b",  # distillation keeps the architecture
        traits={TWO_STAGE: True},  # its stage 2 needs no LoRA (its upsampler: extra={'two_stage': '<where>'})
        steps=len(DISTILLED_SIGMAS),
        guidance_scale=1.0,
        call_defaults=DISTILLED_CALL,
        description="LTX-2.3 22B distilled: video with audio in 8 steps without guidance",
    ),
    # tiny random-weight model, built offline (videogen.families.tiny)
    card(
        "tiny-ltx2",
        None,
        ALL_TASKS,
        tiny="t2v",
        call_defaults={"spatio_temporal_guidance_blocks": [1], "image_crf": 0, "max_sequence_length": 32},
        # built without a processor: no prompt enhancement; a tiny latent upsampler for the two stages
        traits={"processor": False, TWO_STAGE: True, "latent_upsampler": "latent_upsampler"},
        description="tiny random LTX-2 (video and audio; every component random)",
    ),
)
FAMILY = LTX2Family(CARDS)
