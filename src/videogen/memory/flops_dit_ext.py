"""Layer-by-layer FLOP counts of the later video transformers (Allegro, Wan 2.2 Animate, Helios, Latte, Cosmos)
from their configs (flops.py holds the registry; flops_dit.py the primitives and the first families). Each
equals what torch's FlopCounterMode counts (tests/memory/test_flops.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .activations import SEGMENT_LATENTS
from .flops_dit import Count, attention, linear, wan


def allegro(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """AllegroTransformer3DModel: AdaLayerNormSingle's timestep MLP, the per-frame patch Conv2d, the caption
    projection, blocks of self-attention, cross-attention to the prompt and a GELU feed-forward (4×), proj_out."""
    frames, height, width = latents
    p = int(config["patch_size"])
    tokens = frames * (height // p) * (width // p)
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    rows, prompt = batch * tokens, batch * text
    out = linear(batch, 256, dim) + linear(batch, dim, dim) + linear(batch, dim, 6 * dim)
    out += linear(rows, int(config["in_channels"]) * p * p, dim)
    out += linear(prompt, int(config["caption_channels"]), dim) + linear(prompt, dim, dim)
    block = 4 * linear(rows, dim, dim) + attention(batch, tokens, tokens, dim)
    block += 2 * linear(rows, dim, dim) + 2 * linear(prompt, int(config["cross_attention_dim"]), dim)
    block += attention(batch, tokens, text, dim) + linear(rows, dim, 4 * dim) + linear(rows, 4 * dim, dim)
    out += int(config["num_layers"]) * block
    out += linear(rows, dim, p * p * int(config.get("out_channels") or config["in_channels"]))
    return Count(out, tokens, True)


#: Wan Animate's segments: a step denoises one segment, `segment_frame_length` (77 by default: 20 latent frames)
#: whatever num_frames is (the last one padded; activations.SEGMENT_LATENTS); the motion encoder's channels per
#: resolution (its default table)
WAN_ANIMATE_SEGMENT_LATENTS = SEGMENT_LATENTS["WanAnimateTransformer3DModel"]
WAN_ANIMATE_MOTION_CHANNELS = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}


def wan_animate(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """WanAnimateTransformer3DModel, one forward of one segment (`latents` frames, at most the default segment's,
    plus the character's reference frame): Wan 2.1 I2V's layers (flops_dit.wan) with the pose latents' patch
    Conv3d; the motion encoder over every face frame (a StyleGAN-like ResNet with blur filters down to 4×4, an MLP,
    the product with its orthonormal motion basis), the face encoder's causal Conv1ds back to the latent frames,
    and a face adapter (cross-attention per latent frame to its face tokens) after every
    `inject_face_latents_blocks`-th block. The image keys need `added_kv_proj_dim` (the real config's)."""
    if not config.get("added_kv_proj_dim") or not config.get("image_dim"):
        raise ValueError("Wan Animate without image keys: not counted layer by layer")
    frames, height, width = latents
    frames = min(frames, WAN_ANIMATE_SEGMENT_LATENTS)
    pt, ph, pw = (int(p) for p in config.get("patch_size") or (1, 2, 2))
    per_frame = (height // ph) * (width // pw)
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    out = wan(config, (frames + 1, height, width), batch, text).flops  # the reference frame first
    latent_channels = int(config.get("latent_channels") or (int(config["in_channels"]) - 4) // 2)
    out += linear(batch * frames * per_frame, latent_channels * pt * ph * pw, dim)  # the pose latents
    faces = (frames - 1) * 4 + 1  # the segment's pixel frames
    out += _motion_encoder(config, batch * faces)
    motion, hidden = int(config.get("motion_encoder_dim") or 512), int(config.get("face_encoder_hidden_dim") or 1024)
    heads = int(config.get("face_encoder_num_heads") or 4)
    halved = (faces - 1) // 2 + 1
    out += linear(batch * faces, motion * 3, hidden * heads) + linear(batch * heads * halved, hidden * 3, hidden)
    out += linear(batch * heads * frames, hidden * 3, hidden) + linear(batch * heads * frames, hidden, dim)
    rows, face_tokens = batch * (frames + 1) * per_frame, batch * (frames + 1) * (heads + 1)  # + a padding token
    adapter = 2 * linear(rows, dim, dim) + 2 * linear(face_tokens, dim, dim)
    adapter += attention(batch * (frames + 1), per_frame, heads + 1, dim)
    layers, every = int(config["num_layers"]), int(config.get("inject_face_latents_blocks") or 5)
    out += ((layers - 1) // every + 1) * adapter
    return Count(out, (frames + 1) * per_frame, True)


def _motion_encoder(config: Mapping[str, Any], images: int) -> int:
    """WanAnimateMotionEncoder over `images` face crops: a 1×1 conv_in, ResNet blocks halving the side down to 4
    (a 3×3 conv; a blurred strided 3×3 conv and a blurred strided 1×1 skip, the blurs 4×4 depthwise), a 4×4
    conv_out to one style vector, five Linears, the motion basis product."""
    size = int(config.get("motion_encoder_size") or 512)
    table = {
        int(k): int(v) for k, v in (config.get("motion_encoder_channel_sizes") or WAN_ANIMATE_MOTION_CHANNELS).items()
    }
    style, motion = int(config.get("motion_style_dim") or 512), int(config.get("motion_dim") or 20)
    channels = table[size]
    out = linear(images * size * size, 3, channels)
    side = size
    while side > 4:
        c_out, half = table[side // 2], side // 2
        out += linear(images * side * side, channels * 9, channels)
        out += linear(images * (side + 1) ** 2, 16, channels) + linear(images * half * half, channels * 9, c_out)
        out += linear(images * (side - 1) ** 2, 16, channels) + linear(images * half * half, channels, c_out)
        channels, side = c_out, half
    out += linear(images, channels * 16, style) + 4 * linear(images, style, style) + linear(images, style, motion)
    return out + linear(images * motion, motion, int(config.get("motion_encoder_dim") or 512))


#: Helios's chunks (the pipeline's defaults): a step denoises one chunk of latent frames, attending to a history
#: of long, mid and short memory latents (the short one with the first frame's prefix)
HELIOS_CHUNK, HELIOS_HISTORY = 9, (16, 2, 1)


def helios(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """HeliosTransformer3DModel, one forward of one chunk (`latents` frames: the chunk's): the patch Conv3ds of the
    chunk and of the short history (1×), the mid (2×) and long (4×) history at growing strides, the timestep MLPs
    (the history's own at t = 0), the prompt projection, Wan-like blocks (self-attention over history + chunk,
    cross-attention from the chunk's tokens only with `guidance_cross_attn`, else from all, a feed-forward over
    all), proj_out on the chunk."""
    frames, height, width = latents
    pt, ph, pw = (int(p) for p in config.get("patch_size") or (1, 2, 2))
    per_frame = (height // ph) * (width // pw)
    window = (frames // pt) * per_frame
    long, mid, short = HELIOS_HISTORY
    short += 1  # the prefix: the image's latent, or zeros
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    channels, ffn = int(config["in_channels"]), int(config["ffn_dim"])
    patch = channels * pt * ph * pw
    out = linear(batch * window, patch, dim)
    history = 0
    if config.get("has_multi_term_memory_patch", True):
        short_tokens = (short // pt) * per_frame
        mid_tokens = -(-mid // 2) * -(-height // 4) * -(-width // 4)
        long_tokens = -(-long // 4) * -(-height // 8) * -(-width // 8)
        history = short_tokens + mid_tokens + long_tokens
        out += linear(batch * short_tokens, patch, dim) + linear(batch * mid_tokens, 8 * patch, dim)
        out += linear(batch * long_tokens, 64 * patch, dim)
    timestep = linear(1, int(config.get("freq_dim") or 256), dim) + linear(1, dim, dim) + linear(1, dim, 6 * dim)
    out += (batch + (1 if config.get("zero_history_timestep", True) else 0)) * timestep
    out += linear(batch * text, int(config["text_dim"]), dim) + linear(batch * text, dim, dim)
    tokens = window + history
    rows, prompt = batch * tokens, batch * text
    crossing = window if config.get("guidance_cross_attn", True) else tokens
    block = 4 * linear(rows, dim, dim) + attention(batch, tokens, tokens, dim)
    block += 2 * linear(batch * crossing, dim, dim) + 2 * linear(prompt, dim, dim)
    block += attention(batch, crossing, text, dim) + linear(rows, dim, ffn) + linear(rows, ffn, dim)
    out += int(config["num_layers"]) * block
    out += linear(batch * window, dim, int(config.get("out_channels") or channels) * pt * ph * pw)
    return Count(out, window, True)


def latte(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """LatteTransformer3DModel: the per-frame patch Conv2d, AdaLayerNormSingle's timestep MLP, the caption
    projection, then per layer a spatial block (self-attention over a frame's patches, cross-attention to the
    prompt — repeated per frame —, a feed-forward) and a temporal block (self-attention over the frames, a
    feed-forward), proj_out."""
    if (config.get("norm_type") or "layer_norm") not in ("ada_norm_single", "layer_norm"):
        raise ValueError("Latte with class-label norms: not counted layer by layer")
    frames, height, width = latents
    p = int(config["patch_size"])
    patches = (height // p) * (width // p)
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    images, rows = batch * frames, batch * frames * patches
    channels = int(config["in_channels"])
    out = linear(rows, channels * p * p, dim)
    out += linear(batch, 256, dim) + linear(batch, dim, dim) + linear(batch, dim, 6 * dim)
    out += linear(batch * text, int(config["caption_channels"]), dim) + linear(batch * text, dim, dim)
    gated = 2 if (config.get("activation_fn") or "geglu") in ("geglu", "geglu-approximate", "swiglu") else 1
    ff = linear(rows, dim, gated * 4 * dim) + linear(rows, 4 * dim, dim)
    spatial = 4 * linear(rows, dim, dim) + attention(images, patches, patches, dim) + 2 * linear(rows, dim, dim)
    spatial += 2 * linear(images * text, int(config.get("cross_attention_dim") or dim), dim)
    spatial += attention(images, patches, text, dim) + ff
    temporal = 4 * linear(rows, dim, dim) + attention(batch * patches, frames, frames, dim) + ff
    out += int(config["num_layers"]) * (spatial + temporal)
    out += linear(rows, dim, p * p * int(config.get("out_channels") or channels))
    return Count(out, frames * patches, True)


#: Cosmos's image-context tokens (Cosmos-Predict2.5's `img_context_num_tokens` default) when its config has them
COSMOS_IMAGE_TOKENS = 256


def cosmos(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """CosmosTransformer3DModel: the patch Linear (over the latents, the condition and padding masks), the
    timestep MLP, blocks of self-attention, cross-attention to the prompt (Predict2.5: and to the image context)
    and a GELU feed-forward, each behind an adaLN-LoRA modulation (two Linears), the output modulation, proj_out.
    Cosmos 1.0 (a learnable position embedding) gets one timestep per sample; Predict2 and 2.5 (none) get one per
    latent frame, so the timestep MLP runs per frame and every modulation per token."""
    frames, height, width = latents
    pt, ph, pw = (int(p) for p in config.get("patch_size") or (1, 2, 2))
    tokens = (frames // pt) * (height // ph) * (width // pw)
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    lora, hidden = int(config.get("adaln_lora_dim") or 256), int(dim * float(config.get("mlp_ratio") or 4.0))
    rows, prompt = batch * tokens, batch * text
    channels = int(config["in_channels"]) + (1 if config.get("concat_padding_mask", True) else 0)
    out = linear(rows, channels * pt * ph * pw, dim)
    per_frame = config.get("extra_pos_embed_type", "learnable") is None
    steps, modulated = (batch * (frames // pt), rows) if per_frame else (batch, batch)
    out += linear(steps, dim, dim) + linear(steps, dim, 3 * dim)
    context = int(config.get("text_embed_dim") or 1024)
    if config.get("use_crossattn_projection"):
        proj_in = int(config.get("crossattn_proj_in_channels") or 1024)
        out += linear(prompt, proj_in, int(config.get("encoder_hidden_states_channels") or 1024))
    block = 3 * (linear(modulated, dim, lora) + linear(modulated, lora, 3 * dim))
    block += 4 * linear(rows, dim, dim) + attention(batch, tokens, tokens, dim)
    block += 2 * linear(rows, dim, dim) + 2 * linear(prompt, context, dim) + attention(batch, tokens, text, dim)
    if config.get("img_context_dim_in"):
        image = batch * int(config.get("img_context_num_tokens") or COSMOS_IMAGE_TOKENS)
        out += linear(image, int(config["img_context_dim_in"]), int(config.get("img_context_dim_out") or 2048))
        block += linear(rows, dim, dim) + 2 * linear(image, dim, dim) + attention(batch, tokens, image // batch, dim)
    block += linear(rows, dim, hidden) + linear(rows, hidden, dim)
    out += int(config["num_layers"]) * block
    out += linear(modulated, dim, lora) + linear(modulated, lora, 2 * dim)
    out += linear(rows, dim, pt * ph * pw * int(config.get("out_channels") or 16))  # the class's default
    return Count(out, tokens, True)
