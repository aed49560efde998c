"""Layer-by-layer FLOP counts of the video UNets from their configs (flops.py holds the registry); each equals
what torch's FlopCounterMode counts (tests/memory/test_flops.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .flops_dit import Count, attention, linear


@dataclass(frozen=True)
class Grid:
    """A video UNet's frames run as a batch of `images` through 2D layers, halved in size at each level."""

    images: int
    height: int
    width: int
    temb: int  # the time embedding's width

    def pixels(self, level: int) -> int:
        h, w = self.height, self.width
        for _ in range(level):
            h, w = -(-h // 2), -(-w // 2)
        return h * w

    def conv(self, level: int, c_in: int, c_out: int, kernel: int = 9) -> int:
        return linear(self.images * self.pixels(level), c_in * kernel, c_out)

    def resnet(self, level: int, c_in: int, c_out: int) -> int:
        """A 2D ResNet block: two 3×3 convolutions, the time embedding's projection, a 1×1 shortcut if widths differ."""
        out = self.conv(level, c_in, c_out) + linear(self.images, self.temb, c_out) + self.conv(level, c_out, c_out)
        return out + (self.conv(level, c_in, c_out, 1) if c_in != c_out else 0)


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

    grid = Grid(images, height, width, temb)
    pixels, conv = grid.pixels, grid.conv

    resnet = grid.resnet

    def temporal_conv(level: int, c: int) -> int:
        return 4 * conv(level, c, c, 3)

    def spatial(level: int, c: int) -> int:
        n = pixels(level)
        rows = images * n
        out = 2 * linear(rows, c, c) + 4 * linear(rows, c, c) + attention(images, n, n, c)
        out += 2 * linear(rows, c, c) + 2 * linear(images * text, int(config["cross_attention_dim"]), c)
        out += attention(images, n, text, c)
        return out + linear(rows, c, 8 * c) + linear(rows, 4 * c, c)

    def temporal(level: int, c: int, inner: int | None = None) -> int:
        inner = inner or c
        rows, sequences = images * pixels(level), batch * pixels(level)
        out = linear(rows, c, inner) + linear(rows, inner, c)
        out += 2 * (4 * linear(rows, inner, inner) + attention(sequences, frames, frames, inner))
        return out + linear(rows, inner, 8 * inner) + linear(rows, 4 * inner, inner)

    out = linear(batch, channels[0], temb) + linear(batch, temb, temb)
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
            out += linear(images * pixels(level + 1), c * 9, c)
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


def svd(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """UNetSpatioTemporalConditionModel (Stable Video Diffusion): spatio-temporal ResNets (a 2D ResNet, then a
    temporal one of 3×1×1 convolutions), spatio-temporal transformers (spatial: self-attention over the
    pixels, cross-attention to the image embedding, a GEGLU feed-forward; temporal: a GEGLU input feed-forward,
    self-attention over the frames, cross-attention to the first frame's context, a feed-forward), 3×3
    resampling; the time and added-time MLPs, conv_in, conv_out. `text`: the image embedding's tokens."""
    frames, height, width = latents
    channels = [int(c) for c in config["block_out_channels"]]
    levels = len(channels)

    def per_block(key: str, default: Any) -> list[Any]:
        value = config.get(key, default)
        return list(value) if isinstance(value, (list, tuple)) else [value] * levels

    layers = [int(n) for n in per_block("layers_per_block", 2)]
    depth = [int(n) for n in per_block("transformer_layers_per_block", 1)]
    cross = [int(n) for n in per_block("cross_attention_dim", 1024)]
    images = batch * frames
    temb = 4 * channels[0]

    grid = Grid(images, height, width, temb)
    pixels, conv = grid.pixels, grid.conv

    def resnet(level: int, c_in: int, c_out: int) -> int:  # the 2D ResNet, then the temporal one
        return grid.resnet(level, c_in, c_out) + 2 * conv(level, c_out, c_out, 3) + linear(images, temb, c_out)

    def geglu(rows: int, c: int) -> int:
        return linear(rows, c, 8 * c) + linear(rows, 4 * c, c)

    def transformer(level: int, c: int, layers: int, context: int) -> int:
        n = pixels(level)
        rows, sequences = images * n, batch * n
        out = 2 * linear(rows, c, c) + linear(images, c, 4 * c) + linear(images, 4 * c, c)
        spatial = 4 * linear(rows, c, c) + attention(images, n, n, c) + 2 * linear(rows, c, c)
        spatial += 2 * linear(images * text, context, c) + attention(images, n, text, c) + geglu(rows, c)
        temporal = geglu(rows, c) + 4 * linear(rows, c, c) + attention(sequences, frames, frames, c)
        temporal += 2 * linear(rows, c, c) + 2 * linear(sequences * text, context, c)
        temporal += attention(sequences, frames, text, c) + geglu(rows, c)
        return out + layers * (spatial + temporal)

    out = linear(batch, channels[0], temb) + linear(batch, temb, temb)
    out += linear(batch, int(config.get("projection_class_embeddings_input_dim") or 768), temb)
    out += linear(batch, temb, temb) + conv(0, int(config["in_channels"]), channels[0])
    skips = [channels[0]]
    c_prev = channels[0]
    for level, (kind, c) in enumerate(zip(config["down_block_types"], channels)):
        for layer in range(layers[level]):
            out += resnet(level, c_prev if layer == 0 else c, c)
            if kind.startswith("CrossAttn"):
                out += transformer(level, c, depth[level], cross[level])
            skips.append(c)
        c_prev = c
        if level < levels - 1:
            out += linear(images * pixels(level + 1), c * 9, c)
            skips.append(c)
    bottom, c = levels - 1, channels[-1]
    out += 2 * resnet(bottom, c, c) + transformer(bottom, c, depth[-1], cross[-1])
    for i, kind in enumerate(config["up_block_types"]):
        level, c = bottom - i, channels[bottom - i]
        for layer in range(layers[level] + 1):
            out += resnet(level, (c_prev if layer == 0 else c) + skips.pop(), c)
            if kind.startswith("CrossAttn"):
                out += transformer(level, c, depth[level], cross[level])
        c_prev = c
        if i < levels - 1:
            out += conv(level - 1, c, c)
    out += conv(0, channels[0], int(config.get("out_channels") or 4))
    return Count(out, height * width, True)


#: I2VGen-XL's context tokens beside the prompt's: the first frame's latents pooled to 32×32, then two stride-2
#: convolutions (8×8 tokens); the image embedding projected to `in_channels` tokens
I2VGENXL_LATENT_TOKENS = 64


def i2vgen_xl(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """I2VGenXLUNet: UNet3DConditionModel's layers (conv_in over the noise and the image latents side by side)
    plus the fps MLP, the image latents' convolutions and temporal encoder, and the context it attends to:
    the prompt, the first frame's latents (convolved to 8×8 tokens) and the image embedding's tokens."""
    frames, height, width = latents
    channels = int(config["in_channels"])
    cross = int(config["cross_attention_dim"])
    context = text + I2VGENXL_LATENT_TOKENS + channels
    base = dict(config, in_channels=2 * channels)
    out = unet3d(base, latents, batch, context).flops
    temb = 4 * int(config["block_out_channels"][0])
    out += linear(batch, int(config["block_out_channels"][0]), temb) + linear(batch, temb, temb)  # fps
    out += linear(batch, cross, temb) + linear(batch, temb, cross * channels)  # the image embedding
    first = batch * height * width
    out += linear(first, 4 * 9, 8 * channels)  # the first frame's latents, to context tokens
    out += linear(batch * 16 * 16, 8 * channels * 9, 16 * channels) + linear(batch * 8 * 8, 16 * channels * 9, cross)
    rows = batch * frames * height * width
    out += linear(rows, 4 * 9, 4 * channels) + linear(rows, 4 * channels * 9, 4 * channels)
    out += linear(rows, 4 * channels * 9, channels)  # image_latents_proj_in
    inner = 2 * channels  # the temporal encoder: two heads of in_channels, over the frames
    out += 3 * linear(rows, channels, inner) + linear(rows, inner, channels)
    out += attention(batch * height * width, frames, frames, inner)
    out += linear(rows, channels, 4 * channels) + linear(rows, 4 * channels, channels)
    return Count(out, height * width, True)


def animatediff(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, text: int) -> Count:
    """UNetMotionModel (AnimateDiff: Stable Diffusion's UNet with the motion adapter folded in): per frame, 2D
    ResNets, spatial transformers (self-attention over the pixels, cross-attention to the prompt — repeated per
    frame —, a GEGLU feed-forward) and 3×3 resampling; after every ResNet (or spatial transformer) a motion module
    over the frames (proj_in, blocks of two self-attentions and a GEGLU feed-forward, proj_out), in the mid block
    too when `use_motion_mid_block`; the time MLP, conv_in, conv_out."""
    frames, height, width = latents
    channels = [int(c) for c in config["block_out_channels"]]
    levels = len(channels)

    def per_block(key: str, default: Any, reverse: str | None = None) -> list[int]:
        value = config.get(key)
        value = default if value is None else value
        out = [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)] * levels
        given = config.get(reverse) if reverse else None
        if given is None:
            return out + out[::-1]
        return out + ([int(v) for v in given] if isinstance(given, (list, tuple)) else [int(given)] * levels)

    layers = per_block("layers_per_block", 2)
    heads, cross = per_block("num_attention_heads", 8), per_block("cross_attention_dim", 768)
    motion_heads = per_block("motion_num_attention_heads", 8, "reverse_motion_num_attention_heads")
    depth = per_block("transformer_layers_per_block", 1, "reverse_transformer_layers_per_block")
    motion_depth = per_block(
        "temporal_transformer_layers_per_block", 1, "reverse_temporal_transformer_layers_per_block"
    )
    images = batch * frames
    temb = 4 * channels[0]

    grid = Grid(images, height, width, temb)
    pixels, conv = grid.pixels, grid.conv

    resnet = grid.resnet

    def spatial(level: int, c: int, heads: int, layers: int, context: int) -> int:
        n, inner = pixels(level), heads * (c // heads)
        rows = images * n
        block = 4 * linear(rows, inner, inner) + attention(images, n, n, inner) + 2 * linear(rows, inner, inner)
        block += 2 * linear(images * text, context, inner) + attention(images, n, text, inner)
        block += linear(rows, inner, 8 * inner) + linear(rows, 4 * inner, inner)
        return linear(rows, c, inner) + layers * block + linear(rows, inner, c)

    def motion(level: int, c: int, heads: int, layers: int) -> int:
        n, inner = pixels(level), heads * (c // heads)
        rows = images * n
        block = 2 * (4 * linear(rows, inner, inner) + attention(batch * n, frames, frames, inner))
        block += linear(rows, inner, 8 * inner) + linear(rows, 4 * inner, inner)
        return linear(rows, c, inner) + layers * block + linear(rows, inner, c)

    out = linear(batch, channels[0], temb) + linear(batch, temb, temb)
    out += conv(0, int(config["in_channels"]), channels[0])
    skips = [channels[0]]
    c_prev = channels[0]
    for level, (kind, c) in enumerate(zip(config["down_block_types"], channels)):
        for layer in range(layers[level]):
            out += resnet(level, c_prev if layer == 0 else c, c)
            if kind.startswith("CrossAttn"):
                out += spatial(level, c, heads[level], depth[level], cross[level])
            out += motion(level, c, motion_heads[level], motion_depth[level])
            skips.append(c)
        c_prev = c
        if level < levels - 1:
            out += linear(images * pixels(level + 1), c * 9, c)
            skips.append(c)
    bottom, c = levels - 1, channels[-1]
    mid_depth = int(config.get("transformer_layers_per_mid_block") or depth[bottom])
    mid = spatial(bottom, c, heads[bottom], mid_depth, cross[bottom]) + resnet(bottom, c, c)
    if config.get("use_motion_mid_block", True):
        mid_motion = int(config.get("temporal_transformer_layers_per_mid_block") or 1)
        mid += motion(bottom, c, motion_heads[bottom], mid_motion)
    out += resnet(bottom, c, c) + int(config.get("mid_block_layers") or 1) * mid
    for i, kind in enumerate(config["up_block_types"]):
        level, c = bottom - i, channels[bottom - i]
        for layer in range(layers[level] + 1):
            out += resnet(level, (c_prev if layer == 0 else c) + skips.pop(), c)
            if kind.startswith("CrossAttn"):
                out += spatial(level, c, heads[levels + i], depth[levels + i], cross[levels + i])
            out += motion(level, c, motion_heads[levels + i], motion_depth[levels + i])
        c_prev = c
        if i < levels - 1:
            out += conv(level - 1, c, c)
    out += conv(0, channels[0], int(config.get("out_channels") or 4))
    return Count(out, height * width, True)
