"""Layer-by-layer FLOP counts of the video transformers (Wan, SkyReels-V2, LTX-Video, CogVideoX, HunyuanVideo,
FramePack) from their configs, and the two primitives every count is made of (flops.py holds the registry).
Each equals what torch's FlopCounterMode counts (tests/memory/test_flops.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .activations import patch_size

#: CLIP image tokens Wan 2.1's image-to-video models attend to (ViT-H/14 at 224 px: 16² + 1), per image
WAN_IMAGE_TOKENS = 257


@dataclass(frozen=True)
class Count:
    """FLOPs of one denoiser forward (the whole batch) and how they were counted."""

    flops: int
    #: video tokens (a transformer) or latent pixels (a UNet) per sample
    tokens: int
    #: True: layer by layer as the class computes (equals FlopCounterMode); False: a rough count
    exact: bool


def linear(rows: int, fan_in: int, fan_out: int) -> int:
    return 2 * rows * fan_in * fan_out


def attention(batch: int, queries: int, keys: int, dim: int) -> int:
    """QKᵀ and the weighted sum of the values (heads × head_dim = dim), as FlopCounterMode counts SDPA."""
    return 4 * batch * queries * keys * dim


def wan(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """WanTransformer3DModel (Wan 2.1 / 2.2), SkyReelsV2Transformer3DModel and WanVACETransformer3DModel: patch
    Conv3d, time/text(/image) embedders (SkyReels-V2: and its fps), blocks of self-attention, cross-attention
    (plus image keys for Wan 2.1 I2V/FLF2V) and a feed-forward, proj_out (VACE: a Wan block and projections per
    VACE layer over the control video's tokens). One timestep per sample (per-token or per-frame timesteps — Wan
    2.2 TI2V, SkyReels-V2's diffusion forcing — run the timestep MLPs per token or frame: 1–3 %, not counted)."""
    pt, ph, pw = patch_size(config)
    frames, height, width = latents
    tokens = (frames // pt) * (height // ph) * (width // pw)
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    ffn, layers = int(config["ffn_dim"]), int(config["num_layers"])
    rows = batch * tokens
    out = linear(rows, int(config["in_channels"]) * pt * ph * pw, dim)  # patch embedding (a strided Conv3d)
    freq, text_dim = int(config.get("freq_dim") or 256), int(config.get("text_dim") or 4096)
    out += linear(batch, freq, dim) + linear(batch, dim, dim) + linear(batch, dim, 6 * dim)
    out += linear(batch * text, text_dim, dim) + linear(batch * text, dim, dim)
    image = 0
    if config.get("inject_sample_info"):  # SkyReels-V2's fps embedding, projected per sample
        out += linear(batch, dim, dim) + linear(batch, dim, 6 * dim)
    if config.get("image_dim"):
        image_dim = int(config["image_dim"])
        image = int(config.get("pos_embed_seq_len") or WAN_IMAGE_TOKENS)
        out += linear(batch * image, image_dim, image_dim) + linear(batch * image, image_dim, dim)
    block = 4 * linear(rows, dim, dim) + attention(batch, tokens, tokens, dim)  # self-attention
    block += 2 * linear(rows, dim, dim) + 2 * linear(batch * text, dim, dim) + attention(batch, tokens, text, dim)
    if image:
        block += 2 * linear(batch * image, dim, dim) + attention(batch, tokens, image, dim)
    block += linear(rows, dim, ffn) + linear(rows, ffn, dim)
    out += layers * block
    out += linear(rows, dim, int(config.get("out_channels") or config["in_channels"]) * pt * ph * pw)
    vace = [int(i) for i in config.get("vace_layers") or ()]
    if vace:  # Wan VACE: the control video's patch Conv3d, then a Wan block (and projections) per VACE layer
        out += linear(rows, int(config.get("vace_in_channels") or 96) * pt * ph * pw, dim)
        out += len(vace) * (block + linear(rows, dim, dim)) + linear(rows, dim, dim)
    return Count(out, tokens, True)


def ltx(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """LTXVideoTransformer3DModel: proj_in, AdaLayerNormSingle's timestep MLP, the caption projection, blocks of
    self-attention, cross-attention and a feed-forward (4×), proj_out. One timestep per sample (the image-to-
    video pipelines' per-token timesteps add the timestep MLP per token: 1–3 %, not counted)."""
    frames, height, width = latents
    pt, ph, pw = patch_size(config)
    tokens = (frames // pt) * (height // ph) * (width // pw)
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    cross, caption = int(config["cross_attention_dim"]), int(config["caption_channels"])
    rows = batch * tokens
    channels = int(config["in_channels"])
    out = linear(rows, channels, dim)
    out += linear(batch, 256, dim) + linear(batch, dim, dim) + linear(batch, dim, 6 * dim)
    out += linear(batch * text, caption, dim) + linear(batch * text, dim, dim)
    block = 4 * linear(rows, dim, dim) + attention(batch, tokens, tokens, dim)
    block += 2 * linear(rows, dim, dim) + 2 * linear(batch * text, cross, dim) + attention(batch, tokens, text, dim)
    block += linear(rows, dim, 4 * dim) + linear(rows, 4 * dim, dim)
    out += int(config["num_layers"]) * block
    out += linear(rows, dim, int(config.get("out_channels") or channels))
    return Count(out, tokens, True)


def cogvideox(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """CogVideoXTransformer3DModel: time (and CogVideoX 1.5 I2V's ofs) MLPs, the patch embedding of text and
    video, blocks of joint attention and a feed-forward over text + video tokens, AdaLayerNorm, proj_out."""
    frames, height, width = latents
    p, pt = int(config["patch_size"]), config.get("patch_size_t")
    pt = int(pt) if pt else 1
    tokens = -(-frames // pt) * (height // p) * (width // p)
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    ted = int(config["time_embed_dim"])
    rows, joint = batch * tokens, batch * (tokens + text)
    out = linear(batch, dim, ted) + linear(batch, ted, ted)
    if config.get("ofs_embed_dim"):
        ofs = int(config["ofs_embed_dim"])
        out += 2 * linear(batch, ofs, ofs)
    channels = int(config["in_channels"])
    out += linear(batch * text, int(config["text_embed_dim"]), dim) + linear(rows, channels * p * p * pt, dim)
    ffn = int(config.get("ff_inner_dim") or 4 * dim)
    block = 2 * linear(batch, ted, 6 * dim) + 4 * linear(joint, dim, dim)
    block += attention(batch, tokens + text, tokens + text, dim) + linear(joint, dim, ffn) + linear(joint, ffn, dim)
    out += int(config["num_layers"]) * block
    out += linear(batch, ted, 2 * dim) + linear(rows, dim, p * p * pt * int(config.get("out_channels") or 16))
    return Count(out, tokens, True)


def hunyuanvideo(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """HunyuanVideoTransformer3DModel: patch Conv3d, the condition MLPs (timestep, pooled text, guidance; the
    I2V token-replace timestep), the prompt's token refiner, dual-stream blocks (joint attention over video +
    prompt, a feed-forward per stream), single-stream blocks (parallel attention and MLP), proj_out."""
    frames, height, width = latents
    pt, ph, pw = patch_size(config)
    tokens = (frames // pt) * (height // ph) * (width // pw)
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    out = linear(batch * tokens, int(config["in_channels"]) * pt * ph * pw, dim)
    replace = config.get("image_condition_type") == "token_replace"
    out += _hunyuan_blocks(config, batch, tokens, text, text, tokens, replace)
    return Count(out, tokens, True)


#: FramePack's sections: latent frames denoised per section (the pipeline's `latent_window_size`), the clean
#: history it attends to (1× start + 1 frame, 2× 2 frames, 4× 16 frames) and SigLIP's image tokens (384/14)²
FRAMEPACK_WINDOW = 9
FRAMEPACK_IMAGE_TOKENS = 729


def framepack(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """HunyuanVideoFramepackTransformer3DModel, one forward of one section: `latents` frames are the section's
    window; the clean and 2×/4× history latents (patch Conv3ds of growing stride) join the video tokens, the
    image projection's tokens join the prompt's, then HunyuanVideo's blocks; proj_out on the window."""
    frames, height, width = latents
    pt, ph, pw = patch_size(config)
    per_frame = (height // ph) * (width // pw)
    window = frames // pt * per_frame
    history = 2 * per_frame + -(-height // 4) * -(-width // 4) + 4 * (-(-height // 8) * -(-width // 8))
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    channels = int(config["in_channels"])
    out = linear(batch * window, channels * pt * ph * pw, dim)
    if config.get("has_clean_x_embedder"):
        out += linear(batch * 2 * per_frame, channels * 4, dim)
        out += linear(batch * -(-height // 4) * -(-width // 4), channels * 32, dim)
        out += linear(batch * 4 * -(-height // 8) * -(-width // 8), channels * 256, dim)
    else:
        history = 0
    image = 0
    if config.get("has_image_proj"):
        image = FRAMEPACK_IMAGE_TOKENS
        proj = int(config.get("image_proj_dim") or 1152)
        out += linear(batch * image, proj, 3 * dim) + linear(batch * image, 3 * dim, dim)
    out += _hunyuan_blocks(config, batch, window + history, image + text, text, window, False)
    return Count(out, window, True)


def _hunyuan_blocks(
    config: Mapping[str, Any], batch: int, tokens: int, cond: int, text: int, out_tokens: int, replace: bool
) -> int:
    """HunyuanVideo's condition MLPs, token refiner (over the `text` prompt tokens), dual- and single-stream
    blocks (over `tokens` video and `cond` condition tokens) and output (over `out_tokens`)."""
    pt, ph, pw = patch_size(config)
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    mlp = int(dim * float(config.get("mlp_ratio") or 4.0))
    text_dim, pooled = int(config["text_embed_dim"]), int(config["pooled_projection_dim"])
    rows, prompt, condition, joint = batch * tokens, batch * text, batch * cond, batch * (tokens + cond)
    conditions = 2 + (1 if config.get("guidance_embeds") else 0) + (1 if replace else 0)  # two-layer MLPs
    out = (conditions - 1) * (linear(batch, 256, dim) + linear(batch, dim, dim))
    out += linear(batch, pooled, dim) + linear(batch, dim, dim)
    # the token refiner: its own timestep and pooled-prompt MLPs, proj_in, self-attention blocks
    out += linear(batch, 256, dim) + linear(batch, dim, dim) + linear(batch, text_dim, dim) + linear(batch, dim, dim)
    out += linear(prompt, text_dim, dim)
    refiner = 4 * linear(prompt, dim, dim) + attention(batch, text, text, dim)
    refiner += linear(prompt, dim, mlp) + linear(prompt, mlp, dim) + linear(batch, dim, 2 * dim)
    out += int(config.get("num_refiner_layers") or 2) * refiner
    modulations = 2 if replace else 1
    double = (modulations + 1) * linear(batch, dim, 6 * dim) + 4 * linear(rows, dim, dim)
    double += 4 * linear(condition, dim, dim) + attention(batch, tokens + cond, tokens + cond, dim)
    double += linear(rows, dim, mlp) + linear(rows, mlp, dim) + linear(condition, dim, mlp)
    double += linear(condition, mlp, dim)
    out += int(config["num_layers"]) * double
    single = modulations * linear(batch, dim, 3 * dim) + linear(joint, dim, mlp) + 3 * linear(joint, dim, dim)
    single += attention(batch, tokens + cond, tokens + cond, dim) + linear(joint, dim + mlp, dim)
    out += int(config["num_single_layers"]) * single
    out += linear(batch, dim, 2 * dim)
    out += linear(batch * out_tokens, dim, pt * ph * pw * int(config.get("out_channels") or 16))
    return out
