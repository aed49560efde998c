"""Layer-by-layer FLOP counts of the video UNets from their configs (flops.py holds the registry); each equals
what torch's FlopCounterMode counts (tests/memory/test_flops.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .flops_dit import Count, attention, linear


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
        return linear(images * pixels(level), c_in * kernel, c_out)

    def resnet(level: int, c_in: int, c_out: int) -> int:
        out = conv(level, c_in, c_out) + linear(images, temb, c_out) + conv(level, c_out, c_out)
        return out + (conv(level, c_in, c_out, 1) if c_in != c_out else 0)

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
