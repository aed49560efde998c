"""DeepCache-style step caching for the video UNets (SVD, I2VGen-XL, ModelScope/ZeroScope).

DeepCache (Ma et al., "DeepCache: Accelerating Diffusion Models for Free", CVPR 2024): a UNet's deep features
change slowly from one denoising step to the next. At a *full* step the whole UNet runs and the outputs of its deep
part are kept; at the next `interval - 1` *cached* steps only the shallow branch runs — the stem (conv_in), the
down layers that feed the first `branch + 1` skip connections, and the up layers that consume them — and the deep
part's outputs are taken from the last full step.

Skip branches are numbered like DeepCache's `cache_branch_id`: the UNet's skip connections in the order its down
path makes them (0 = the stem's output, then one per down-block resnet layer and one per downsampler). `branch=k`
keeps skips 0..k shallow (recomputed every step); every block layer deeper than that, and the mid block, is cached.

Built on diffusers' `HookRegistry`/`ModelHook` (as its own caches are): one hook on the UNet reads the timestep of
each call to find step boundaries, one hook per deep block (or per deep layer of a block that straddles the split)
returns the cached output on cached steps. `disable_deep_cache` removes every hook; the UNet then computes exactly
as before. No class method is patched.

Step boundaries: the UNet is called once per step (twice when a pipeline runs the guidance halves separately). A
new timestep value starts a new step; the n-th call of a cached step reuses the outputs of the n-th call of the
last full step. The cache restarts (next call is a full step) when the sample's shape changes or the timestep goes
up (a new generation: denoising timesteps only go down).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..errors import SpecError

__all__ = ["deep_cache_stats", "disable_deep_cache", "enable_deep_cache"]

_UNET_HOOK = "videogen_deep_cache"
_PART_HOOK = "videogen_deep_cache_part"
_SUPPORTED = ("UNetSpatioTemporalConditionModel", "I2VGenXLUNet", "UNet3DConditionModel")
_SAMPLERS = ("downsamplers", "upsamplers")
_MISSING = object()


@dataclass
class _State:
    """What one enabled UNet's hooks share: the schedule, the cache and the counts."""

    interval: int
    branch: int
    deep_layers: int  # layer units served from the cache on a cached call
    total_layers: int  # layer units in the down, mid and up blocks
    deep_blocks: int  # whole down/mid/up blocks served from the cache on a cached call
    total_blocks: int
    active: bool = False  # inside a UNet call
    full: bool = True  # the current call computes everything (and refreshes the cache)
    slot: dict[str, Any] = field(default_factory=dict)  # the cache the current call reads or fills
    slots: dict[int, dict[str, Any]] = field(default_factory=dict)  # call position in its step -> cached outputs
    last_t: tuple[float, ...] | None = None
    last_shape: tuple[int, ...] | None = None
    step: int = -1  # steps since the cache (re)started
    call_in_step: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "calls",
                "full_calls",
                "cached_calls",
                "steps",
                "restarts",
                "layers_run",
                "layers_skipped",
                "blocks_run",
                "blocks_skipped",
            ),
            0,
        )
    )

    def restart(self) -> None:
        self.slots.clear()
        self.slot = {}
        self.step = -1
        self.last_t = None
        self.last_shape = None

    def begin_call(self, t: tuple[float, ...] | None, shape: tuple[int, ...] | None) -> None:
        if self.last_shape is not None and shape != self.last_shape:
            self.restart()
            self.counts["restarts"] += 1
        if self.last_t is not None and t is not None and t and self.last_t and t[0] > self.last_t[0]:
            self.restart()  # timesteps went up: a new generation
            self.counts["restarts"] += 1
        if t is None or t != self.last_t:
            self.step += 1
            self.call_in_step = 0
            self.counts["steps"] += 1
        else:
            self.call_in_step += 1
        self.last_t = t
        self.last_shape = shape
        slot = self.slots.get(self.call_in_step)
        self.full = slot is None or t is None or self.step % self.interval == 0
        if self.full:
            slot = self.slots[self.call_in_step] = {}
        assert slot is not None
        self.slot = slot
        self.counts["calls"] += 1
        self.counts["full_calls" if self.full else "cached_calls"] += 1
        self.active = True


