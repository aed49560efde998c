"""Layer-by-layer FLOP counts of the video transformers (Wan, SkyReels-V2, Wan VACE, LTX-Video, CogVideoX,
HunyuanVideo, FramePack, Mochi, SANA-Video, EasyAnimate, Kandinsky 5, HunyuanVideo 1.5; LTX-2's audio-video one:
flops_dit_av.py) from their configs, and the two primitives every count is made of (flops.py holds the
registry). Each equals what torch's FlopCounterMode counts (tests/memory/test_flops.py)."""

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


#: tokens the pipelines pass beside the prompt: HunyuanVideo 1.5's ByT5 glyph prompt and SigLIP image tokens
#: (zeros in text-to-video, still attended to); Kandinsky 5's and Mochi's come from the prompt alone
HV15_BYT5_TOKENS, HV15_IMAGE_TOKENS = 256, 729


def mochi(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """MochiTransformer3DModel, an asymmetric dual stream: the timestep MLP, the prompt's attention pool and
    caption projection, the per-frame patch Conv2d, the RoPE positions' product with the learned frequencies,
    blocks of joint attention over video + prompt with a SwiGLU feed-forward per stream (the prompt stream
    narrower; the last block updates only the video), AdaLayerNorm, proj_out."""
    frames, height, width = latents
    p = int(config["patch_size"])
    tokens = frames * (height // p) * (width // p)
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    ctx, emb = int(config["pooled_projection_dim"]), int(config["text_embed_dim"])
    rows, prompt = batch * tokens, batch * text
    channels = int(config["in_channels"])
    out = linear(batch, int(config["time_embed_dim"]), dim) + linear(batch, dim, dim)
    out += linear(batch * (text + 1), emb, 2 * emb) + linear(batch, emb, emb) + attention(batch, 1, text + 1, emb)
    out += linear(batch, emb, dim) + linear(prompt, emb, ctx)
    out += linear(rows, channels * p * p, dim) + 3 * tokens * dim  # the RoPE einsum, once for the batch
    ff, ff_ctx = 4 * dim * 2 // 3, 4 * ctx * 2 // 3
    joint = linear(batch, dim, 4 * dim) + 4 * linear(rows, dim, dim) + 3 * linear(prompt, ctx, dim)
    joint += attention(batch, tokens + text, tokens + text, dim) + linear(rows, dim, 2 * ff) + linear(rows, ff, dim)
    layers = int(config["num_layers"])
    context = linear(batch, dim, 4 * ctx) + linear(prompt, dim, ctx) + linear(prompt, ctx, 2 * ff_ctx)
    out += layers * joint + (layers - 1) * (context + linear(prompt, ff_ctx, ctx)) + linear(batch, dim, ctx)
    out += linear(batch, dim, 2 * dim) + linear(rows, dim, p * p * int(config.get("out_channels") or channels))
    return Count(out, tokens, True)


def sana_video(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """SanaVideoTransformer3DModel: patch Conv3d, AdaLayerNormSingle's (and the guidance) MLPs, the caption
    projection, blocks of linear self-attention (ReLU kernels: K·Vᵀ then Q, and the normaliser), softmax
    cross-attention to the prompt and a GLUMBConv feed-forward (1×1, depthwise 3×3, 1×1, temporal 3×1
    convolutions), proj_out."""
    pt, ph, pw = patch_size(config)
    frames, height, width = latents
    frames, height, width = frames // pt, height // ph, width // pw
    tokens = frames * height * width
    heads, head = int(config["num_attention_heads"]), int(config["attention_head_dim"])
    dim, rows, prompt = heads * head, batch * tokens, batch * text
    cross = int(config.get("num_cross_attention_heads") or heads) * int(config.get("cross_attention_head_dim") or head)
    channels = int(config["in_channels"])
    out = linear(rows, channels * pt * ph * pw, dim)
    conditions = 2 if config.get("guidance_embeds") else 1
    out += conditions * (linear(batch, 256, dim) + linear(batch, dim, dim)) + linear(batch, dim, 6 * dim)
    out += linear(prompt, int(config["caption_channels"]), dim) + linear(prompt, dim, dim)
    hidden = int(float(config.get("mlp_ratio") or 2.5) * dim)
    block = 4 * linear(rows, dim, dim) + 2 * rows * dim + 4 * rows * dim * head  # linear self-attention
    block += linear(rows, dim, cross) + 2 * linear(prompt, int(config.get("cross_attention_dim") or dim), cross)
    block += attention(batch, tokens, text, cross) + linear(rows, cross, dim)
    block += linear(rows, dim, 2 * hidden) + linear(rows, 9, 2 * hidden) + linear(rows, hidden, dim)
    block += linear(rows, 3 * dim, dim)
    out += int(config["num_layers"]) * block
    out += linear(rows, dim, pt * ph * pw * int(config.get("out_channels") or channels))
    return Count(out, tokens, True)


def easyanimate(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """EasyAnimateTransformer3DModel: the timestep MLP, the per-frame patch Conv2d (over the latents and, in
    the inpainting models, the inpaint latents: `in_channels` counts both), the prompt projection, blocks of
    joint attention over prompt + video and a feed-forward per stream (MMDiT blocks: separate prompt weights;
    after `mmdit_layers`, shared ones), AdaLayerNorm, proj_out."""
    frames, height, width = latents
    p = int(config["patch_size"])
    tokens = frames * (height // p) * (width // p)
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    ted = int(config["time_embed_dim"])
    rows, prompt, joint = batch * tokens, batch * text, batch * (tokens + text)
    out = linear(batch, dim, ted) + linear(batch, ted, ted)
    out += linear(rows, int(config["in_channels"]) * p * p, dim) + linear(prompt, int(config["text_embed_dim"]), dim)
    block = 2 * linear(batch, ted, 6 * dim) + 3 * linear(joint, dim, dim) + linear(rows, dim, dim)
    block += attention(batch, tokens + text, tokens + text, dim) + linear(joint, dim, 4 * dim)
    block += linear(joint, 4 * dim, dim)
    layers, mmdit = int(config["num_layers"]), int(config.get("mmdit_layers") or 0)
    out += layers * block + min(layers, mmdit) * linear(prompt, dim, dim)  # an MMDiT block's to_add_out
    out += linear(batch, ted, 2 * dim) + linear(rows, dim, p * p * int(config["out_channels"]))
    return Count(out, tokens, True)


def kandinsky5(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """Kandinsky5Transformer3DModel: the time and pooled-CLIP MLPs, the prompt and patch projections, text
    blocks (self-attention and a feed-forward over the prompt), visual blocks (self-attention, cross-attention to
    the refined prompt, a feed-forward), the modulated output layer. Nabla (sparse) attention is counted dense:
    an upper bound (`exact` False)."""
    pt, ph, pw = patch_size(config)
    frames, height, width = latents
    tokens = (frames // pt) * (height // ph) * (width // pw)
    dim, td, ff = int(config["model_dim"]), int(config["time_dim"]), int(config["ff_dim"])
    rows, prompt = batch * tokens, batch * text
    visual = int(config["in_visual_dim"])
    visual = 2 * visual + 1 if config.get("visual_cond") else visual  # the image condition and its mask
    out = linear(batch, dim, td) + linear(batch, td, td) + linear(batch, int(config["in_text_dim2"]), td)
    out += linear(prompt, int(config["in_text_dim"]), dim) + linear(rows, visual * pt * ph * pw, dim)
    text_block = linear(batch, td, 6 * dim) + 4 * linear(prompt, dim, dim) + attention(batch, text, text, dim)
    text_block += linear(prompt, dim, ff) + linear(prompt, ff, dim)
    block = linear(batch, td, 9 * dim) + 4 * linear(rows, dim, dim) + attention(batch, tokens, tokens, dim)
    block += 2 * linear(rows, dim, dim) + 2 * linear(prompt, dim, dim) + attention(batch, tokens, text, dim)
    block += linear(rows, dim, ff) + linear(rows, ff, dim)
    out += int(config["num_text_blocks"]) * text_block + int(config["num_visual_blocks"]) * block
    out += linear(batch, td, 2 * dim) + linear(rows, dim, pt * ph * pw * int(config["out_visual_dim"]))
    return Count(out, tokens, (config.get("attention_type") or "regular") == "regular")


def hunyuanvideo15(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """HunyuanVideo15Transformer3DModel: patch Conv3d, the timestep MLP (MeanFlow's second one), the prompt's
    token refiner, the ByT5 and SigLIP projections (their tokens join the prompt's: image tokens even in text-to-
    video), dual-stream blocks (joint attention over video + conditions, a feed-forward per stream), proj_out."""
    pt, ph, pw = patch_size(config)
    frames, height, width = latents
    tokens = (frames // pt) * (height // ph) * (width // pw)
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    text_dim, mlp = int(config["text_embed_dim"]), int(dim * float(config.get("mlp_ratio") or 4.0))
    cond = HV15_IMAGE_TOKENS + HV15_BYT5_TOKENS + text
    rows, prompt, condition = batch * tokens, batch * text, batch * cond
    out = linear(rows, int(config["in_channels"]) * pt * ph * pw, dim)
    out += (2 if config.get("use_meanflow") else 1) * (linear(batch, 256, dim) + linear(batch, dim, dim))
    # the token refiner: its timestep and pooled-prompt MLPs, proj_in, self-attention blocks (a 4× SiLU MLP)
    out += linear(batch, 256, dim) + linear(batch, dim, dim) + linear(batch, text_dim, dim) + linear(batch, dim, dim)
    refiner = 4 * linear(prompt, dim, dim) + attention(batch, text, text, dim) + linear(prompt, dim, 4 * dim)
    refiner += linear(prompt, 4 * dim, dim) + linear(batch, dim, 2 * dim)
    out += linear(prompt, text_dim, dim) + int(config.get("num_refiner_layers") or 2) * refiner
    glyph, image = batch * HV15_BYT5_TOKENS, batch * HV15_IMAGE_TOKENS
    out += linear(glyph, int(config["text_embed_2_dim"]), 2048) + linear(glyph, 2048, 2048)
    out += linear(glyph, 2048, dim)
    image_dim = int(config["image_embed_dim"])
    out += linear(image, image_dim, image_dim) + linear(image, image_dim, dim)
    block = 2 * linear(batch, dim, 6 * dim) + 4 * linear(rows, dim, dim) + 4 * linear(condition, dim, dim)
    block += attention(batch, tokens + cond, tokens + cond, dim) + linear(rows, dim, mlp) + linear(rows, mlp, dim)
    block += linear(condition, dim, mlp) + linear(condition, mlp, dim)
    out += int(config["num_layers"]) * block
    out += linear(batch, dim, 2 * dim) + linear(rows, dim, pt * ph * pw * int(config.get("out_channels") or 16))
    return Count(out, tokens, True)
