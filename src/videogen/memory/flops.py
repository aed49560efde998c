"""Floating-point operations of one denoiser forward and of the VAE decode, counted from the architecture
config at the spec's size. Pure Python, no torch.

For the classes in `EXACT` (flops_dit.py: the transformers, flops_dit_av.py: LTX-2's audio-video one,
flops_dit_ext.py: the later transformers; flops_unet.py: the UNets: every family's denoiser) the count
follows the class's forward layer by layer and equals what torch's `FlopCounterMode` counts (matrix
products, convolutions and attention; tests/memory/test_flops.py checks it on the tiny model of each). Every
other class (a generic pipeline's denoiser) gets a rough count: its Linear weights applied to every video
token plus self-attention over them (`exact=False`, and the report says so). Kandinsky 5's sparse (nabla)
attention is counted dense, and not exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from .activations import VAE_LAYOUT, Shape, effective_config, patch_size, vae_factors
from .components import Component
from .flops_dit import (  # noqa: F401 - FRAMEPACK_WINDOW, WAN_IMAGE_TOKENS: also named here
    FRAMEPACK_WINDOW,
    WAN_IMAGE_TOKENS,
    Count,
    attention,
    cogvideox,
    easyanimate,
    framepack,
    hunyuanvideo,
    hunyuanvideo15,
    kandinsky5,
    ltx,
    mochi,
    sana_video,
    wan,
)
from .flops_dit_av import ltx2
from .flops_dit_ext import HELIOS_CHUNK, allegro, cosmos, helios, latte, wan_animate
from .flops_unet import animatediff, i2vgen_xl, svd, unet3d

#: prompt tokens each pipeline passes its denoiser (its `max_sequence_length` default)
TEXT_TOKENS: dict[str, int] = {
    "WanTransformer3DModel": 512,
    "WanVACETransformer3DModel": 512,
    "SkyReelsV2Transformer3DModel": 512,
    "CogVideoXTransformer3DModel": 226,
    "LTXVideoTransformer3DModel": 128,
    "HunyuanVideoTransformer3DModel": 256,
    "HunyuanVideoFramepackTransformer3DModel": 256,
    "LTX2VideoTransformer3DModel": 1024,
    "HunyuanVideo15Transformer3DModel": 1000,  # the Qwen prompt (its ByT5 and image tokens: flops_dit.py)
    "Kandinsky5Transformer3DModel": 512,  # at most: the pipeline pads to the longest prompt only
    "MochiTransformer3DModel": 256,  # at most: its attention drops the padding
    "SanaVideoTransformer3DModel": 300,
    "EasyAnimateTransformer3DModel": 256,
    "AllegroTransformer3DModel": 512,
    "HeliosTransformer3DModel": 512,
    "CosmosTransformer3DModel": 512,
    "LatteTransformer3DModel": 120,  # at most: the pipeline cuts the padding off the prompt
    "WanAnimateTransformer3DModel": 512,  # exactly: its cross-attention takes the image tokens before the last 512
    "UNet3DConditionModel": 77,
    "UNetSpatioTemporalConditionModel": 1,  # the image's CLIP embedding
    "I2VGenXLUNet": 77,
    "UNetMotionModel": 77,
}


def latent_size(vae: Component | None, shape: Shape) -> tuple[int, int, int]:
    """(frames, height, width) of the latents at `shape`."""
    spatial, temporal = vae_factors(vae)
    frames = (shape.frames - 1) // temporal + 1 if temporal > 1 else shape.frames
    return frames, shape.height // spatial, shape.width // spatial


#: class → its layer-by-layer count (config, latent (frames, height, width), batch, prompt tokens)
EXACT: dict[str, Callable[[Mapping[str, Any], tuple[int, int, int], int, int], Count]] = {
    "WanTransformer3DModel": wan,
    "SkyReelsV2Transformer3DModel": wan,  # Wan's layers (its per-frame timesteps: see `wan`)
    "WanVACETransformer3DModel": wan,  # and its VACE blocks over the control video
    "LTXVideoTransformer3DModel": ltx,
    "CogVideoXTransformer3DModel": cogvideox,
    "HunyuanVideoTransformer3DModel": hunyuanvideo,
    "HunyuanVideoFramepackTransformer3DModel": framepack,
    "LTX2VideoTransformer3DModel": ltx2,  # video and audio streams (flops_dit_av.py)
    "HunyuanVideo15Transformer3DModel": hunyuanvideo15,
    "Kandinsky5Transformer3DModel": kandinsky5,
    "MochiTransformer3DModel": mochi,
    "SanaVideoTransformer3DModel": sana_video,
    "EasyAnimateTransformer3DModel": easyanimate,
    "AllegroTransformer3DModel": allegro,
    "HeliosTransformer3DModel": helios,  # one chunk and its history (flops_dit_ext.py)
    "CosmosTransformer3DModel": cosmos,
    "LatteTransformer3DModel": latte,
    "WanAnimateTransformer3DModel": wan_animate,  # one segment (flops_dit_ext.py)
    "UNet3DConditionModel": unet3d,
    "UNetSpatioTemporalConditionModel": svd,
    "I2VGenXLUNet": i2vgen_xl,
    "UNetMotionModel": animatediff,
}


def rough(config: Mapping[str, Any], latents: tuple[int, int, int], batch: int, linear_params: int) -> Count:
    """A class without a layer-by-layer count: every Linear weight applied to every token (transformers) plus
    self-attention over them; a UNet's weights over its latent pixels at an eighth of them on average."""
    frames, height, width = latents
    if "block_out_channels" in config:  # a UNet: the frames run as a batch through 2D layers
        pixels = frames * height * width
        return Count(2 * batch * linear_params * pixels // 8, height * width, False)
    pt, ph, pw = patch_size(config)
    tokens = math.ceil(frames / pt) * math.ceil(height / ph) * math.ceil(width / pw)
    heads = int(config.get("num_attention_heads") or 16)
    dim = heads * int(config.get("attention_head_dim") or 64)
    layers = int(config.get("num_layers") or 28) + int(config.get("num_single_layers") or 0)
    flops = batch * (2 * linear_params * tokens) + layers * attention(batch, tokens, tokens, dim)
    return Count(flops, tokens, False)


def denoiser_flops(
    den: Component, vae: Component | None, shape: Shape, linear_params: int | None, text: int | None = None
) -> Count | None:
    """FLOPs of one forward of `den` at `shape` (batch: `shape.batch_cfg`); None when nothing is known."""
    config = effective_config(den)
    latents = latent_size(vae, shape)
    if den.class_name == "HunyuanVideoFramepackTransformer3DModel":  # a step denoises one section's window
        latents = (FRAMEPACK_WINDOW, latents[1], latents[2])
    if den.class_name == "HeliosTransformer3DModel":  # and Helios's one chunk
        latents = (HELIOS_CHUNK, latents[1], latents[2])
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