def _timestep_key(t: Any) -> tuple[float, ...] | None:
    if t is None:
        return None
    if hasattr(t, "detach"):
        return tuple(float(v) for v in t.detach().flatten().tolist())
    try:
        return (float(t),)
    except (TypeError, ValueError):
        return None


@lru_cache(maxsize=1)
def _hook_classes() -> tuple[type, type]:
    """The two hook classes, built on diffusers' `ModelHook` the first time they are needed (diffusers loads lazily)."""
    from diffusers.hooks.hooks import ModelHook  # a plain submodule: no lazy-module first-import race

    class DeepCacheUNetHook(ModelHook):
        """On the UNet: decides, per call, whether this is a full or a cached step."""

        _is_stateful = True

        def __init__(self, state: _State) -> None:
            super().__init__()
            self.state = state

        def new_forward(self, module: Any, *args: Any, **kwargs: Any) -> Any:
            sample = args[0] if args else kwargs.get("sample")
            timestep = args[1] if len(args) > 1 else kwargs.get("timestep")
            shape = tuple(getattr(sample, "shape", ())) or None
            self.state.begin_call(_timestep_key(timestep), shape)
            try:
                return self.fn_ref.original_forward(*args, **kwargs)
            finally:
                self.state.active = False

        def reset_state(self, module: Any) -> Any:
            self.state.restart()
            return module

    class DeepCachePartHook(ModelHook):
        """On a block (or a layer of a block split by the branch): computes it, or returns its cached output."""

        def __init__(self, state: _State, key: str, deep: bool, layers: int, block: bool) -> None:
            super().__init__()
            self.state = state
            self.key = key
            self.deep = deep  # cached on cached steps
            self.layers = layers  # layer units this hook counts
            self.block = block  # counts as one down/mid/up block

        def new_forward(self, module: Any, *args: Any, **kwargs: Any) -> Any:
            state = self.state
            if not state.active:  # called outside a UNet call: plain module
                return self.fn_ref.original_forward(*args, **kwargs)
            if self.deep and not state.full:
                out = state.slot.get(self.key, _MISSING)
                if out is not _MISSING:
                    state.counts["layers_skipped"] += self.layers
                    state.counts["blocks_skipped"] += self.block
                    return out
            out = self.fn_ref.original_forward(*args, **kwargs)
            if self.deep:
                state.slot[self.key] = out
            state.counts["layers_run"] += self.layers
            state.counts["blocks_run"] += self.block
            return out

    return DeepCacheUNetHook, DeepCachePartHook


def _registry_class() -> Any:
    from diffusers.hooks.hooks import HookRegistry

    return HookRegistry


def _refuse(message: str, valid: object = None) -> SpecError:
    return SpecError(message, field="cache", valid=valid)


def _class_name(unet: Any) -> str:
    for cls in type(unet).__mro__:
        if cls.__name__ in _SUPPORTED:
            return cls.__name__
    raise _refuse(
        f"cache='deepcache': DeepCache works on the UNets {', '.join(_SUPPORTED)}; got {type(unet).__name__}",
        valid=list(_SUPPORTED),
    )


def _layer_lists(block: Any, where: str) -> tuple[int, list[tuple[str, Any]], list[Any]]:
    """(layer count, [(list name, ModuleList)] of per-layer modules, samplers) of a down or up block."""
    import torch

    resnets = getattr(block, "resnets", None)
    if not isinstance(resnets, torch.nn.ModuleList) or len(resnets) == 0:
        raise _refuse(f"cache='deepcache': {where} ({type(block).__name__}) has no resnet layers to split the cache at")
    per_layer: list[tuple[str, Any]] = []
    samplers: list[Any] = []
    for name, child in block.named_children():
        if not isinstance(child, torch.nn.ModuleList):
            continue
        if name in _SAMPLERS:
            samplers.extend(child)
        elif len(child) == len(resnets):
            per_layer.append((name, child))
        else:
            per_layer.append((name, None))  # marks a list not aligned with the resnets
    return len(resnets), per_layer, samplers


