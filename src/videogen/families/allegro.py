"""Allegro (Rhymes AI, 2.8B DiT): text-to-video, 88 frames of 720×1280 at 15 fps.

Rules and what videogen does about the pipeline's surprises:

- The VAE decodes only in tiles (`AutoencoderKLAllegro` raises NotImplementedError without tiling, after every
  denoising step has run): videogen turns its tiling on for each call, as diffusers' docs do
  (`pipe.vae.enable_tiling()`), whatever the memory plan says.
- Its tiles are fixed: 24 frames with 8 overlapping, and `sample_size`² pixels (320 on the checkpoint) with 120
  rows and 80 columns overlapping (hard-coded in diffusers 0.42.1). A video the tiles don't cover exactly comes
  back with undecoded (mid-gray) frames, rows or columns, without a word. So num_frames is 16k+8 and at least 24
  (24, 40, ..., 88), and height and width lie on the tile grid: height = S + (S − 120)·k and width =
  S + (S − 80)·k (S the VAE's `sample_size`; at 320: heights 320, 720, 1120, widths 320, 560, 800, 1040, 1280),
  multiples of 16 for the transformer's 2×2 patches of the ×8 latents; checked before load from the VAE's config.
- `clean_caption`: the pipeline's default (True) cleans the prompt with beautifulsoup4 and ftfy, and where they
  are not installed it warns and skips the cleaning, so the same spec would encode a different prompt on another
  machine. The cards pass `clean_caption=False` (the prompt as written); `extra={"clean_caption": True}` asks for
  the cleaning (it needs both packages).
- `guidance_scale` > 1 runs classifier-free guidance (the two passes as one batch) with the pipeline's empty
  negative prompt; at 1.0 a `negative_prompt` is refused (never read).
- Step caches: the pipeline sets no cache context, so `call_context` wraps the call in
  `transformer.cache_context("cond")` when a hook is on (both guidance passes are one batch, one call a step).
  TaylorSeer, PAB and FasterCache (its guidance branch: the passes are one batch) run on it, and cache-dit's
  DBCache (its Allegro adapter); First-Block Cache and MagCache, which find the blocks through diffusers' block
  registry (AllegroTransformerBlock is not in it), are refused. The pipeline loads no LoRAs and the transformer
  declares no context-parallel plan.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from ..errors import SpecError
from ._common import (
    DIT_CACHE_HOOK_SETTINGS,
    DIT_CACHE_METHODS_CACHEDIT,
    cache_context,
    check_negative_prompt_has_guidance,
)
from .base import NO_MEDIA, Checked, Family

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules
    from .card import ModelCard

#: the VAE's tile in frames and the frames two tiles share (diffusers 0.42.1, AutoencoderKLAllegro)
TILE_FRAMES, TILE_FRAMES_OVERLAP = 24, 8
#: the pixel rows and columns two tiles share (hard-coded beside the config's `sample_size`)
TILE_OVERLAP = {"height": 120, "width": 80}
#: the VAE's tile side on the checkpoint (AutoencoderKLAllegro's `sample_size` default)
SAMPLE_SIZE = 320


class AllegroFamily(Family):
    name = "allegro"
    pipelines = {"t2v": "AllegroPipeline"}
    card_defaults = {
        # the model card's call: 88 frames of 720×1280 at 15 fps, 100 steps, guidance 7.5
        "height": 720,
        "width": 1280,
        "num_frames": 88,
        "fps": 15,
        "steps": 100,
        "guidance_scale": 7.5,
        "frame_rule": (TILE_FRAMES - TILE_FRAMES_OVERLAP, TILE_FRAMES_OVERLAP),
        "size_multiple": 16,
        "call_defaults": {"clean_caption": False},
        # the docs load the transformer in bfloat16 and keep the VAE in float32
        "dtypes": {"default": "bfloat16", "vae": "float32"},
    }
    # the smallest video the VAE's fixed tiles allow: one tile of 24 frames, the tiny VAE's 128-pixel sides
    tiny_defaults = {"height": 128, "width": 128, "num_frames": TILE_FRAMES, "fps": 15, "steps": 2}
    # the checkpoint's scheduler (Allegro's inference code)
    scheduler = {"_class_name": "EulerAncestralDiscreteScheduler"}
    # step caches (VideoSpec.cache), measured on the tiny model (tests/families/test_allegro.py)
    cache_methods = {m: DIT_CACHE_METHODS_CACHEDIT[m] for m in ("dbcache", "taylorseer", "pab", "fastercache")}
    cache_hook_settings = {
        **DIT_CACHE_HOOK_SETTINGS,
        "fastercache": {"tensor_format": "BCFHW", "is_guidance_distilled": False},
    }
    cache_refused = dict.fromkeys(
        ("fbc", "magcache"),
        "diffusers 0.42.1 finds the transformer blocks for this hook in its block registry, which has no "
        "AllegroTransformerBlock (a ValueError); 'taylorseer', 'pab', 'fastercache' or 'dbcache' run on Allegro",
    )
    cache_auto = ("taylorseer",)
    plan_always = MappingProxyType({"vae_tiling": True})  # the VAE decodes only in tiles (see the module's notes)

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        """A negative prompt needs guidance; at least one VAE tile of frames."""
        checked = super().check(spec, card, rules, media)  # the rules every family shares
        check_negative_prompt_has_guidance(spec, card, 7.5)
        frames = checked.spec.num_frames
        if frames >= TILE_FRAMES:
            return checked
        rule = (
            f"too few for {card.name}: its VAE decodes in tiles of {TILE_FRAMES} frames and leaves a shorter video "
            f"undecoded (gray); {TILE_FRAMES} or more (16k+8)"
        )
        fixed = rules.fix("num_frames", frames, TILE_FRAMES, rule)  # snap=True rounds up to one tile
        return Checked(checked.spec.replace(num_frames=fixed), checked.media)

    def check_components(self, spec: CompleteSpec, card: ModelCard, configs: Mapping[str, Mapping[str, Any]]) -> None:
        """Height and width on the VAE's tile grid: tiles of `sample_size` pixels overlapping by 120 rows and 80
        columns cover S + (S − overlap)·k pixels exactly; elsewhere the last rows or columns stay gray."""
        vae = configs.get("vae") or {}
        side = int(vae.get("sample_size") or SAMPLE_SIZE)
        fields: tuple[Literal["height", "width"], ...] = ("height", "width")
        for field in fields:
            size, stride = int(getattr(spec, field)), side - TILE_OVERLAP[field]
            grid = [side + stride * k for k in range(64)]
            valid = [v for v in grid if v % card.size_multiple == 0]
            if size in grid and size % card.size_multiple == 0:
                continue
            nearest = min(valid, key=lambda v: (abs(v - size), -v))
            shown = ", ".join(str(v) for v in valid[:5])
            raise SpecError(
                f"{field}={size} doesn't fit {card.name}'s VAE tiles: they are {side} pixels with "
                f"{TILE_OVERLAP[field]} overlapping, so {field} must be {side} + {stride}·k and a multiple of "
                f"{card.size_multiple} ({shown}, ...), or its last {'rows' if field == 'height' else 'columns'} "
                f"come back undecoded (gray); nearest valid value: {field}={nearest}",
                field=field,
                valid=nearest,
            )

    def call_context(self, pipe: Any, spec: CompleteSpec) -> AbstractContextManager[Any]:
        """The VAE's tiling on for the call (it decodes no other way), and the cache context a step cache's hook
        needs (the pipeline sets none; it runs both guidance passes as one batch, one call a step)."""
        return _tiled(pipe, cache_context(pipe, spec))

    def build_tiny(self, variant: str, folder: Path) -> None:
        """The tiny Allegro pipeline ("t2v"): the VAE keeps four blocks (×8 space, ×4 time) at 4 channels and the
        smallest tile its hard-coded overlaps allow (128 pixels); a two-layer transformer."""
        import torch
        from diffusers import (
            AllegroPipeline,
            AllegroTransformer3DModel,
            AutoencoderKLAllegro,
            EulerAncestralDiscreteScheduler,
        )

        from . import tiny_parts

        if variant != "t2v":
            raise ValueError(f"unknown tiny allegro variant {variant!r}")
        torch.manual_seed(0)
        AllegroPipeline(
            transformer=AllegroTransformer3DModel(
                num_attention_heads=2,
                attention_head_dim=12,
                num_layers=2,
                cross_attention_dim=24,
                caption_channels=32,
                sample_height=16,
                sample_width=16,
                sample_frames=6,
            ),
            vae=AutoencoderKLAllegro(
                block_out_channels=(4, 4, 4, 4), layers_per_block=1, norm_num_groups=2, sample_size=128
            ),
            text_encoder=tiny_parts.t5_encoder(32),
            tokenizer=tiny_parts.t5_tokenizer(),
            scheduler=EulerAncestralDiscreteScheduler(),
        ).save_pretrained(folder)


@contextlib.contextmanager
def _tiled(pipe: Any, inner: AbstractContextManager[Any]) -> Iterator[None]:
    vae = getattr(pipe, "vae", None)
    if vae is not None:
        vae.enable_tiling()
    with inner:
        yield


card = AllegroFamily.card
CARDS = (
    card(
        "allegro",
        "rhymes-ai/Allegro",
        ("t2v",),
        arch="allegro-2.8b",
        description="Rhymes AI Allegro text-to-video, 2.8B (T5-XXL text encoder); 88 frames of 720x1280 at 15 fps",
    ),
    # tiny random-weight model, built offline (videogen.families.tiny)
    card("tiny-allegro", None, ("t2v",), tiny="t2v", description="tiny random Allegro T2V (tests, demo)"),
)
FAMILY = AllegroFamily(CARDS)
