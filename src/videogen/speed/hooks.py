"""A spec's step cache (`VideoSpec.cache`, completed by `caching.resolve`) on the loaded pipeline, for one call.

diffusers' own hooks (`transformer.enable_cache(config)` / `disable_cache()`) go on every denoiser (Wan 2.2's
two experts both) right before the call and come off right after it, whatever happens, with their state
reset: the cached pipeline carries no cache state from one call to the next, so `cache=None` after a cached
call gives the frames of a fresh load. While a cache is on, forward hooks count the `nn.Linear` calls inside
the transformer blocks: the share skipped is `1 - calls / (forwards × the most calls one forward made)`.

`"dbcache"` runs cache-dit's DBCache instead (the `[cachedit]` extra): `cache_dit.enable_cache(pipe)` before the
call, `cache_dit.disable_cache(pipe)` after it, counted the same way.

`"deepcache"` (the UNet families) goes on `pipe.unet` instead (`unet_cache.enable_deep_cache`): enabled right
before the call, after any CPU-offload hooks the memory plan put on at load, and disabled right after it (before
anything removes those), whatever happens; its share skipped is `deep_cache_stats`' `skipped_share` (UNet layers
served from the cache / layers in all calls), read before disabling.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from .settings import KNOBS, transformer_steps

if TYPE_CHECKING:
    from ..families.base import Family
    from ..families.card import ModelCard
    from ..spec.videospec import CompleteSpec

logger = logging.getLogger("videogen")
#: the pipeline attributes that hold denoisers a step cache goes on
DENOISERS = ("transformer", "transformer_2")


@dataclass
class CacheRecord:
    """What a call's step cache did: filled while the call runs, read for `metadata["cache"]`."""

    setting: Mapping[str, Any] | None
    #: per denoiser: nn.Linear calls inside its blocks, one count per forward
    forwards: dict[str, list[int]] = field(default_factory=dict)
    #: DeepCache on a UNet: `deep_cache_stats` read at the end of the call
    unet_stats: dict[str, Any] | None = None

    def summary(self, note: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """`metadata["cache"]`: None without a cache, unless `note` (what `cache="auto"` decided before load,
        `caching.settle_auto`: no method and why, or the methods it passed over) says why."""
        if self.setting is None:
            return dict(note) if note else None
        settings = {k: v for k, v in self.setting.items() if k != "method"}
        if self.unet_stats is not None:
            stats = self.unet_stats
            return {
                "method": self.setting["method"],
                "settings": settings,
                "denoisers": ["unet"],
                **{k: stats.get(k) for k in ("calls", "full_calls", "cached_calls", "layers_run", "layers_skipped")},
                "skipped": round(float(stats.get("skipped_share", 0.0)), 4),
                **(note or {}),
            }
        computed = sum(sum(counts) for counts in self.forwards.values())
        full = sum(len(counts) * max(counts, default=0) for counts in self.forwards.values())
        return {
            "method": self.setting["method"],
            "settings": settings,
            "denoisers": sorted(self.forwards),
            "block_linear_calls": computed,
            "block_linear_calls_uncached": full,
            "skipped": round(1.0 - computed / full, 4) if full else None,
            **(note or {}),
        }


def denoisers(pipe: Any) -> dict[str, Any]:
    return {name: m for name in DENOISERS if (m := getattr(pipe, name, None)) is not None}


def blocks(module: Any) -> list[Any]:
    """The transformer blocks of `module` (the ModuleLists diffusers' cache hooks look for)."""
    import torch
    from diffusers.hooks._common import _ALL_TRANSFORMER_BLOCK_IDENTIFIERS

    found: list[Any] = []
    for name, child in module.named_children():
        if name in _ALL_TRANSFORMER_BLOCK_IDENTIFIERS and isinstance(child, torch.nn.ModuleList):
            found.extend(child)
    return found


def block_lists(module: Any) -> dict[str, int]:
    """The transformer block lists of `module` and their lengths."""
    import torch
    from diffusers.hooks._common import _ALL_TRANSFORMER_BLOCK_IDENTIFIERS

    return {
        name: len(child)
        for name, child in module.named_children()
        if name in _ALL_TRANSFORMER_BLOCK_IDENTIFIERS and isinstance(child, torch.nn.ModuleList)
    }


def hook_fields(setting: Mapping[str, Any], family: Family) -> dict[str, Any]:
    """The diffusers config fields of a completed setting: the knobs under their diffusers names, then the
    fields the family's layout fixes. Callables (timestep, attention weight) are left to `_config`."""
    method = setting["method"]
    table = KNOBS[method]
    fields = {table[k].field: v for k, v in setting.items() if k in table}
    for key in ("spatial_attention_timestep_skip_range",):
        if key in fields:
            fields[key] = tuple(fields[key])
    fields.update(family.cache_hook_settings.get(method, {}))
    return fields


def _config(setting: Mapping[str, Any], pipe: Any, family: Family, spec: CompleteSpec, card: ModelCard) -> Any:
    """The diffusers cache config of a completed setting for this pipeline and call."""
    from diffusers.hooks import (
        FasterCacheConfig,
        FirstBlockCacheConfig,
        MagCacheConfig,
        PyramidAttentionBroadcastConfig,
        TaylorSeerCacheConfig,
    )

    method = setting["method"]
    fields = hook_fields(setting, family)
    if method == "fbc":
        return FirstBlockCacheConfig(**fields)
    if method == "taylorseer":
        return TaylorSeerCacheConfig(**fields)
    if method == "magcache":
        calibrate = bool(setting.get("calibrate", False))  # `videogen.calibrate`: no skipping, ratios logged
        return MagCacheConfig(**fields, num_inference_steps=transformer_steps(spec, card, family), calibrate=calibrate)
    timestep = lambda: pipe.current_timestep  # noqa: E731 - read at each hooked call
    if method == "pab":
        return PyramidAttentionBroadcastConfig(**fields, current_timestep_callback=timestep)
    if method == "fastercache":
        weight = float(fields.pop("attention_weight_callback"))
        if float(spec.guidance_scale or 0.0) <= 1.0:  # no unconditional batch to skip
            fields["is_guidance_distilled"] = True
        return FasterCacheConfig(
            **fields, attention_weight_callback=lambda _module: weight, current_timestep_callback=timestep
        )
    raise ValueError(f"unknown step-cache method {method!r}")


def _off(module: Any) -> None:
    if hasattr(module, "_reset_stateful_cache"):
        module._reset_stateful_cache()
    if getattr(module, "is_cache_enabled", False):
        module.disable_cache()


@contextlib.contextmanager
def applied(pipe: Any, spec: CompleteSpec, card: ModelCard, family: Family) -> Iterator[CacheRecord]:
    """The spec's step cache on `pipe`'s denoisers for the `with` body; yields the call's `CacheRecord`."""
    record = CacheRecord(spec.cache)
    if spec.cache is None:  # hooks someone put on the pipeline by hand stay as they are
        yield record
        return
    if spec.cache["method"] == "deepcache":
        with _deep_cached(pipe, spec.cache, card, record):
            yield record
        return
    if spec.cache["method"] == "dbcache":
        with _db_cached(pipe, spec, card, family, record):
            yield record
        return
    models = denoisers(pipe)
    for name, module in models.items():
        if getattr(module, "is_cache_enabled", False):
            logger.warning("%s: replacing the cache hook already on %s with cache=%r", card.name, name, spec.cache)
        _off(module)
    handles: list[Any] = []
    try:
        for name, module in models.items():
            found = blocks(module)
            if spec.cache["method"] in ("fbc", "magcache") and len(found) < 2:
                raise SpecError(
                    f"cache: {spec.cache['method']!r} needs two or more transformer blocks (it computes the first "
                    f"and skips the rest) and {card.name}'s {name} has {len(found)}; use 'taylorseer' or 'pab'",
                    field="cache",
                )
            module.enable_cache(_config(spec.cache, pipe, family, spec, card))
            handles.extend(_count(name, module, found, record))
        yield record
    finally:
        for handle in handles:
            handle.remove()
        for module in models.values():
            _off(module)


@contextlib.contextmanager
def _deep_cached(pipe: Any, setting: Mapping[str, Any], card: ModelCard, record: CacheRecord) -> Iterator[None]:
    """DeepCache on `pipe.unet` for the `with` body; its stats land in `record` before it comes off."""
    from .deepcache import deep_cache_stats, disable_deep_cache, enable_deep_cache

    unet = getattr(pipe, "unet", None)
    if unet is None:
        raise SpecError(f"cache: 'deepcache' needs a UNet and {card.name}'s pipeline has none", field="cache")
    enable_deep_cache(unet, interval=int(setting["interval"]), branch=int(setting["branch"]))
    try:
        yield
    finally:
        try:
            record.unet_stats = deep_cache_stats(unet)
        finally:
            disable_deep_cache(unet)


@contextlib.contextmanager
def _db_cached(pipe: Any, spec: CompleteSpec, card: ModelCard, family: Family, record: CacheRecord) -> Iterator[None]:
    """cache-dit's DBCache on the pipeline's denoisers for the `with` body (`cache_dit.enable_cache` patches the
    transformers' forwards; `disable_cache` restores them), the block calls counted as for diffusers' hooks."""
    import os

    # cache-dit logs every enable/disable (INFO, and WARNINGs about its pattern checks) on its own handlers; its
    # own variable still wins
    os.environ.setdefault("CACHE_DIT_LOG_LEVEL", "error")
    import cache_dit

    setting = spec.cache
    assert setting is not None
    models = denoisers(pipe)
    found = {name: blocks(module) for name, module in models.items()}
    computed = int(setting["Fn"]) + int(setting["Bn"])
    for name, module in models.items():
        for list_name, size in block_lists(module).items():  # cache-dit splits each block list on its own
            if computed >= size:
                raise SpecError(
                    f"cache: 'dbcache' computes Fn+Bn={computed} blocks of each block list and {card.name}'s "
                    f"{name}.{list_name} has {size}, so nothing would be reused; use Fn+Bn < {size}"
                    + (", e.g. {'method': 'dbcache', 'Fn': 1, 'Bn': 0}" if size > 1 else " (or another method)"),
                    field="cache",
                )
    layouts = {name: _layout(module) for name, module in models.items()}
    config = cache_dit.DBCacheConfig(
        **hook_fields(setting, family), num_inference_steps=transformer_steps(spec, card, family)
    )
    cache_dit.enable_cache(pipe, cache_config=config)
    handles: list[Any] = []
    try:
        for name, module in models.items():
            handles.extend(_count(name, module, found[name], record))
        yield
    finally:
        for handle in handles:
            handle.remove()
        try:
            cache_dit.disable_cache(pipe)
        finally:
            for name, module in models.items():
                _restore_layout(module, layouts[name])


def _layout(module: Any) -> tuple[list[tuple[str, Any]], dict[str, set[str]]]:
    """What cache-dit's enable/disable can change on a transformer: its children (objects and order) and the
    instance attributes of it and its children."""
    children = list(module._modules.items())
    return children, {
        "": set(vars(module)),
        **{name: set(vars(child)) for name, child in children if child is not None},
    }


def _restore_layout(module: Any, layout: tuple[list[tuple[str, Any]], dict[str, set[str]]]) -> None:
    """Undo what `cache_dit.disable_cache` leaves behind: it re-registers the block lists it wrapped at the end of
    `_modules` (HunyuanVideo's single-stream blocks then come before its dual-stream ones, and diffusers' First
    Block Cache and MagCache, which take the first and last block in that order, break), and leaves attributes
    (`forward` bound on the instance, `_cached_steps` on the lists)."""
    from collections import OrderedDict

    children, attributes = layout
    module._modules = OrderedDict(children)
    for name, before in attributes.items():
        target = module if name == "" else module._modules[name]
        for extra in set(vars(target)) - before:
            if extra not in ("_modules", "_parameters", "_buffers"):
                delattr(target, extra)


def _count(name: str, module: Any, found: list[Any], record: CacheRecord) -> list[Any]:
    """Forward hooks that count the `nn.Linear` calls inside `found` blocks, per forward of `module`."""
    import torch

    counts = record.forwards.setdefault(name, [])

    def start(*_: Any) -> None:
        counts.append(0)

    def tally(*_: Any) -> None:
        if counts:
            counts[-1] += 1

    handles = [module.register_forward_pre_hook(start)]
    for block in found:
        for sub in block.modules():
            if isinstance(sub, torch.nn.Linear):
                handles.append(sub.register_forward_hook(tally))
    return handles