def _hook_sites(unet: Any, branch: int) -> list[tuple[str, Any, bool, int, bool]]:
    """[(key, module, deep, layers counted, counts as a block)] for every hook the cache puts under the UNet."""
    down_blocks = list(getattr(unet, "down_blocks", []) or [])
    up_blocks = list(getattr(unet, "up_blocks", []) or [])
    mid = getattr(unet, "mid_block", None)
    if not down_blocks or not up_blocks:
        raise _refuse(f"cache='deepcache': {type(unet).__name__} has no down_blocks/up_blocks")

    # skip index of each down layer and sampler: 0 is the stem (conv_in), then in the order the down path makes them
    down = [(i, b, *_layer_lists(b, f"down_blocks.{i}")) for i, b in enumerate(down_blocks)]
    up = [(i, b, *_layer_lists(b, f"up_blocks.{i}")) for i, b in enumerate(up_blocks)]
    n_skips = 1 + sum(n + len(samplers) for _, _, n, _, samplers in down)
    if sum(n for _, _, n, _, _ in up) != n_skips:
        raise _refuse(
            f"cache='deepcache': {type(unet).__name__}'s up blocks consume {sum(n for _, _, n, _, _ in up)} skip "
            f"connections but its down path makes {n_skips}; the shallow branch can't be told from the deep part"
        )
    if not 0 <= branch < n_skips:
        raise _refuse(
            f"cache='deepcache': branch={branch} is not a skip connection of {type(unet).__name__}; it has {n_skips} "
            f"(branch 0..{n_skips - 1}, 0 = shallowest)",
            valid=list(range(n_skips)),
        )

    plan: list[tuple[str, Any, bool, int, bool]] = []

    def add_block(
        key: str,
        block: Any,
        deep_layers: list[bool],
        per_layer: list[tuple[str, Any]],
        samplers: list[Any],
        sampler_deep: list[bool],
    ) -> None:
        flags = deep_layers + sampler_deep
        if all(flags) or not any(flags):  # the whole block is deep, or the whole block is shallow
            plan.append((key, block, all(flags), len(flags), True))
            return
        if any(lst is None for _, lst in per_layer):
            raise _refuse(
                f"cache='deepcache': branch={branch} splits {key} ({type(block).__name__}) inside, and its layer lists "
                "don't line up with its resnets; pick a branch at a block boundary"
            )
        plan.append((key, block, False, flags.count(False), True))  # the block runs; counts its shallow layers
        for j, deep in enumerate(deep_layers):
            if deep:
                for n, (name, lst) in enumerate(per_layer):
                    plan.append((f"{key}.{name}.{j}", lst[j], True, 1 if n == 0 else 0, False))
        for j, (sampler, deep) in enumerate(zip(samplers, sampler_deep)):
            if deep:
                plan.append((f"{key}.sampler.{j}", sampler, True, 1, False))

    skip = 1
    for i, block, n, per_layer, samplers in down:
        deep_layers = [skip + j > branch for j in range(n)]
        skip += n
        sampler_deep = [skip + j > branch for j in range(len(samplers))]
        skip += len(samplers)
        add_block(f"down_blocks.{i}", block, deep_layers, _resnets_first(per_layer), samplers, sampler_deep)
    if mid is not None:
        plan.append(("mid_block", mid, True, max(len(getattr(mid, "resnets", []) or []), 1), True))
    consumed = n_skips  # up layers consume the skips from the deepest down to 0
    for i, block, n, per_layer, samplers in up:
        deep_layers = [consumed - 1 - j > branch for j in range(n)]
        consumed -= n
        # an upsampler follows its block's last layer: deep exactly when that layer is
        add_block(
            f"up_blocks.{i}", block, deep_layers, _resnets_first(per_layer), samplers, [deep_layers[-1]] * len(samplers)
        )
    if not any(deep for _, _, deep, _, _ in plan):
        raise _refuse(f"cache='deepcache': branch={branch} leaves nothing of {type(unet).__name__} to cache")
    return plan


