"""Kandinsky 5.0 (Kandinsky Lab): text-to-video (Lite 2B, Pro 19B) and image-to-video (Pro).

Rules and what videogen does about the pipelines' surprises:

- num_frames is 4k+1 (the pipelines round other counts down with a log line); height and width are multiples
  of 16 (they raise otherwise), of 128 for the checkpoints with sparse NABLA attention (the 10 s models: it
  works on 8×8 blocks of 2×2 patches of the ×8 latents; other sizes fail inside the transformer).
- The transformer's rotary tables have 128 rows per axis: at most 128 latent frames (num_frames ≤ 509) and
  128 patches a side (height and width ≤ 2048); beyond them it fails with an index error.
- `guidance_scale` > 1 runs classifier-free guidance; without a `negative_prompt` the pipelines use their own
  ("Static, 2D cartoon, ..."). At 1.0 (the no-CFG and distilled checkpoints) the negative prompt is never
  read: a `negative_prompt` there is refused. `extra["max_sequence_length"]` is at most 1024 (they raise).
- Image-to-video evens out the first 4 latent frames' statistics against the next ones: with 2-4 latent frames
  (num_frames 5-13) there are none and the video is NaN (black), and one frame fails (diffusers 0.42.1 returns a
  tuple there), so i2v takes num_frames of at least 17.
- The pipelines set no cache context and run the conditional and unconditional passes one after the other:
  step caches run only without classifier-free guidance (guidance_scale 1.0), in `cache_context("cond")`.
- The tiny models' tokenizer is a plain Qwen2 tokenizer: the real checkpoints ship a `Qwen2VLProcessor`, which
  transformers 5 builds only with torchvision; the pipelines call it with text alone, as they do a tokenizer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ._common import DIT_CACHE_METHODS, cache_context, check_negative_prompt_has_guidance
from .base import NO_MEDIA, Checked, Family

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules
    from .card import ModelCard

#: rows of the transformer's rotary tables per axis (Kandinsky5RoPE3D's max_pos)
ROPE_ROWS = 128
#: the sparse attention's block of patches per side, times the patch (2) and the VAE's factor (8)
NABLA_MULTIPLE = 8 * 2 * 8
#: the pipelines refuse longer text (ValueError)
MAX_SEQUENCE_LENGTH = 1024
#: Kandinsky5I2VPipeline.normalize_first_frame takes the first 4 latent frames' statistics from the next ones
I2V_MIN_FRAMES = 4 * 4 + 1
#: the tiny models' prompt template is ~700 one-character tokens: room for it and the prompt
TINY_CALL = {"max_sequence_length": MAX_SEQUENCE_LENGTH}


class Kandinsky5Family(Family):
    name = "kandinsky5"
    pipelines = {"t2v": "Kandinsky5T2VPipeline", "i2v": "Kandinsky5I2VPipeline"}
    card_defaults = {
        "height": 512,
        "width": 768,
        "num_frames": 121,
        "fps": 24,
        "steps": 50,
        "guidance_scale": 5.0,
        "frame_rule": (4, 1),
        "size_multiple": 16,
        "max_frames": 4 * (ROPE_ROWS - 1) + 1,
        "dtypes": {"default": "bfloat16"},
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 9, "fps": 8, "steps": 2, "call_defaults": TINY_CALL}
    flow_matching = True
    scheduler = {"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 5.0}
    # step caches (VideoSpec.cache), measured on the tiny model: MagCache (Kandinsky5TransformerDecoderBlock is in
    # diffusers' block registry) and TaylorSeer (its modules named here: the DiT pattern matches none of them)
    # skip; all only without classifier-free guidance (cache_refusal)
    cache_methods = {m: DIT_CACHE_METHODS[m] for m in ("magcache", "taylorseer")}
    cache_hook_settings = {
        "taylorseer": {
            "cache_identifiers": [r"visual_transformer_blocks\.\d+\.(self_attention|cross_attention|feed_forward)"]
        }
    }
    cache_auto = ("magcache", "taylorseer")
    cache_refused = {
        "fbc": "First Block Cache calls the blocks with `hidden_states`, and Kandinsky 5's blocks take `visual_embed` "
        "(diffusers 0.42.1's registry entry; the hook fails)",
        "pab": "PAB reads the timestep from the pipeline's `current_timestep`, which Kandinsky 5's pipelines lack",
        "fastercache": "FasterCache reads the timestep from the pipeline's `current_timestep`, which Kandinsky 5's "
        "pipelines don't have",
        "dbcache": "cache-dit has no adapter for Kandinsky 5",
    }

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        """The negative prompt needs guidance above 1; the text length and the rotary tables' sides."""
        checked = super().check(spec, card, rules, media)  # the rules every family shares
        check_negative_prompt_has_guidance(spec, card, 5.0)
        length = spec.extra.get("max_sequence_length")
        if length is not None and (
            isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= MAX_SEQUENCE_LENGTH
        ):
            raise SpecError(
                f"extra['max_sequence_length']={length!r} must be a whole number of text tokens from 1 to "
                f"{MAX_SEQUENCE_LENGTH} (the pipeline's limit), e.g. extra={{'max_sequence_length': 512}}",
                field="extra",
                valid=512,
            )
        frames = spec.num_frames
        if spec.task == "i2v" and frames < I2V_MIN_FRAMES:
            rule = (
                "image-to-video evens out the first 4 latent frames against the next ones, so it needs at least 5 "
                f"latent frames (num_frames >= {I2V_MIN_FRAMES}): with 2-4 the video is NaN (black), with one it fails"
            )
            spec = spec.replace(num_frames=rules.fix("num_frames", frames, I2V_MIN_FRAMES, rule))
            checked = Checked(spec, checked.media)
        top = ROPE_ROWS * 2 * 8
        for field in ("height", "width"):
            size = int(getattr(spec, field))
            if size > top:
                raise SpecError(
                    f"{field}={size} is too large for {card.name}: the transformer's rotary table covers "
                    f"{ROPE_ROWS} patches of 16 pixels, so {field} must be at most {top}; nearest valid value: "
                    f"{field}={top}",
                    field=field,
                    valid=top,
                )
        return checked

    def check_components(self, spec: CompleteSpec, card: ModelCard, configs: Mapping[str, Mapping[str, Any]]) -> None:
        """NABLA sparse attention (`attention_type="nabla"`) needs sides in whole 8×8 blocks of patches."""
        if configs.get("transformer", {}).get("attention_type") != "nabla":
            return
        for field in ("height", "width"):
            size = int(getattr(spec, field))
            if size % NABLA_MULTIPLE:
                valid = max(NABLA_MULTIPLE, round(size / NABLA_MULTIPLE) * NABLA_MULTIPLE)
                raise SpecError(
                    f"{field}={size} is not valid for {card.name}: its sparse (NABLA) attention works on blocks "
                    f"of 8×8 patches, so {field} must be a multiple of {NABLA_MULTIPLE}; nearest valid value: "
                    f"{field}={valid}",
                    field=field,
                    valid=valid,
                )

    def cache_refusal(self, spec: CompleteSpec, card: ModelCard, method: str) -> str | None:
        """The pipelines run the conditional and unconditional passes of a step with no cache context between
        them, so a cache hook would take one pass's state for the other's."""
        if float(spec.guidance_scale or 1.0) > 1.0:
            return (
                f"guidance_scale={spec.guidance_scale} runs classifier-free guidance, whose two passes a step "
                f"{card.name}'s pipeline runs without separate cache contexts (the hook would mix them); "
                "step caches run at guidance_scale=1.0"
            )
        return None

    def call_context(self, pipe: Any, spec: CompleteSpec) -> AbstractContextManager[Any]:
        if float(spec.guidance_scale or 1.0) <= 1.0:  # one pass a step: the hook's context
            return cache_context(pipe, spec)
        return contextlib.nullcontext()

    def build_tiny(self, variant: str, folder: Path) -> None:
        """Tiny Kandinsky 5 pipelines: "t2v" and "i2v" (the transformer conditioned on the first latent frame)."""
        import diffusers
        from diffusers import FlowMatchEulerDiscreteScheduler, Kandinsky5Transformer3DModel
        from transformers import CLIPTextModel, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

        from . import tiny_parts

        if variant not in ("t2v", "i2v"):
            raise ValueError(f"unknown tiny kandinsky5 variant {variant!r}")
        text = {
            "vocab_size": 128,
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            "rope_theta": 1e6,
            "bos_token_id": None,
            "eos_token_id": 2,
            "pad_token_id": 0,
        }
        vision = {"depth": 1, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2, "out_hidden_size": 16}
        qwen = Qwen2_5_VLConfig(
            text_config=text,
            vision_config=vision,
            vocab_size=128,
            image_token_id=125,
            video_token_id=126,
            vision_start_token_id=123,
            vision_end_token_id=124,
        )
        transformer = Kandinsky5Transformer3DModel(
            in_visual_dim=4,
            out_visual_dim=4,
            in_text_dim=16,
            in_text_dim2=16,
            time_dim=16,
            patch_size=(1, 2, 2),
            model_dim=16,
            ff_dim=32,
            num_text_blocks=1,
            num_visual_blocks=2,
            axes_dims=(1, 1, 2),
            visual_cond=variant == "i2v",
        )
        # Kandinsky 5 zero-initializes its modulation layers (every block's gates and the output's): left at zero,
        # the random transformer would add nothing and the video wouldn't depend on the prompt, the steps or a LoRA
        for parameter in transformer.parameters():
            if not parameter.detach().any():
                parameter.data.normal_(0.0, 0.2)
        cls = diffusers.Kandinsky5I2VPipeline if variant == "i2v" else diffusers.Kandinsky5T2VPipeline
        cls(
            transformer=transformer,
            vae=tiny_parts.hunyuan_video_vae(),
            text_encoder=Qwen2_5_VLForConditionalGeneration(qwen).eval(),
            tokenizer=tiny_parts.qwen2_tokenizer(),
            text_encoder_2=CLIPTextModel(tiny_parts.clip_text_config(16)).eval(),
            tokenizer_2=tiny_parts.clip_tokenizer(77),
            scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0),
        ).save_pretrained(folder)


