"""Layer-by-layer FLOP counts of the later video transformers (Allegro, Wan 2.2 Animate, Helios, Latte, Cosmos)
from their configs (flops.py holds the registry; flops_dit.py the primitives and the first families). Each
equals what torch's FlopCounterMode counts (tests/memory/test_flops.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .flops_dit import Count, attention, linear


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