def _resnets_first(per_layer: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return sorted(per_layer, key=lambda item: item[0] != "resnets")


def enable_deep_cache(unet: Any, interval: int = 3, branch: int = 0) -> None:
    """Cache `unet`'s deep features for `interval - 1` steps after each full step (DeepCache).

    `branch` is the skip connection that splits shallow from deep (DeepCache's `cache_branch_id`; 0 = the stem's,
    the cheapest cached steps). Enabling again replaces the previous settings. Raises `SpecError(field="cache")` for
    other UNet classes or an out-of-range `interval`/`branch`.
    """
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise _refuse(f"cache='deepcache': interval must be a whole number of steps ≥ 1, got {interval!r}", valid=3)
    if isinstance(branch, bool) or not isinstance(branch, int):
        raise _refuse(f"cache='deepcache': branch must be a whole number ≥ 0, got {branch!r}", valid=0)
    _class_name(unet)
    plan = _hook_sites(unet, branch)
    disable_deep_cache(unet)

    unet_hook_cls, part_hook_cls = _hook_classes()
    registry_cls = _registry_class()
    deep_layers = sum(layers for _, _, deep, layers, _ in plan if deep)
    total_layers = sum(layers for _, _, _, layers, _ in plan)
    state = _State(
        interval=interval,
        branch=branch,
        deep_layers=deep_layers,
        total_layers=total_layers,
        deep_blocks=sum(1 for _, _, deep, _, block in plan if deep and block),
        total_blocks=sum(1 for _, _, _, _, block in plan if block),
    )
    try:
        for key, module, deep, layers, block in plan:
            registry_cls.check_if_exists_or_initialize(module).register_hook(
                part_hook_cls(state, key, deep, layers, block), _PART_HOOK
            )
        registry_cls.check_if_exists_or_initialize(unet).register_hook(unet_hook_cls(state), _UNET_HOOK)
    except BaseException:
        _remove_hooks(unet, registry_cls)
        raise
    _invalidate(unet)


def _remove_hooks(unet: Any, registry_cls: Any) -> None:
    registry = registry_cls.check_if_exists_or_initialize(unet)
    registry.remove_hook(_UNET_HOOK, recurse=False)
    registry.remove_hook(_PART_HOOK, recurse=True)


def _invalidate(unet: Any) -> None:
    registry = getattr(unet, "_diffusers_hook", None)
    if registry is not None and hasattr(registry, "invalidate_child_registries_cache"):
        registry.invalidate_child_registries_cache()


def _state(unet: Any) -> _State | None:
    registry = getattr(unet, "_diffusers_hook", None)
    hook = registry.get_hook(_UNET_HOOK) if registry is not None else None
    return getattr(hook, "state", None)


def disable_deep_cache(unet: Any) -> None:
    """Remove every DeepCache hook from `unet` and drop the cached features; a no-op when none is enabled."""
    state = _state(unet)
    if state is None and not _has_part_hooks(unet):
        return
    if state is not None:
        state.restart()
        state.active = False
    _remove_hooks(unet, _registry_class())
    _invalidate(unet)


def _has_part_hooks(unet: Any) -> bool:
    for module in unet.modules():
        registry = getattr(module, "_diffusers_hook", None)
        if registry is not None and registry.get_hook(_PART_HOOK) is not None:
            return True
    return False


def deep_cache_stats(unet: Any) -> dict[str, Any]:
    """Counts since `enable_deep_cache`: UNet calls (full/cached), steps, layer and block computations run/skipped.

    `layers_*` count resnet layers and down/upsamplers of the down, mid and up blocks; `blocks_*` count whole
    down/mid/up blocks served from the cache. `skipped_share` = layers skipped / layers in all calls. A UNet without
    the cache gives `{"enabled": False}`.
    """
    state = _state(unet)
    if state is None:
        return {"enabled": False}
    counts = dict(state.counts)
    done = counts["layers_run"] + counts["layers_skipped"]
    return {
        "enabled": True,
        "interval": state.interval,
        "branch": state.branch,
        **counts,
        "layers_per_call": state.total_layers,
        "deep_layers_per_call": state.deep_layers,
        "blocks_per_call": state.total_blocks,
        "deep_blocks_per_call": state.deep_blocks,
        "skipped_share": counts["layers_skipped"] / done if done else 0.0,
    }
