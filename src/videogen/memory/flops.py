"""Floating-point operations of one denoiser forward and of the VAE decode, counted from the architecture
config at the spec's size. Pure Python, no torch.

For the classes in `EXACT` the count follows the class's forward layer by layer and equals what torch's
`FlopCounterMode` counts (matrix products, convolutions and attention; tests/memory/test_flops.py checks it on
the tiny model of each). Every other class gets a rough count: its Linear weights applied to every video
token plus self-attention over them (`exact=False`, and the report says so).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .activations import VAE_LAYOUT, Shape, _patch, effective_config, vae_factors
from .components import Component

#: prompt tokens each pipeline passes its denoiser (its `max_sequence_length` default)
TEXT_TOKENS: dict[str, int] = {
    "WanTransformer3DModel": 512,
    "CogVideoXTransformer3DModel": 226,
    "LTXVideoTransformer3DModel": 128,
    "HunyuanVideoTransformer3DModel": 256,
    "HunyuanVideoFramepackTransformer3DModel": 256,
    "UNet3DConditionModel": 77,
}
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


def latent_size(vae: Component | None, shape: Shape) -> tuple[int, int, int]:
    """(frames, height, width) of the latents at `shape`."""
    spatial, temporal = vae_factors(vae)
    frames = (shape.frames - 1) // temporal + 1 if temporal > 1 else shape.frames
    return frames, shape.height // spatial, shape.width // spatial


def _linear(rows: int, fan_in: int, fan_out: int) -> int:
    return 2 * rows * fan_in * fan_out


def _attention(batch: int, queries: int, keys: int, dim: int) -> int:
    """QKᵀ and the weighted sum of the values (heads × head_dim = dim), as FlopCounterMode counts SDPA."""
    return 4 * batch * queries * keys * dim


def wan(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """WanTransformer3DModel (Wan 2.1 / 2.2) and SkyReelsV2Transformer3DModel: patch Conv3d, time/text(/image)
    embedders (SkyReels-V2: and its fps), blocks of self-attention, cross-attention (plus image keys for Wan 2.1
    I2V/FLF2V) and a feed-forward, proj_out. One timestep per sample (per-token or per-frame timesteps — Wan
    2.2 TI2V, SkyReels-V2's diffusion forcing — run the timestep MLPs per token or frame: 1–3 %, not counted)."""
    pt, ph, pw = _patch(config)
    frames, height, width = latents
    tokens = (frames // pt) * (height // ph) * (width // pw)
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    ffn, layers = int(config["ffn_dim"]), int(config["num_layers"])
    rows = batch * tokens
    out = _linear(rows, int(config["in_channels"]) * pt * ph * pw, dim)  # patch embedding (a strided Conv3d)
    freq, text_dim = int(config.get("freq_dim") or 256), int(config.get("text_dim") or 4096)
    out += _linear(batch, freq, dim) + _linear(batch, dim, dim) + _linear(batch, dim, 6 * dim)
    out += _linear(batch * text, text_dim, dim) + _linear(batch * text, dim, dim)
    image = 0
    if config.get("inject_sample_info"):  # SkyReels-V2's fps embedding, projected per sample
        out += _linear(batch, dim, dim) + _linear(batch, dim, 6 * dim)
    if config.get("image_dim"):
        image_dim = int(config["image_dim"])
        image = int(config.get("pos_embed_seq_len") or WAN_IMAGE_TOKENS)
        out += _linear(batch * image, image_dim, image_dim) + _linear(batch * image, image_dim, dim)
    block = 4 * _linear(rows, dim, dim) + _attention(batch, tokens, tokens, dim)  # self-attention
    block += 2 * _linear(rows, dim, dim) + 2 * _linear(batch * text, dim, dim) + _attention(batch, tokens, text, dim)
    if image:
        block += 2 * _linear(batch * image, dim, dim) + _attention(batch, tokens, image, dim)
    block += _linear(rows, dim, ffn) + _linear(rows, ffn, dim)
    out += layers * block
    out += _linear(rows, dim, int(config.get("out_channels") or config["in_channels"]) * pt * ph * pw)
    return Count(out, tokens, True)


def ltx(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """LTXVideoTransformer3DModel: proj_in, AdaLayerNormSingle's timestep MLP, the caption projection, blocks of
    self-attention, cross-attention and a feed-forward (4×), proj_out. One timestep per sample (the image-to-
    video pipelines' per-token timesteps add the timestep MLP per token: 1–3 %, not counted)."""
    frames, height, width = latents
    pt, ph, pw = _patch(config)
    tokens = (frames // pt) * (height // ph) * (width // pw)
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    cross, caption = int(config["cross_attention_dim"]), int(config["caption_channels"])
    rows = batch * tokens
    channels = int(config["in_channels"])
    out = _linear(rows, channels, dim)
    out += _linear(batch, 256, dim) + _linear(batch, dim, dim) + _linear(batch, dim, 6 * dim)
    out += _linear(batch * text, caption, dim) + _linear(batch * text, dim, dim)
    block = 4 * _linear(rows, dim, dim) + _attention(batch, tokens, tokens, dim)
    block += 2 * _linear(rows, dim, dim) + 2 * _linear(batch * text, cross, dim) + _attention(batch, tokens, text, dim)
    block += _linear(rows, dim, 4 * dim) + _linear(rows, 4 * dim, dim)
    out += int(config["num_layers"]) * block
    out += _linear(rows, dim, int(config.get("out_channels") or channels))
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
    out = _linear(batch, dim, ted) + _linear(batch, ted, ted)
    if config.get("ofs_embed_dim"):
        ofs = int(config["ofs_embed_dim"])
        out += 2 * _linear(batch, ofs, ofs)
    channels = int(config["in_channels"])
    out += _linear(batch * text, int(config["text_embed_dim"]), dim) + _linear(rows, channels * p * p * pt, dim)
    ffn = int(config.get("ff_inner_dim") or 4 * dim)
    block = 2 * _linear(batch, ted, 6 * dim) + 4 * _linear(joint, dim, dim)
    block += _attention(batch, tokens + text, tokens + text, dim) + _linear(joint, dim, ffn) + _linear(joint, ffn, dim)
    out += int(config["num_layers"]) * block
    out += _linear(batch, ted, 2 * dim) + _linear(rows, dim, p * p * pt * int(config.get("out_channels") or 16))
    return Count(out, tokens, True)


def hunyuanvideo(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """HunyuanVideoTransformer3DModel: patch Conv3d, the condition MLPs (timestep, pooled text, guidance; the
    I2V token-replace timestep), the prompt's token refiner, dual-stream blocks (joint attention over video +
    prompt, a feed-forward per stream), single-stream blocks (parallel attention and MLP), proj_out."""
    frames, height, width = latents
    pt, ph, pw = _patch(config)
    tokens = (frames // pt) * (height // ph) * (width // pw)
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    out = _linear(batch * tokens, int(config["in_channels"]) * pt * ph * pw, dim)
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
    pt, ph, pw = _patch(config)
    per_frame = (height // ph) * (width // pw)
    window = frames // pt * per_frame
    history = 2 * per_frame + -(-height // 4) * -(-width // 4) + 4 * (-(-height // 8) * -(-width // 8))
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    channels = int(config["in_channels"])
    out = _linear(batch * window, channels * pt * ph * pw, dim)
    if config.get("has_clean_x_embedder"):
        out += _linear(batch * 2 * per_frame, channels * 4, dim)
        out += _linear(batch * -(-height // 4) * -(-width // 4), channels * 32, dim)
        out += _linear(batch * 4 * -(-height // 8) * -(-width // 8), channels * 256, dim)
    else:
        history = 0
    image = 0
    if config.get("has_image_proj"):
        image = FRAMEPACK_IMAGE_TOKENS
        proj = int(config.get("image_proj_dim") or 1152)
        out += _linear(batch * image, proj, 3 * dim) + _linear(batch * image, 3 * dim, dim)
    out += _hunyuan_blocks(config, batch, window + history, image + text, text, window, False)
    return Count(out, window, True)


def _hunyuan_blocks(
    config: Mapping[str, Any], batch: int, tokens: int, cond: int, text: int, out_tokens: int, replace: bool
) -> int:
    """HunyuanVideo's condition MLPs, token refiner (over the `text` prompt tokens), dual- and single-stream
    blocks (over `tokens` video and `cond` condition tokens) and output (over `out_tokens`)."""
    pt, ph, pw = _patch(config)
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    mlp = int(dim * float(config.get("mlp_ratio") or 4.0))
    text_dim, pooled = int(config["text_embed_dim"]), int(config["pooled_projection_dim"])
    rows, prompt, condition, joint = batch * tokens, batch * text, batch * cond, batch * (tokens + cond)
    conditions = 2 + (1 if config.get("guidance_embeds") else 0) + (1 if replace else 0)  # two-layer MLPs
    out = (conditions - 1) * (_linear(batch, 256, dim) + _linear(batch, dim, dim))
    out += _linear(batch, pooled, dim) + _linear(batch, dim, dim)
    # the token refiner: its own timestep and pooled-prompt MLPs, proj_in, self-attention blocks
    out += (
        _linear(batch, 256, dim) + _linear(batch, dim, dim) + _linear(batch, text_dim, dim) + _linear(batch, dim, dim)
    )
    out += _linear(prompt, text_dim, dim)
    refiner = 4 * _linear(prompt, dim, dim) + _attention(batch, text, text, dim)
    refiner += _linear(prompt, dim, mlp) + _linear(prompt, mlp, dim) + _linear(batch, dim, 2 * dim)
    out += int(config.get("num_refiner_layers") or 2) * refiner
    modulations = 2 if replace else 1
    double = (modulations + 1) * _linear(batch, dim, 6 * dim) + 4 * _linear(rows, dim, dim)
    double += 4 * _linear(condition, dim, dim) + _attention(batch, tokens + cond, tokens + cond, dim)
    double += _linear(rows, dim, mlp) + _linear(rows, mlp, dim) + _linear(condition, dim, mlp)
    double += _linear(condition, mlp, dim)
    out += int(config["num_layers"]) * double
    single = modulations * _linear(batch, dim, 3 * dim) + _linear(joint, dim, mlp) + 3 * _linear(joint, dim, dim)
    single += _attention(batch, tokens + cond, tokens + cond, dim) + _linear(joint, dim + mlp, dim)
    out += int(config["num_single_layers"]) * single
    out += _linear(batch, dim, 2 * dim)
    out += _linear(batch * out_tokens, dim, pt * ph * pw * int(config.get("out_channels") or 16))
    return out


def unet3d(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """UNet3DConditionModel (ModelScope, ZeroScope): per frame, 2D ResNets (3×3 convolutions), spatial
    transformers (self-attention over the pixels, cross-attention to the prompt, a GEGLU feed-forward) and
    3×3 down/up-sampling convolutions; across frames, temporal convolutions (3×1×1) and temporal transformers
    (self-attention over the frames, twice); the time MLP, conv_in, the first temporal transformer, conv_out."""
    frames, height, width = latents
    channels = [int(c) for c in config["block_out_channels"]]
    layers = int(config.get("layers_per_block") or 2)
    heads_dim = config.get("attention_head_dim") or 64
    images = batch * frames
    temb = 4 * channels[0]

    def pixels(level: int) -> int:
        h, w = height, width
        for _ in range(level):
            h, w = -(-h // 2), -(-w // 2)
        return h * w

    def conv(level: int, c_in: int, c_out: int, kernel: int = 9) -> int:
        return _linear(images * pixels(level), c_in * kernel, c_out)

    def resnet(level: int, c_in: int, c_out: int) -> int:
        out = conv(level, c_in, c_out) + _linear(images, temb, c_out) + conv(level, c_out, c_out)
        return out + (conv(level, c_in, c_out, 1) if c_in != c_out else 0)

    def temporal_conv(level: int, c: int) -> int:
        return 4 * conv(level, c, c, 3)

    def spatial(level: int, c: int) -> int:
        n = pixels(level)
        rows = images * n
        out = 2 * _linear(rows, c, c) + 4 * _linear(rows, c, c) + _attention(images, n, n, c)
        out += 2 * _linear(rows, c, c) + 2 * _linear(images * text, int(config["cross_attention_dim"]), c)
        out += _attention(images, n, text, c)
        return out + _linear(rows, c, 8 * c) + _linear(rows, 4 * c, c)

    def temporal(level: int, c: int, inner: int | None = None) -> int:
        inner = inner or c
        rows, sequences = images * pixels(level), batch * pixels(level)
        out = _linear(rows, c, inner) + _linear(rows, inner, c)
        out += 2 * (4 * _linear(rows, inner, inner) + _attention(sequences, frames, frames, inner))
        return out + _linear(rows, inner, 8 * inner) + _linear(rows, 4 * inner, inner)

    out = _linear(batch, channels[0], temb) + _linear(batch, temb, temb)
    out += conv(0, int(config["in_channels"]), channels[0])
    out += temporal(0, channels[0], 8 * int(heads_dim if isinstance(heads_dim, int) else heads_dim[0]))
    skips = [channels[0]]
    c_prev = channels[0]
    kinds = list(config["down_block_types"])
    for level, (kind, c) in enumerate(zip(kinds, channels)):
        for layer in range(layers):
            out += resnet(level, c_prev if layer == 0 else c, c) + temporal_conv(level, c)
            if kind.startswith("CrossAttn"):
                out += spatial(level, c) + temporal(level, c)
            skips.append(c)
        c_prev = c
        if level < len(channels) - 1:
            out += _linear(images * pixels(level + 1), c * 9, c)
            skips.append(c)
    bottom = len(channels) - 1
    c = channels[-1]
    out += 2 * (resnet(bottom, c, c) + temporal_conv(bottom, c)) + spatial(bottom, c) + temporal(bottom, c)
    reversed_channels = channels[::-1]
    for i, kind in enumerate(config["up_block_types"]):
        level = bottom - i
        c = reversed_channels[i]
        for layer in range(layers + 1):
            skip = skips.pop()
            out += resnet(level, (c_prev if layer == 0 else c) + skip, c) + temporal_conv(level, c)
            if kind.startswith("CrossAttn"):
                out += spatial(level, c) + temporal(level, c)
        c_prev = c
        if i < len(channels) - 1:
            out += conv(level - 1, c, c)
    out += conv(0, channels[0], int(config.get("out_channels") or 4))
    return Count(out, height * width, True)


#: class → its layer-by-layer count (config, latent (frames, height, width), batch, prompt tokens)
EXACT: dict[str, Callable[[Mapping[str, Any], tuple[int, int, int], int, int], Count]] = {
    "WanTransformer3DModel": wan,
    "SkyReelsV2Transformer3DModel": wan,  # Wan's layers (its per-frame timesteps: see `wan`)
    "LTXVideoTransformer3DModel": ltx,
    "CogVideoXTransformer3DModel": cogvideox,
    "HunyuanVideoTransformer3DModel": hunyuanvideo,
    "HunyuanVideoFramepackTransformer3DModel": framepack,
    "UNet3DConditionModel": unet3d,
}


def rough(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, linear_params: int) -> Count:
    """A class without a layer-by-layer count: every Linear weight applied to every token (transformers) plus
    self-attention over them; a UNet's weights over its latent pixels at an eighth of them on average."""
    frames, height, width = latents
    if "block_out_channels" in config:  # a UNet: the frames run as a batch through 2D layers
        pixels = frames * height * width
        return Count(2 * batch * linear_params * pixels // 8, height * width, False)
    pt, ph, pw = _patch(config)
    tokens = math.ceil(frames / pt) * math.ceil(height / ph) * math.ceil(width / pw)
    heads = int(config.get("num_attention_heads") or 16)
    dim = heads * int(config.get("attention_head_dim") or 64)
    layers = int(config.get("num_layers") or 28) + int(config.get("num_single_layers") or 0)
    flops = batch * (2 * linear_params * tokens) + layers * _attention(batch, tokens, tokens, dim)
    return Count(flops, tokens, False)


def denoiser_flops(
    den: Component, vae: Component | None, shape: Shape, linear_params: int | None, text: int | None = None
) -> Count | None:
    """FLOPs of one forward of `den` at `shape` (batch: `shape.batch_cfg`); None when nothing is known."""
    config = effective_config(den)
    latents = latent_size(vae, shape)
    if den.class_name == "HunyuanVideoFramepackTransformer3DModel":  # a step denoises one section's window
        latents = (FRAMEPACK_WINDOW, latents[1], latents[2])
    count = EXACT.get(den.class_name)
    if count is not None:
        try:
            prompt = text or config.get("max_text_seq_length") or TEXT_TOKENS.get(den.class_name, 256)
            return count(config, latents, shape.batch_cfg, int(prompt))
        except (KeyError, TypeError, ValueError):  # a config without what the count reads: the rough count
            pass
    if linear_params is None:
        return None
    return rough(config, latents, shape.batch_cfg, linear_params)


def decode_flops(vae: Component, shape: Shape, tiling: bool, tile: int | None) -> tuple[int, float]:
    """(FLOPs, overlap factor) of decoding the video: each decoder stage's 3×3(×3) convolutions at its
    resolution (rough: resampling, attention and the causal cache left out). Tiling decodes overlapping
    tiles: the factor is what the overlap adds (a quarter of each tile, as diffusers' VAEs blend)."""
    config = effective_config(vae)
    if "base_dim" in config:  # Wan's VAE
        base = int(config.get("decoder_base_dim") or config["base_dim"])
        channels = [base * int(m) for m in config.get("dim_mult") or [1, 2, 4, 4]]
        layers = int(config.get("num_res_blocks") or 2) + 1
    else:
        channels = [int(c) for c in config.get("block_out_channels") or [128, 256, 512, 512]]
        per = config.get("layers_per_block") or 2
        layers = int(per[0] if isinstance(per, (list, tuple)) else per) + 1
    spatial, temporal = vae_factors(vae)
    three_d = temporal > 1 or vae.class_name in VAE_LAYOUT and VAE_LAYOUT[vae.class_name][1] > 1
    kernel = 27 if three_d else 9
    flops = 0
    for level, width in enumerate(channels):
        pixels = shape.frames * shape.height * shape.width / 4**level
        flops += int(2 * layers * 2 * kernel * width * width * pixels)
    factor = 1.0
    if tiling and tile and max(shape.height, shape.width) > tile:
        factor = (1 / 0.75) ** 2
    return flops, factor
