"""The post-load part of a plan, applied to a loaded pipeline in a fixed order, and changed in place.

Order: layerwise casting (once: part of the load key) → attention backend → forward chunking → VAE
tiling/slicing → placement (to the device, model / sequential / group offload) → compile. When a later
plan differs, the features that changed are undone in reverse order, through diffusers' public undo
methods, and applied again; what diffusers can't undo (layerwise casting, sequential and disk offload)
is part of the load key, so it never changes on one pipeline. The plan is resolved (resolve.py): its
components are named, so nothing here falls back to a default.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from ..errors import VideoGenError
from .plans import MemoryPlan

logger = logging.getLogger("videogen")

STATE_KEY = "memory"
_GROUP_HOOKS = ("group_offloading", "layer_execution_tracker", "lazy_prefetch_group_offloading")


@dataclass
class Applied:
    """What is in place on a cached pipeline's components, and which pipeline object placed them."""

    plan: MemoryPlan
    pipes: list[Any] = field(default_factory=list)  # weak references

    def placed_on(self, pipe: Any) -> bool:
        return any(ref() is pipe for ref in self.pipes)


#: the plan fields each feature reads (group offload's options only under group offload)
PARTS = {
    "attention": ("attention_backend",),
    "chunking": ("forward_chunking",),
    "vae": ("vae_tiling", "vae_slicing"),
    "placement": (
        "placement",
        "offload_type",
        "blocks_per_group",
        "use_stream",
        "record_stream",
        "low_cpu_mem_usage",
        "offload_to_disk",
        "components",
    ),
    "compile": ("compile", "compile_mode", "compile_fullgraph"),
}


def _part(plan: MemoryPlan, feature: str) -> tuple:
    fields = ("placement",) if feature == "placement" and plan.placement != "group" else PARTS[feature]
    return tuple(getattr(plan, f) for f in fields)


def modules(pipe: Any) -> dict[str, Any]:
    """The pipeline's torch.nn.Module components by name."""
    import torch

    return {n: m for n, m in pipe.components.items() if isinstance(m, torch.nn.Module)}


def denoisers(pipe: Any) -> dict[str, Any]:
    from .components import role_of

    return {n: m for n, m in modules(pipe).items() if role_of(n) == "denoiser"}


def apply_plan(
    pipe: Any, plan: MemoryPlan, device: str, family: Any = None, state: dict[str, Any] | None = None
) -> None:
    """Put `plan`'s post-load part in place on `pipe`, changing what a previous plan left there.

    `state` is the cache entry's state dict (shared by the pipelines built over the same components).
    """
    if state is None:
        state = pipe.__dict__.setdefault("_videogen_state", {})
    previous: Applied | None = state.get(STATE_KEY)
    if previous is not None and previous.plan.load_part() != plan.load_part():
        raise VideoGenError(
            "videogen: a memory plan with another load-time part reached a cached pipeline "
            f"({previous.plan.name} → {plan.name}); it needs its own load"
        )
    if previous is None:
        changed = set(PARTS)
        _apply_layerwise(pipe, plan)
    else:
        changed = {f for f in PARTS if _part(previous.plan, f) != _part(plan, f)}
        if plan.placement == "model" and not previous.placed_on(pipe):
            changed.add("placement")  # accelerate's hook chain belongs to one pipeline object
        if "placement" in changed and (previous.plan.compile or plan.compile):
            changed.add("compile")
        for feature in reversed(PARTS):
            if feature in changed:
                _UNDO[feature](pipe, previous, device)
    for feature in PARTS:
        if feature in changed:
            _APPLY[feature](pipe, plan, device)
    pipes = [] if previous is None or "placement" in changed else [r for r in previous.pipes if r() is not None]
    pipes.append(weakref.ref(pipe))
    state[STATE_KEY] = Applied(plan, pipes)
    logger.info("memory plan %s in place (%s)", plan.name, ", ".join(sorted(changed)) or "unchanged")


# ---- apply ---------------------------------------------------------------------------------------
def _apply_layerwise(pipe: Any, plan: MemoryPlan) -> None:
    if not plan.layerwise_casting:
        return
    import torch
    from diffusers.hooks import apply_layerwise_casting
    from diffusers.hooks.layerwise_casting import DEFAULT_SKIP_MODULES_PATTERN

    if not plan.layerwise_components:  # never a silent no-op: a resolved plan names them (resolve.py)
        raise VideoGenError("videogen: layerwise_casting names no components; resolve the plan first")
    storage = getattr(torch, plan.layerwise_casting)
    mods = modules(pipe)
    for name in plan.layerwise_components:
        module = mods[name]
        compute = next(p.dtype for p in module.parameters())
        if hasattr(module, "enable_layerwise_casting"):
            module.enable_layerwise_casting(storage_dtype=storage, compute_dtype=compute)
        else:
            apply_layerwise_casting(module, storage, compute, DEFAULT_SKIP_MODULES_PATTERN)


def _apply_attention(pipe: Any, plan: MemoryPlan, device: str) -> None:
    if plan.attention_backend:
        for module in denoisers(pipe).values():
            module.set_attention_backend(plan.attention_backend)


def _apply_chunking(pipe: Any, plan: MemoryPlan, device: str) -> None:
    if plan.forward_chunking:  # the checks refuse it for a denoiser without it
        for module in denoisers(pipe).values():
            module.enable_forward_chunking()


def _apply_vae(pipe: Any, plan: MemoryPlan, device: str) -> None:
    vae = getattr(pipe, "vae", None)
    if vae is None:
        return
    if plan.vae_tiling:
        vae.enable_tiling()
    if plan.vae_slicing:
        vae.enable_slicing()


