"""Layer-by-layer FLOP count of LTX-2's audio-video transformer from its config (flops.py holds the registry):
two token streams, video and audio, each with its own prompt, joined by cross-modal attention in every block.
Equals what torch's FlopCounterMode counts (tests/memory/test_flops.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .flops_dit import Count, attention, linear

#: the video's frame rate the audio's length is counted at (LTX-2's pipelines' default `frame_rate`; the
#: planner's shape carries no fps: at other rates the audio tokens scale as 24 / fps, a small share of the count)
LTX2_FPS = 24.0


def ltx2_audio_tokens(config: Mapping[str, Any], latent_frames: int) -> int:
    """Audio latent frames the pipeline generates beside `latent_frames` video latents: the video's seconds ×
    (sampling rate / hop length / the audio VAE's temporal compression), rounded as the pipeline does."""
    temporal = int((config.get("vae_scale_factors") or (8, 32, 32))[0])
    seconds = ((latent_frames - 1) * temporal + 1) / LTX2_FPS
    per_second = float(config.get("audio_sampling_rate") or 16000) / float(config.get("audio_hop_length") or 160)
    return round(seconds * per_second / float(config.get("audio_scale_factor") or 4))


def ltx2(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """LTX2VideoTransformer3DModel: per stream (video, audio) proj_in, the AdaLayerNormSingle timestep MLPs (the
    stream's own, its cross-modal scale/shift and gate, LTX-2.3's prompt modulation), the caption projection;
    blocks of self-attention, cross-attention to the stream's prompt, audio-to-video and video-to-audio
    attention (at the audio's width), a feed-forward per stream (LTX-2.3's gated attention: a head-gate Linear per
    attention); proj_out per stream. The prompt's `text` tokens feed both streams (the text connectors' output)."""
    frames, height, width = latents
    p, pt = int(config.get("patch_size") or 1), int(config.get("patch_size_t") or 1)
    video = (frames // pt) * (height // p) * (width // p)
    audio = ltx2_audio_tokens(config, frames)
    heads, a_heads = int(config["num_attention_heads"]), int(config["audio_num_attention_heads"])
    dim, a_dim = heads * int(config["attention_head_dim"]), a_heads * int(config["audio_attention_head_dim"])
    rows, a_rows, prompt = batch * video, batch * audio, batch * text

    def adaln(width: int, mods: int) -> int:  # LTX2AdaLayerNormSingle: the timestep MLP, then `mods` × width
        return linear(batch, 256, width) + linear(batch, width, width) + linear(batch, width, mods * width)

    v_mod, a_mod = config.get("cross_attn_mod"), config.get("audio_cross_attn_mod")
    out = linear(rows, int(config["in_channels"]), dim) + linear(a_rows, int(config["audio_in_channels"]), a_dim)
    out += adaln(dim, 9 if v_mod else 6) + adaln(a_dim, 9 if a_mod else 6)
    out += adaln(dim, 4) + adaln(a_dim, 4) + adaln(dim, 1) + adaln(a_dim, 1)
    if (v_mod or a_mod) and config.get("use_prompt_adaln_single", True):
        out += adaln(dim, 2) + adaln(a_dim, 2)
    if config.get("use_prompt_embeddings", True):
        caption = int(config["caption_channels"])
        out += linear(prompt, caption, dim) + linear(prompt, dim, dim)
        out += linear(prompt, caption, a_dim) + linear(prompt, a_dim, a_dim)
    v_gate = heads if config.get("gated_attn") else 0  # a Linear to one gate per head, on the queries' stream
    a_gate = a_heads if config.get("audio_gated_attn") else 0
    block = 4 * linear(rows, dim, dim) + attention(batch, video, video, dim) + linear(rows, dim, v_gate)
    block += 4 * linear(a_rows, a_dim, a_dim) + attention(batch, audio, audio, a_dim) + linear(a_rows, a_dim, a_gate)
    block += 2 * linear(rows, dim, dim) + 2 * linear(prompt, int(config["cross_attention_dim"]), dim)
    block += attention(batch, video, text, dim) + linear(rows, dim, v_gate)
    block += 2 * linear(a_rows, a_dim, a_dim) + 2 * linear(prompt, int(config["audio_cross_attention_dim"]), a_dim)
    block += attention(batch, audio, text, a_dim) + linear(a_rows, a_dim, a_gate)
    # audio-to-video: video queries, audio keys and values; video-to-audio: the other way round
    block += 2 * linear(rows, dim, a_dim) + 2 * linear(a_rows, a_dim, a_dim) + attention(batch, video, audio, a_dim)
    block += linear(rows, dim, a_heads if v_gate else 0)  # the video's gate, one per audio head
    block += 2 * linear(a_rows, a_dim, a_dim) + 2 * linear(rows, dim, a_dim) + attention(batch, audio, video, a_dim)
    block += linear(a_rows, a_dim, a_gate)
    block += linear(rows, dim, 4 * dim) + linear(rows, 4 * dim, dim)
    block += linear(a_rows, a_dim, 4 * a_dim) + linear(a_rows, 4 * a_dim, a_dim)
    out += int(config["num_layers"]) * block
    out += linear(rows, dim, int(config.get("out_channels") or config["in_channels"]))
    out += linear(a_rows, a_dim, int(config.get("audio_out_channels") or config["audio_in_channels"]))
    return Count(out, video, True)
