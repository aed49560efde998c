"""Helpers several families share, so no family file imports another.

- UNet pipelines outside the catalog (ModelScope, I2VGen-XL, SVD): their default size from the configs.
- CLIP `clip_skip` (ModelScope, I2VGen-XL): checking it, and the alias that makes it work on transformers 5.6.
- HunyuanVideo's text side and guidance (HunyuanVideo, FramePack): true CFG, the Llama tokenizer, the
  cache context their pipelines don't set.
- Wan's rotary position table (Wan, SkyReels-V2): the latent frames and sides it covers.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import SpecError
from .base import outside_catalog, size_unknown

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Family
    from .card import ModelCard

logger = logging.getLogger("videogen")


# ---- UNet pipelines outside the catalog -------------------------------------------------------------
def vae_scale(vae: Mapping[str, Any]) -> int | None:
    """How much the VAE config shrinks height and width (None when the config doesn't say)."""
    for key in ("scale_factor_spatial", "spatial_compression_ratio"):
        value = vae.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    blocks = vae.get("block_out_channels")
    if isinstance(blocks, (list, tuple)) and blocks:
        return 2 ** (len(blocks) - 1)
    return None


def unet_size(read_config: Callable[[str], dict]) -> int | None:
    """A UNet pipeline's own default size: the UNet's `sample_size` × the VAE's scale (None when unknown)."""
    sample = read_config("unet").get("sample_size")
    scale = vae_scale(read_config("vae"))
    if isinstance(sample, int) and not isinstance(sample, bool) and sample > 0 and scale:
        return sample * scale
    return None


def unet_card(
    family: Family,
    template: ModelCard,
    ref: str,
    class_name: str,
    index: Mapping[str, Any],
    read_config: Callable[[str], dict],
    **changes: Any,
) -> ModelCard:
    """A UNet checkpoint outside the catalog from `template` (renamed, with `changes`): the template's size when
    the UNet is its architecture, else the UNet's sample_size × the VAE's scale (the pipeline's own default),
    else no default size (`size_unknown`)."""
    card = outside_catalog(template, ref, class_name, variant=None, **changes)
    if family.known_card(class_name, index, read_config, prefer=template) is not None:
        return card
    size = unet_size(read_config)
    return replace(card, height=size, width=size) if size else size_unknown(card, ("height", "width"))


# ---- CLIP clip_skip ---------------------------------------------------------------------------------
def check_clip_skip(value: Any) -> None:
    """`extra["clip_skip"]`: None or a whole number >= 0 (the layers skipped from the end)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SpecError(
            f"extra['clip_skip']={value!r} must be a whole number of CLIP text layers to skip, "
            "at least 0 (e.g. extra={'clip_skip': 1}), or left out",
            field="extra",
            valid=1,
        )


def check_clip_skip_depth(clip_skip: Any, layers: Any) -> None:
    """`extra["clip_skip"]` below the text encoder's depth (`num_hidden_layers`; None: unknown, not checked)."""
    if clip_skip is None or not isinstance(layers, int) or isinstance(layers, bool):
        return
    if clip_skip >= layers:
        raise SpecError(
            f"extra['clip_skip']={clip_skip} is too large: the text encoder has {layers} layers, so "
            f"clip_skip must be below {layers} (e.g. extra={{'clip_skip': 1}})",
            field="extra",
            valid=layers - 1,
        )


@contextlib.contextmanager
def clip_skip_alias(pipe: Any, clip_skip: Any) -> Iterator[None]:
    """Let the pipeline's clip_skip code find `text_encoder.text_model` on transformers >= 5.6.

    transformers 5.6 flattened `CLIPTextModel` (`final_layer_norm` is now on the model itself), while
    the diffusers pipelines still call `text_encoder.text_model.final_layer_norm`. For the call, the
    encoder gets an unregistered attribute `text_model` pointing at itself (not a submodule, so no
    state dict or hook sees it). Nothing is done when clip_skip is None or the attribute exists.
    """
    encoder = getattr(pipe, "text_encoder", None)
    if clip_skip is None or encoder is None:
        yield
        return
    # checked before load from the config (check_clip_skip_depth); again here for a model whose config wasn't known
    check_clip_skip_depth(clip_skip, getattr(getattr(encoder, "config", None), "num_hidden_layers", None))
    added = False
    if "text_model" not in encoder.__dict__ and not hasattr(encoder, "text_model"):
        object.__setattr__(encoder, "text_model", encoder)
        added = True
    try:
        yield
    finally:
        if added:
            encoder.__dict__.pop("text_model", None)


# ---- HunyuanVideo's text side and guidance ---------------------------------------------------------
def check_true_cfg(spec: CompleteSpec, card: ModelCard) -> None:
    """Real CFG needs both `true_cfg_scale` > 1 and a negative prompt; either alone is silently ignored."""
    value = {**card.call_defaults, **spec.extra}.get("true_cfg_scale", 1.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise SpecError(
            f"extra['true_cfg_scale']={value!r} must be a number (e.g. 6.0, or 1.0 for no real CFG)", field="extra"
        )
    if spec.negative_prompt is not None and value <= 1.0:
        raise SpecError(
            f"negative_prompt is ignored by {card.name} unless extra['true_cfg_scale'] > 1: the model is "
            "guidance-distilled (guidance_scale is embedded guidance, not classifier-free guidance). "
            "Pass extra={'true_cfg_scale': 6.0} with the negative prompt for real CFG (twice the compute), "
            "or leave negative_prompt out",
            field="negative_prompt",
        )
    if value > 1.0 and spec.negative_prompt is None:
        raise SpecError(
            f"negative_prompt is required: extra['true_cfg_scale']={value} turns on real classifier-free "
            f"guidance, which {card.name} runs only with a negative prompt (otherwise it is silently "
            "ignored). Pass negative_prompt='...' (negative_prompt='' for an empty one), or drop "
            "true_cfg_scale",
            field="negative_prompt",
        )


def true_cfg_on(spec: CompleteSpec, card: ModelCard | None = None) -> bool:
    """Whether the call runs real classifier-free guidance (two transformer passes a step)."""
    defaults = card.call_defaults if card is not None else {}
    value = {**defaults, **spec.extra}.get("true_cfg_scale", 1.0)
    return spec.negative_prompt is not None and float(value) > 1.0


def cache_hooked(module: Any) -> bool:
    """True when a stateful diffusers cache hook (FirstBlockCache, TaylorSeer, PAB, ...) is on `module`."""
    if module is None:
        return False
    if getattr(module, "is_cache_enabled", False):  # CacheMixin.enable_cache
        return True
    registry = getattr(module, "_diffusers_hook", None)  # hooks applied with apply_* directly
    if registry is None:
        return False
    try:
        registries = (registry, *registry._get_child_registries())
        return any(getattr(hook, "_is_stateful", False) for reg in registries for hook in reg.hooks.values())
    except AttributeError:  # a diffusers without these internals: trust is_cache_enabled
        return False


def cache_context(pipe: Any, spec: CompleteSpec) -> AbstractContextManager[Any]:
    """`transformer.cache_context("cond")` for pipelines that set none, when a cache hook needs it."""
    transformer = getattr(pipe, "transformer", None)
    if transformer is None or not cache_hooked(transformer):
        return contextlib.nullcontext()
    if true_cfg_on(spec):
        logger.warning(
            "%s: the cache hook sees the conditional and unconditional passes of true CFG in one "
            "cache context, so its reuse is approximate",
            spec.model,
        )
    return transformer.cache_context("cond")


def load_llama_tokenizer(source: str | Path, subfolder: str = "tokenizer", **kwargs: Any) -> Any | None:
    """The Llama tokenizer as its tokenizer.json defines it (`PreTrainedTokenizerFast`), padding right.

    transformers 5's `LlamaTokenizer` replaces the Llama-3 ByteLevel pre-tokenizer with Metaspace, which
    changes HunyuanVideo's tokens. None when the folder has no tokenizer.json (then the pipeline's own
    loader is used).
    """
    from transformers import PreTrainedTokenizerFast

    local = Path(source) / subfolder
    if Path(source).is_dir() and not (local / "tokenizer.json").is_file():
        return None
    try:
        return PreTrainedTokenizerFast.from_pretrained(str(source), subfolder=subfolder, padding_side="right", **kwargs)
    except (OSError, ValueError) as exc:
        logger.warning(
            "could not read %s/%s as a fast tokenizer (%s); using the pipeline's loader", source, subfolder, exc
        )
        return None


def with_llama_tokenizer(kwargs: Mapping[str, Any], source: str, revision: str | None = None) -> dict[str, Any]:
    """`from_pretrained` kwargs with the Llama tokenizer read as `load_llama_tokenizer` does, unless given."""
    out = dict(kwargs)
    if "tokenizer" not in out:
        tokenizer = load_llama_tokenizer(source, "tokenizer", revision=revision)
        if tokenizer is not None:
            out["tokenizer"] = tokenizer
    return out


# ---- step caches of the DiT families (VideoSpec.cache; see docs/speed.md) ----------------------------
#: the default knobs every DiT family starts from; a family file copies and overrides them (its own data).
#: Sources: the defaults of diffusers 0.42.1's config classes (hooks/*.py) unless said otherwise.
DIT_CACHE_METHODS: Mapping[str, Mapping[str, Any]] = {
    # FirstBlockCacheConfig.threshold default (0.05). On random tiny weights it skips nothing
    # (measured on the tiny models, docs/speed.md); real models' first-block residuals change less from step to step.
    "fbc": {"threshold": 0.05},
    # TaylorSeerCacheConfig defaults: cache_interval 5, disable_cache_before_step 3, max_order 1 (the
    # paper's N=5, first order: arXiv 2503.06923)
    "taylorseer": {"interval": 5, "warmup": 3, "stop_after": None, "order": 1},
    # MagCacheConfig defaults: threshold 0.06, max_skip_steps 3, retention_ratio 0.2; ratios from calibration
    "magcache": {"threshold": 0.06, "max_skip": 3, "warmup_share": 0.2},
    # PyramidAttentionBroadcastConfig as diffusers' cache docs set it for CogVideoX: spatial attention
    # reused every 2nd block call while the timestep is in (100, 800)
    "pab": {"interval": 2, "timestep_range": (100, 800)},
    # FasterCacheConfig defaults (spatial skip 2 in (-1, 681)); attention weight 0.3 as diffusers' cache
    # docs pass it (`attention_weight_callback=lambda _: 0.3`)
    "fastercache": {"interval": 2, "timestep_range": (-1, 681), "attention_weight": 0.3},
}
#: cache-dit's DBCache (`cache="dbcache"`, the `[cachedit]` extra) on the families cache-dit has adapters for
#: (Wan, LTX, CogVideoX, HunyuanVideo; not FramePack): DBCacheConfig's own defaults, "F8B0" with a residual
#: threshold of 0.08 and 8 warm-up steps (cache-dit's README calls F8B0 its quality-first setting)
DIT_CACHE_METHODS_CACHEDIT: Mapping[str, Mapping[str, Any]] = {
    **DIT_CACHE_METHODS,
    "dbcache": {"Fn": 8, "Bn": 0, "threshold": 0.08, "warmup": 8},
}
#: TaylorSeer's default identifiers match only modules named exactly `attn`, so on Wan, LTX and CogVideoX
#: (`attn1`/`attn2`) it silently does nothing (speed-facts.md): every DiT family names its modules
TAYLORSEER_IDENTIFIERS = r"(blocks|transformer_blocks|single_transformer_blocks)\.\d+\.(attn\d*|ffn?)"
#: diffusers cache-config fields fixed by the DiT layout: TaylorSeer's modules; FasterCache's tensor layout
#: and no classifier-free-guidance batch skipping (its CFG branch crashes where cond and uncond are not
#: one batch: Wan runs them as two calls, Hunyuan/FramePack are guidance-distilled; LTX's tokens are 3-D)
DIT_CACHE_HOOK_SETTINGS: Mapping[str, Mapping[str, Any]] = {
    "taylorseer": {"cache_identifiers": [TAYLORSEER_IDENTIFIERS]},
    "fastercache": {"tensor_format": "BCFHW", "is_guidance_distilled": True},
}
#: `cache="auto"`: MagCache where calibrated ratios exist (the lowest compute at the smallest frame change
#: measured, speed-facts.md), else TaylorSeer (skips on a fixed schedule, so it always saves compute)
DIT_CACHE_AUTO = ("magcache", "taylorseer")

# ---- step cache of the UNet families (svd, i2vgen_xl, modelscope; videogen.speed.deepcache) ----------------
#: DeepCache (Ma et al., "DeepCache: Accelerating Diffusion Models for Free", CVPR 2024): a full UNet step
#: every N=3 steps (the paper's default interval N=3), the shallowest split (branch 0, its
#: `cache_branch_id=0`: cached steps run only the stem and the outermost skip's layers)
UNET_CACHE_METHODS: Mapping[str, Mapping[str, Any]] = {"deepcache": {"interval": 3, "branch": 0}}
#: `cache="auto"` on a UNet family: DeepCache (the one method they take)
UNET_CACHE_AUTO = ("deepcache",)


# ---- Wan's rotary position table (Wan, SkyReels-V2, SANA-Video) ---------------------------------------------
def check_rope_table(spec: CompleteSpec, card: ModelCard, configs: Mapping[str, Mapping[str, Any]]) -> None:
    """The transformer's rotary position table (`rope_max_seq_len` rows per axis) must cover the latent
    frames, height and width in patches: beyond it the transformer fails to reshape (RuntimeError)."""
    vae = configs.get("vae", {})
    temporal = int(vae.get("scale_factor_temporal") or 4)  # the pipeline's own fallbacks: 4 and 8
    spatial = int(vae.get("scale_factor_spatial") or 8)
    for name in ("transformer", "transformer_2"):
        config = configs.get(name)
        if not config:
            continue
        rows = int(config.get("rope_max_seq_len") or 1024)  # WanTransformer3DModel's default
        p_t, p_h, p_w = (int(p) for p in (config.get("patch_size") or (1, 2, 2)))
        frames = spec.num_frames
        if ((frames - 1) // temporal + 1) // p_t > rows:
            top = temporal * (rows * p_t - 1) + 1
            raise SpecError(
                f"num_frames={frames} is too many for {card.name}: its transformer's rotary position table "
                f"(rope_max_seq_len={rows} in {name}/config.json) covers {rows} latent frames, so num_frames "
                f"must be at most {top}; nearest valid value: num_frames={top}",
                field="num_frames",
                valid=top,
            )
        sides: tuple[tuple[Literal["height", "width"], int], ...] = (("height", p_h), ("width", p_w))
        for field, patch in sides:
            size = int(getattr(spec, field))
            if size // spatial // patch > rows:
                top = rows * patch * spatial
                raise SpecError(
                    f"{field}={size} is too large for {card.name}: its transformer's rotary position table "
                    f"(rope_max_seq_len={rows} in {name}/config.json) covers {rows} patches of "
                    f"{patch * spatial} pixels, so {field} must be at most {top}; nearest valid value: "
                    f"{field}={top}",
                    field=field,
                    valid=top,
                )


# ---- a negative prompt needs classifier-free guidance (Mochi, SANA-Video, EasyAnimate, Kandinsky 5) -------------
def check_negative_prompt_has_guidance(spec: CompleteSpec, card: ModelCard, suggested: float) -> None:
    """A negative prompt is read only under classifier-free guidance (guidance_scale above 1): refuse it at 1 or
    below instead of ignoring it, suggesting `suggested` (the family's usual scale)."""
    scale = float(spec.guidance_scale if spec.guidance_scale is not None else card.guidance_scale)
    if spec.negative_prompt is not None and (scale < 1.0 or math.isclose(scale, 1.0)):
        raise SpecError(
            f"negative_prompt is ignored by {card.name} at guidance_scale={scale}: classifier-free guidance runs "
            f"only above 1. Pass guidance_scale={suggested} with the negative prompt (twice the compute), or leave "
            "negative_prompt out",
            field="negative_prompt",
            valid=suggested,
        )
