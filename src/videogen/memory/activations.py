"""Activation memory without weights: a small formula per component kind (transformer, UNet, VAE, text and
image encoder) read off the configs with their class defaults, and the per-class factors (`FORMULA_FIT`) that
scale each formula to the simulation. Milliseconds per spec: what `memory="auto"` decides with; estimate.py adds
them to the weights of each plan, or takes a caller's simulated figures instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from . import stored
from .components import Component

#: simulated / formula activations, the median over the catalog's models at their default sizes (untiled;
#: benchmarks/simulate_catalog.py, 2026-11-23): scaled by these, the formulas `auto` decides with land near
#: the simulation for the models measured (docs/benchmarks.md); elsewhere they are rough
FORMULA_FIT: dict[str, float] = {
    "WanTransformer3DModel": 0.84,
    "AutoencoderKLWan": 1.85,
    "UMT5EncoderModel": 0.88,
    "CLIPVisionModel": 3.3,
    "CogVideoXTransformer3DModel": 0.83,
    "AutoencoderKLCogVideoX": 3.4,
    "T5EncoderModel": 0.72,
    "HunyuanVideoTransformer3DModel": 1.16,
    "HunyuanVideoFramepackTransformer3DModel": 0.59,
    "AutoencoderKLHunyuanVideo": 0.2,
    "LlamaModel": 2.0,
    "LlavaForConditionalGeneration": 12.2,
    "SiglipVisionModel": 2.3,
    "LTXVideoTransformer3DModel": 1.0,
    "AutoencoderKLLTXVideo": 0.84,
    "UNet3DConditionModel": 1.9,
    "I2VGenXLUNet": 1.9,
    "UNetSpatioTemporalConditionModel": 1.6,
    "AutoencoderKLTemporalDecoder": 1.3,
    "CLIPVisionModelWithProjection": 1.5,
}


#: denoisers that run one segment of the video per forward, whatever its length: Wan 2.2 Animate's
#: `segment_frame_length` (77 frames by default: 20 latent frames), plus the character's reference frame
SEGMENT_LATENTS: dict[str, int] = {"WanAnimateTransformer3DModel": 20}


class Tiled(Protocol):
    """What the VAE formula reads of a component's parameter counts (`estimate.ModuleStats`)."""

    @property
    def tile(self) -> int | None: ...


def effective_config(component: Component) -> dict[str, Any]:
    """The component's config with the class defaults it leaves out (a stored config lists only what
    differs; `patch_size` and `attention_head_dim` are often defaults)."""
    return dict(class_defaults(component.class_name, component.library), **(component.config or {}))


def class_defaults(class_name: str, library: str) -> dict[str, Any]:
    """The class's default config: stored (memory/stored.py), else read from the class."""
    found = stored.class_defaults(class_name, library)
    if found is not None:
        return found
    defaults = live_defaults(class_name, library)
    encoded = stored.storable(defaults)
    if encoded is not None:
        stored.remember("classes", class_name, encoded, "defaults", library)
    return defaults