def _apply_placement(pipe: Any, plan: MemoryPlan, device: str) -> None:
    if plan.placement == "none":
        pipe.to(device)
    elif plan.placement == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif plan.placement == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        _apply_group(pipe, plan, device)


def _apply_group(pipe: Any, plan: MemoryPlan, device: str) -> None:
    import torch
    from diffusers.hooks import apply_group_offloading

    for name, module in modules(pipe).items():
        own = plan.component(name)
        offload = own.offload if own is not None else plan.offload_type
        if offload == "resident":  # the checks keep what group offload can't move resident
            module.to(device)
            continue
        module.to("cpu")
        blocks = own.blocks_per_group if own and own.blocks_per_group else plan.blocks_per_group
        kwargs: dict[str, Any] = {
            "onload_device": torch.device(device),
            "offload_device": torch.device("cpu"),
            "offload_type": offload,
            "num_blocks_per_group": blocks if offload == "block_level" else None,
            "use_stream": plan.use_stream,
            "record_stream": plan.record_stream,
            "low_cpu_mem_usage": plan.low_cpu_mem_usage,
            "offload_to_disk_path": os.path.join(plan.offload_to_disk, name) if plan.offload_to_disk else None,
        }
        if hasattr(module, "enable_group_offload"):
            module.enable_group_offload(**kwargs)
        else:
            apply_group_offloading(
                module, block_modules=block_modules(module) if offload == "block_level" else None, **kwargs
            )


def block_modules(module: Any) -> list[str] | None:
    """Names of the submodules group offload must descend into to reach the repeated blocks.

    diffusers' block-level offload groups the ModuleLists that are direct children; a transformers
    encoder keeps its layers deeper (`encoder.block`, `text_model.encoder.layers`), so name the path.
    """
    import torch

    total = sum(p.numel() for p in module.parameters()) or 1
    direct = [c for c in module.children() if isinstance(c, (torch.nn.ModuleList, torch.nn.Sequential))]
    if any(sum(p.numel() for p in c.parameters()) > 0.3 * total for c in direct):
        return None
    names: set[str] = set()
    for path, sub in module.named_modules():
        if not path or not isinstance(sub, (torch.nn.ModuleList, torch.nn.Sequential)) or len(sub) < 2:
            continue
        if sum(p.numel() for p in sub.parameters()) < 0.3 * total:
            continue
        parts = path.split(".")
        names.update(parts[:-1])
    return sorted(names) or None


def _apply_compile(pipe: Any, plan: MemoryPlan, device: str) -> None:
    if not plan.compile:
        return
    kwargs: dict[str, Any] = {"fullgraph": plan.compile_fullgraph}
    if plan.compile_mode:
        kwargs["mode"] = plan.compile_mode
    for module in denoisers(pipe).values():
        if plan.compile == "regional":
            module.compile_repeated_blocks(**kwargs)
        else:
            module.compile(**kwargs)


# ---- undo (diffusers' public methods; compile alone has none) ------------------------------------
def _undo_attention(pipe: Any, previous: Applied, device: str) -> None:
    if previous.plan.attention_backend:
        for module in denoisers(pipe).values():
            module.reset_attention_backend()


def _undo_chunking(pipe: Any, previous: Applied, device: str) -> None:
    if previous.plan.forward_chunking:
        for module in denoisers(pipe).values():
            if hasattr(module, "disable_forward_chunking"):
                module.disable_forward_chunking()
            else:  # UNetSpatioTemporalConditionModel has no disable: what disable_forward_chunking does
                for sub in module.modules():
                    if hasattr(sub, "set_chunk_feed_forward"):
                        sub.set_chunk_feed_forward(None)


def _undo_vae(pipe: Any, previous: Applied, device: str) -> None:
    vae = getattr(pipe, "vae", None)
    if vae is not None and previous.plan.vae_tiling:
        vae.disable_tiling()
    if vae is not None and previous.plan.vae_slicing:
        vae.disable_slicing()


def _undo_placement(pipe: Any, previous: Applied, device: str) -> None:
    placement = previous.plan.placement
    if placement == "sequential" or (placement == "group" and previous.plan.offload_to_disk):
        raise VideoGenError(f"videogen: {placement} offload can't be undone in place; it needs its own load")
    if placement == "model":  # every pipeline object that placed the hooks forgets them
        for old in [ref() for ref in previous.pipes] + [pipe]:
            if old is not None:
                old.remove_all_hooks()
    elif placement == "group":  # diffusers 0.42 has no disable_group_offload: remove its hooks by name
        from diffusers.hooks import HookRegistry

        for module in modules(pipe).values():
            registry = HookRegistry.check_if_exists_or_initialize(module)
            for hook in _GROUP_HOOKS:
                registry.remove_hook(hook, recurse=True)
            module.to("cpu")


def _undo_compile(pipe: Any, previous: Applied, device: str) -> None:
    for module in denoisers(pipe).values():  # torch has no public un-compile: drop what Module.compile set
        for sub in module.modules():
            if getattr(sub, "_compiled_call_impl", None) is not None:
                sub._compiled_call_impl = None


_APPLY = {
    "attention": _apply_attention,
    "chunking": _apply_chunking,
    "vae": _apply_vae,
    "placement": _apply_placement,
    "compile": _apply_compile,
}
_UNDO = {
    "attention": _undo_attention,
    "chunking": _undo_chunking,
    "vae": _undo_vae,
    "placement": _undo_placement,
    "compile": _undo_compile,
}


def plan_call_kwargs(plan: MemoryPlan, params: AbstractSet[str]) -> dict[str, Any]:
    """Call-time arguments of the plan (decode_chunk_size), for pipelines that take them."""
    if plan.decode_chunk_size and "decode_chunk_size" in params:
        return {"decode_chunk_size": int(plan.decode_chunk_size)}
    return {}