#: the 10 s checkpoints: sparse NABLA attention, sides in multiples of 128
TEN_SECONDS = {"num_frames": 241, "size_multiple": NABLA_MULTIPLE}
NO_CFG = {"guidance_scale": 1.0}

card = Kandinsky5Family.card
_REPO = "kandinskylab/Kandinsky-5.0-{}-Diffusers"
CARDS = (
    card(
        "kandinsky5-t2v-lite-5s",
        _REPO.format("T2V-Lite-sft-5s"),
        ("t2v",),
        arch="kandinsky5-lite-2b",
        description="Kandinsky 5.0 Video Lite text-to-video, 2B (SFT); 5 s at 24 fps",
    ),
    card(
        "kandinsky5-t2v-lite-5s-nocfg",
        _REPO.format("T2V-Lite-nocfg-5s"),
        ("t2v",),
        NO_CFG,
        arch="kandinsky5-lite-2b",
        description="Kandinsky 5.0 Video Lite, 2B, CFG-distilled (guidance 1.0: one pass a step); 5 s",
    ),
    card(
        "kandinsky5-t2v-lite-5s-distilled",
        _REPO.format("T2V-Lite-distilled16steps-5s"),
        ("t2v",),
        NO_CFG,
        steps=16,
        arch="kandinsky5-lite-2b",
        description="Kandinsky 5.0 Video Lite, 2B, distilled to 16 steps; 5 s",
    ),
    card(
        "kandinsky5-t2v-lite-10s",
        _REPO.format("T2V-Lite-sft-10s"),
        ("t2v",),
        TEN_SECONDS,
        arch="kandinsky5-lite-2b-nabla",
        description="Kandinsky 5.0 Video Lite, 2B (SFT), sparse attention; 10 s at 24 fps",
    ),
    card(
        "kandinsky5-t2v-lite-10s-nocfg",
        _REPO.format("T2V-Lite-nocfg-10s"),
        ("t2v",),
        TEN_SECONDS,
        NO_CFG,
        arch="kandinsky5-lite-2b-nabla",
        description="Kandinsky 5.0 Video Lite, 2B, CFG-distilled, sparse attention; 10 s",
    ),
    card(
        "kandinsky5-t2v-lite-10s-distilled",
        _REPO.format("T2V-Lite-distilled16steps-10s"),
        ("t2v",),
        TEN_SECONDS,
        NO_CFG,
        steps=16,
        arch="kandinsky5-lite-2b-nabla",
        description="Kandinsky 5.0 Video Lite, 2B, distilled to 16 steps, sparse attention; 10 s",
    ),
    card(
        "kandinsky5-t2v-pro-5s",
        _REPO.format("T2V-Pro-sft-5s"),
        ("t2v",),
        arch="kandinsky5-pro-19b",
        description="Kandinsky 5.0 Video Pro text-to-video, 19B (SFT); 5 s",
    ),
    card(
        "kandinsky5-i2v-pro-5s",
        _REPO.format("I2V-Pro-sft-5s"),
        ("i2v",),
        arch="kandinsky5-pro-19b",
        description="Kandinsky 5.0 Video Pro image-to-video, 19B (SFT); 5 s",
    ),
    # tiny random-weight models, built offline (videogen.families.tiny)
    card("tiny-kandinsky5", None, ("t2v",), tiny="t2v", description="tiny random Kandinsky 5 T2V (tests, demo)"),
    card(
        "tiny-kandinsky5-i2v",
        None,
        ("i2v",),
        tiny="i2v",
        num_frames=I2V_MIN_FRAMES,
        description="tiny random Kandinsky 5 I2V",
    ),
)
FAMILY = Kandinsky5Family(CARDS)
