"""Parts for the tiny random-weight pipelines: tokenizers built in code, small text/image encoders.

Every family's `build_tiny` uses these (a new family's builder should too); nothing here touches the network.
Below the families: it imports nothing of videogen's. `videogen.families.tiny` builds, caches and finds the models.
"""

from __future__ import annotations

import string
from typing import Any

_CHARS = list(string.ascii_lowercase + string.digits + string.punctuation)


def t5_tokenizer() -> Any:
    """A T5 (Unigram) tokenizer over lower-case characters: <pad>=0, </s>=1, <unk>=2. ~100 tokens."""
    from transformers import T5TokenizerFast

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(c, -3.0) for c in _CHARS]
    pieces += [("▁" + c, -2.5) for c in string.ascii_lowercase]
    return T5TokenizerFast(vocab=pieces, extra_ids=0)


def clip_tokenizer(max_length: int = 77) -> Any:
    """A CLIP (BPE, no merges) tokenizer over characters; ids below 140, padded to `max_length`."""
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in _CHARS:
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    tok = CLIPTokenizer(vocab=vocab, merges=[])
    tok.model_max_length = max_length
    return tok


def llama_tokenizer() -> Any:
    """A Llama (BPE) tokenizer over characters: <unk>=0, <s>=1, </s>=2 (also the pad token)."""
    from transformers import LlamaTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for c in _CHARS + [" ", "▁"]:
        vocab.setdefault(c, len(vocab))
    tok = LlamaTokenizerFast(vocab=vocab, merges=[])
    tok.pad_token = "</s>"
    tok.padding_side = "right"
    return tok


def qwen2_tokenizer() -> Any:
    """A Qwen2 (BPE) tokenizer over characters with a ChatML chat template: <|endoftext|>=0 (pad),
    <|im_start|>=1, <|im_end|>=2. ~100 tokens (HunyuanVideo 1.5, Kandinsky 5)."""
    from transformers import Qwen2TokenizerFast

    vocab = {"<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2}
    for c in _CHARS + list(string.ascii_uppercase) + [" ", "Ġ", "Ċ"]:
        vocab.setdefault(c, len(vocab))
    tok = Qwen2TokenizerFast(
        vocab=vocab, merges=[], unk_token="<|endoftext|>", pad_token="<|endoftext|>", eos_token="<|im_end|>"
    )
    tok.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    tok.padding_side = "right"
    return tok


def qwen2_5_vl_text_encoder(hidden: int = 16) -> Any:
    """A tiny Qwen2.5-VL language model (`Qwen2_5_VLTextModel`): vocab 128 (every `qwen2_tokenizer` id fits),
    2 layers, 2 heads, multimodal rotary sections summing to half a head."""
    from transformers import Qwen2_5_VLTextConfig, Qwen2_5_VLTextModel

    config = Qwen2_5_VLTextConfig(
        vocab_size=128,
        hidden_size=hidden,
        intermediate_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        rope_scaling={"mrope_section": [1, 1, hidden // 4 - 2], "rope_type": "default", "type": "default"},
        rope_theta=1e6,
        bos_token_id=None,
        eos_token_id=2,
        pad_token_id=0,
    )
    return Qwen2_5_VLTextModel(config).eval()


def t5_config(d_model: int = 32, **overrides: Any) -> dict[str, Any]:
    base = dict(
        vocab_size=1103,
        d_model=d_model,
        d_ff=37,
        d_kv=8,
        num_heads=4,
        num_layers=2,
        relative_attention_num_buckets=8,
        decoder_start_token_id=0,
    )
    base.update(overrides)
    return base


def umt5_encoder(d_model: int = 32) -> Any:
    from transformers import UMT5Config, UMT5EncoderModel

    return UMT5EncoderModel(UMT5Config(**t5_config(d_model))).eval()


def t5_encoder(d_model: int = 32) -> Any:
    from transformers import T5Config, T5EncoderModel

    return T5EncoderModel(T5Config(**t5_config(d_model))).eval()


def clip_text_config(hidden: int = 32, **overrides: Any) -> Any:
    from transformers import CLIPTextConfig

    base = dict(
        vocab_size=1000,
        hidden_size=hidden,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        projection_dim=32,
        max_position_embeddings=77,
        layer_norm_eps=1e-5,
    )
    base.update(overrides)
    return CLIPTextConfig(**base)


def clip_vision_config(hidden: int = 32, image_size: int = 32, patch_size: int = 4, **overrides: Any) -> Any:
    from transformers import CLIPVisionConfig

    base = dict(
        hidden_size=hidden,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        image_size=image_size,
        patch_size=patch_size,
        projection_dim=32,
        num_channels=3,
    )
    base.update(overrides)
    return CLIPVisionConfig(**base)


def clip_image_processor(size: int) -> Any:
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor(
        crop_size={"height": size, "width": size}, size={"shortest_edge": size}, do_center_crop=True, do_resize=True
    )


def llama_config(hidden: int = 16, **overrides: Any) -> Any:
    """A tiny Llama config: vocab 1000 (every `llama_tokenizer` id fits), 2 layers, 4 heads."""
    from transformers import LlamaConfig

    base = dict(
        vocab_size=1000,
        hidden_size=hidden,
        intermediate_size=37,
        num_attention_heads=4,
        num_key_value_heads=4,
        num_hidden_layers=2,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    base.update(overrides)
    return LlamaConfig(**base)


def hunyuan_text_parts(llama_hidden: int = 16, clip_hidden: int = 8) -> dict[str, Any]:
    """HunyuanVideo's text side (also FramePack's): Llama tokenizer + LlamaModel, CLIP tokenizer + text model.

    The Llama tokenizer keeps right padding when saved (HunyuanVideo crops the template off the front).
    The transformer needs `text_embed_dim=llama_hidden` and `pooled_projection_dim=clip_hidden`.
    """
    from transformers import CLIPTextModel, LlamaModel

    tokenizer = llama_tokenizer()
    tokenizer.init_kwargs["padding_side"] = "right"
    return dict(
        tokenizer=tokenizer,
        text_encoder=LlamaModel(llama_config(llama_hidden)).eval(),
        tokenizer_2=clip_tokenizer(77),
        text_encoder_2=CLIPTextModel(clip_text_config(clip_hidden)).eval(),
    )


def hunyuan_video_vae() -> Any:
    """A tiny AutoencoderKLHunyuanVideo: 4 latent channels, ×8 in space, ×4 in time."""
    from diffusers import AutoencoderKLHunyuanVideo

    return AutoencoderKLHunyuanVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        act_fn="silu",
        norm_num_groups=4,
        scaling_factor=0.476986,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
        mid_block_add_attention=True,
    )


def sd_vae() -> Any:
    """A tiny SD `AutoencoderKL` (ModelScope, I2VGen-XL): three blocks of 8 channels, so latents are 4× smaller
    (fast UNets)."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(8, 8, 8),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        latent_channels=4,
        sample_size=32,
        norm_num_groups=2,
    )


def ddim_scheduler() -> Any:
    """The DDIM scheduler of the SD-based video UNets (ModelScope, I2VGen-XL)."""
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False
    )
