"""SANA-Video (NVIDIA, 2B linear-attention DiT): text-to-video and image-to-video.

Rules and what videogen does about the pipelines' surprises:

- The frame count is the pipelines' `frames` argument (not `num_frames`); 4k+1 (Wan 2.1's VAE, ×4 in time).
- Resolution binning (`use_resolution_binning=True`, the default): the pipelines generate at the 480p size
  *bin* nearest the asked aspect ratio, then resize and crop to the asked size. Seven of the eleven 480p bins
  (624×624, 672×592, ...) are not multiples of 32, which the pipelines' own check then refuses (ValueError), so
  only 480×832, 832×480, 448×896 and 896×448 run: the card lists those as its only sizes, the video is generated
  at the size the spec says, and `fit="follow"` picks the bin an input image's aspect ratio maps to.
- Image-to-video keeps the first latent frame as the image and must run on a flow-matching Euler scheduler
  (diffusers' conversion script: "must be flow-euler for i2v"; the docs swap it in): the checkpoint ships
  DPM-Solver for text-to-video, so image-to-video calls run on `FlowMatchEulerDiscreteScheduler(shift=8.0)`.
- The Gemma 2 text encoder reads the prompt behind the pipelines' long "complex human instruction"; the docs
  end the prompt with " motion score: N." (the model's motion conditioning, left to the prompt).
- `guidance_scale` > 1 runs classifier-free guidance with the pipelines' empty negative prompt; at 1.0 a
  `negative_prompt` is refused (never read).
- Step caches: none runs (the transformer takes no diffusers cache hooks; cache-dit's Sana adapter is for the
  image model), all refused with the reason. LoRA: `SanaLoraLoaderMixin`. No context-parallel plan in diffusers
  0.42.1.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import check_negative_prompt_has_guidance, check_rope_table
from .base import NO_MEDIA, Checked, Family

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules
    from .card import ModelCard

#: the 480p size bins (height, width) the pipelines' own check lets through (multiples of 32)
SIZES_480P = ((480, 832), (832, 480), (448, 896), (896, 448))
#: the flow shift of the checkpoints' schedulers and of image-to-video's Euler scheduler (conversion script)
FLOW_SHIFT = 8.0
#: the tiny models run without binning (their transformer's sample size names no bin table)
TINY_CALL = {"use_resolution_binning": False, "max_sequence_length": 16}


class SanaVideoFamily(Family):
    name = "sana_video"
    pipelines = {"t2v": "SanaVideoPipeline", "i2v": "SanaImageToVideoPipeline"}
    card_defaults = {
        # the docs' call: 480×832, 81 frames at 16 fps, 50 steps, guidance 6
        "height": 480,
        "width": 832,
        "num_frames": 81,
        "fps": 16,
        "steps": 50,
        "guidance_scale": 6.0,
        "frame_rule": (4, 1),
        "size_multiple": 32,
        "sizes": SIZES_480P,
        # the docs: the transformer in bfloat16, the VAE in float32
        "dtypes": {"default": "bfloat16", "vae": "float32"},
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 9, "fps": 8, "steps": 2, "sizes": ()}
    frames_param = "frames"
    flow_matching = True
    scheduler = {
        "_class_name": "DPMSolverMultistepScheduler",
        "flow_shift": FLOW_SHIFT,
        "use_flow_sigmas": True,
        "prediction_type": "flow_prediction",
    }
    # step caches (VideoSpec.cache): none runs in diffusers 0.42.1, measured on the tiny model
    cache_refused = {
        **dict.fromkeys(
            ("fbc", "taylorseer", "magcache", "pab", "fastercache"),
            "SanaVideoTransformer3DModel takes no diffusers cache hooks in 0.42.1 (it is not a CacheMixin: no "
            "enable_cache)",
        ),
        "dbcache": "cache-dit's Sana adapter takes only the image transformer (SanaTransformer2DModel)",
    }

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        """A negative prompt needs classifier-free guidance on (guidance_scale above 1)."""
        checked = super().check(spec, card, rules, media)  # the rules every family shares
        check_negative_prompt_has_guidance(spec, card, 6.0)
        return checked

    def check_components(self, spec: CompleteSpec, card: ModelCard, configs: Mapping[str, Mapping[str, Any]]) -> None:
        """The transformer's rotary position table (Wan's, `rope_max_seq_len` rows) must cover the latent frames
        and sides: beyond it the transformer fails to reshape."""
        check_rope_table(spec, card, configs)

    def call_scheduler(self, scheduler: Any, class_name: str) -> Any:
        """Image-to-video runs the checkpoint's DPM-Solver as flow-matching Euler at its shift (the docs' swap)."""
        if class_name != self.pipelines["i2v"] or type(scheduler).__name__ != "DPMSolverMultistepScheduler":
            return scheduler
        from diffusers import FlowMatchEulerDiscreteScheduler

        return FlowMatchEulerDiscreteScheduler(shift=float(scheduler.config.get("flow_shift") or FLOW_SHIFT))

    def call_context(self, pipe: Any, spec: CompleteSpec) -> AbstractContextManager[Any]:
        """The Euler scheduler for image-to-video, unless the spec names a scheduler."""
        if spec.scheduler is not None:
            return contextlib.nullcontext()
        return _scheduler(pipe, self.call_scheduler(pipe.scheduler, type(pipe).__name__))

    def build_tiny(self, variant: str, folder: Path) -> None:
        """Tiny SANA-Video pipelines: "t2v" and "i2v" (the same parts and DPM-Solver scheduler, as the checkpoint
        ships them: the pipelines differ only in the call)."""
        import diffusers
        from diffusers import AutoencoderKLWan, DPMSolverMultistepScheduler
        from diffusers import SanaVideoTransformer3DModel as Transformer
        from transformers import Gemma2Config, Gemma2Model

        if variant not in ("t2v", "i2v"):
            raise ValueError(f"unknown tiny sana_video variant {variant!r}")
        text = Gemma2Config(
            head_dim=8,
            hidden_size=8,
            intermediate_size=16,
            num_attention_heads=2,
            num_hidden_layers=1,
            num_key_value_heads=2,
            vocab_size=128,
            pad_token_id=0,
            eos_token_id=1,
            bos_token_id=2,
        )
        cls = diffusers.SanaImageToVideoPipeline if variant == "i2v" else diffusers.SanaVideoPipeline
        cls(
            tokenizer=_gemma_tokenizer(),
            text_encoder=Gemma2Model(text).eval(),
            vae=AutoencoderKLWan(
                base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
            ),
            transformer=Transformer(
                num_attention_heads=2,
                attention_head_dim=12,
                num_layers=2,
                num_cross_attention_heads=2,
                cross_attention_head_dim=12,
                cross_attention_dim=24,
                caption_channels=8,
                sample_size=8,
                rope_max_seq_len=32,
            ),
            scheduler=DPMSolverMultistepScheduler(
                flow_shift=FLOW_SHIFT, use_flow_sigmas=True, prediction_type="flow_prediction"
            ),
        ).save_pretrained(folder)


def _gemma_tokenizer() -> Any:
    """A Gemma (BPE, no merges) tokenizer over characters: <pad>=0, <eos>=1, <bos>=2, <unk>=3; ids below 128."""
    import string

    from transformers import GemmaTokenizerFast

    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<mask>": 4}
    for c in string.ascii_letters + string.digits + string.punctuation + "▁\n":
        vocab.setdefault(c, len(vocab))
    tok = GemmaTokenizerFast(vocab=vocab, merges=[])
    tok.padding_side = "right"
    return tok


@contextlib.contextmanager
def _scheduler(pipe: Any, scheduler: Any) -> Iterator[None]:
    """The call runs with `scheduler` in the pipeline (put back after)."""
    before = pipe.scheduler
    pipe.scheduler = scheduler
    try:
        yield
    finally:
        pipe.scheduler = before


card = SanaVideoFamily.card
CARDS = (
    card(
        "sana-video-2b-480p",
        "Efficient-Large-Model/SANA-Video_2B_480p_diffusers",
        ("t2v", "i2v"),
        arch="sana-video-2b-480p",
        description="NVIDIA SANA-Video 2B (linear attention) text- and image-to-video; 480p bins, 16 fps",
    ),
    # tiny random-weight models, built offline (videogen.families.tiny)
    card(
        "tiny-sana_video",
        None,
        ("t2v",),
        tiny="t2v",
        call_defaults=TINY_CALL,
        description="tiny random SANA-Video T2V (tests, demo)",
    ),
    card(
        "tiny-sana_video-i2v",
        None,
        ("i2v",),
        tiny="i2v",
        call_defaults=TINY_CALL,
        description="tiny random SANA-Video I2V",
    ),
)
FAMILY = SanaVideoFamily(CARDS)