@lru_cache(maxsize=64)
def live_defaults(class_name: str, library: str) -> dict[str, Any]:
    import inspect

    from .components import component_class

    try:
        cls = component_class(class_name, library)
    except (ImportError, AttributeError):
        return {}
    if library != "diffusers":
        try:
            return cls.config_class().to_dict()
        except Exception:  # noqa: BLE001 - a config class that needs arguments: no defaults
            return {}
    return {
        k: p.default
        for k, p in inspect.signature(cls.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


@dataclass(frozen=True)
class Shape:
    """The spec's output size."""

    height: int
    width: int
    frames: int
    batch_cfg: int = 1
    #: denoiser forwards per step: 2 where guidance runs its two halves one after the other
    passes: int = 1


#: VAE classes: (spatial factor, temporal factor, frames decoded at once: None = all, top channels key)
VAE_LAYOUT: dict[str, tuple[int, int, int | None]] = {
    "AutoencoderKLWan": (8, 4, 4),
    "AutoencoderKLLTXVideo": (32, 8, None),
    "AutoencoderKLCogVideoX": (8, 4, 8),
    "AutoencoderKLHunyuanVideo": (8, 4, None),
    "AutoencoderKLMochi": (8, 6, None),  # its config says it only as temporal_expansions [1, 2, 3]
    "AutoencoderKLAllegro": (8, 4, 24),  # decodes tiles of 24 frames, always (no untiled decode)
    "AutoencoderKLTemporalDecoder": (8, 1, None),
    "AutoencoderKL": (8, 1, None),
}


#: VAEs that decode only in tiles, whatever the plan says (the allegro family turns tiling on for every call)
ALWAYS_TILED = frozenset({"AutoencoderKLAllegro"})


def vae_factors(vae: Component | None) -> tuple[int, int]:
    """(spatial, temporal) compression of the VAE, from its config where it says so."""
    if vae is None:
        return 8, 4
    config = effective_config(vae)
    spatial, temporal, _ = VAE_LAYOUT.get(vae.class_name, (8, 4, None))
    spatial = int(config.get("scale_factor_spatial") or config.get("spatial_compression_ratio") or spatial)
    temporal = int(config.get("scale_factor_temporal") or config.get("temporal_compression_ratio") or temporal)
    if vae.class_name == "AutoencoderKL" and config.get("block_out_channels"):
        spatial = 2 ** (len(config["block_out_channels"]) - 1)
    return spatial, temporal


def patch_size(config: Mapping[str, Any]) -> tuple[int, int, int]:
    """A transformer config's patch as (frames, height, width): `patch_size` (an int or a list) and `patch_size_t`."""
    p = config.get("patch_size", 1)
    if isinstance(p, (list, tuple)):
        return int(p[0]), int(p[-2]), int(p[-1])
    pt = int(config.get("patch_size_t") or 1)
    return pt, int(p), int(p)


def denoiser_activation(
    den: Component, vae: Component | None, shape: Shape, act_bytes: int, forward_chunking: bool = False
) -> int:
    """Peak activation bytes of one denoiser forward at `shape` (no gradients)."""
    config = effective_config(den)
    spatial, temporal = vae_factors(vae)
    h, w = shape.height // spatial, shape.width // spatial
    if "block_out_channels" in config:  # a UNet: frames run as a batch, skip connections stay alive
        channels = list(config["block_out_channels"])
        layers = config.get("layers_per_block", 2)
        layers = layers[0] if isinstance(layers, (list, tuple)) else layers
        pixels = h * w
        skips = sum((int(layers) + 1) * c * pixels / 4**i for i, c in enumerate(channels))
        working = (4 if forward_chunking else 12) * channels[0] * pixels
        return int(shape.batch_cfg * shape.frames * (skips + working) * act_bytes)
    heads = int(config.get("num_attention_heads") or 16)
    head_dim = int(config.get("attention_head_dim") or 64)
    dim = heads * head_dim
    ffn = int(config.get("ffn_dim") or dim * float(config.get("mlp_ratio") or 4.0))
    pt, ph, pw = patch_size(config)
    frames = (shape.frames - 1) // temporal + 1 if temporal > 1 else shape.frames
    if den.class_name in SEGMENT_LATENTS:
        frames = min(frames, SEGMENT_LATENTS[den.class_name]) + 1
    tokens = math.ceil(frames / pt) * math.ceil(h / ph) * math.ceil(w / pw)
    return int(shape.batch_cfg * tokens * (8 * dim + 2 * ffn) * act_bytes)


def vae_activation(
    vae: Component, stats: Tiled | None, shape: Shape, act_bytes: int, tiling: bool, decode_chunk: int | None
) -> int:
    """Peak bytes of the VAE decode: the top decoder stage for the frames decoded at once + the output."""
    config = effective_config(vae)
    _, _, chunk = VAE_LAYOUT.get(vae.class_name, (8, 4, None))
    if decode_chunk:
        chunk = decode_chunk if chunk is None else min(chunk, decode_chunk)
    frames = shape.frames if chunk is None else min(chunk, shape.frames)
    tiling = tiling or vae.class_name in ALWAYS_TILED
    if tiling and vae.class_name in ("AutoencoderKLHunyuanVideo", "AutoencoderKLLTXVideo"):
        frames = min(frames, 17)  # these tile in time too
    channels = config.get("block_out_channels") or [128]
    top = int(channels[0]) if isinstance(channels, (list, tuple)) else int(channels)
    if "base_dim" in config:  # Wan
        mult = (config.get("dim_mult") or [1])[0]
        top = int(config.get("decoder_base_dim") or config["base_dim"]) * int(mult)
    patch = int(config.get("patch_size") or 1)
    height, width = shape.height, shape.width
    if tiling and stats is not None and stats.tile:
        height, width = min(height, stats.tile), min(width, stats.tile)
    top_stage = frames * height * width * top * act_bytes * 6 / (patch * patch)
    output = shape.frames * 3 * shape.height * shape.width * 4 * 2
    return int(top_stage + output)


def text_activation(enc: Component, act_bytes: int) -> int:
    config = effective_config(enc)
    text = config.get("text_config") or config
    dim = int(text.get("d_model") or text.get("hidden_size") or 1024)
    ffn = int(text.get("d_ff") or text.get("intermediate_size") or 4 * dim)
    heads = int(text.get("num_heads") or text.get("num_attention_heads") or 16)
    seq = 77 if "CLIP" in enc.class_name else 512
    return int(2 * seq * (6 * dim + 2 * ffn) * act_bytes + heads * seq * seq * 4)


def image_activation(enc: Component, act_bytes: int) -> int:
    config = effective_config(enc)
    vision = config.get("vision_config") or config
    dim = int(vision.get("hidden_size") or 1024)
    tokens = (int(vision.get("image_size") or 224) // int(vision.get("patch_size") or 14)) ** 2 + 1
    return int(2 * tokens * 10 * dim * act_bytes)
