"""Estimates without weights: each component's bytes (built on the meta device from its config), and each
plan's peak GPU memory per phase: the weights its placement keeps on the GPU plus the running component's
activations at the spec's size.

Activations come from the fitted per-kind formulas (activations.py, `FORMULA_FIT`): milliseconds, what
`memory="auto"` decides with. A caller that ran the opt-in simulation (simulate.py:
`videogen.plan(..., simulate=True)`, the bench) passes its figures in instead. Free GPU memory and free
RAM come from the machine (for tests and benchmarks: `VIDEOGEN_ASSUME_GPU_GIB`, `VIDEOGEN_ASSUME_RAM_GIB`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..runtime.devices import component_dtype, gpu_evident
from . import stored
from .activations import (  # noqa: F401 - VAE_LAYOUT, effective_config, vae_factors: also named here (moved)
    FORMULA_FIT,
    VAE_LAYOUT,
    Shape,
    denoiser_activation,
    effective_config,
    image_activation,
    text_activation,
    vae_activation,
    vae_factors,
)
from .components import Component
from .machine import current
from .plans import MemoryPlan

if TYPE_CHECKING:
    from ..catalog.lookup import ModelCard

logger = logging.getLogger("videogen")

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float8_e4m3fn": 1, "float8_e5m2": 1}
#: bytes per weight of a quantized Linear layer (scales included, roughly)
QUANT_BYTES = {"int8": 1.03, "float8": 1.03, "int4": 0.53, "8bit": 1.03, "4bit": 0.53}
GIB = 1024**3
#: allocator slack on top of the live tensors (fragmentation, cuBLAS workspaces)
OVERHEAD_FRACTION = 0.05
OVERHEAD_BYTES = 256 * 1024**2


@dataclass(frozen=True)
class ModuleStats:
    """Parameter counts of one component, built on the meta device."""

    params: int
    #: weights of nn.Linear layers (what weight quantization stores in fewer bits)
    linear_params: int
    #: weights layerwise casting stores in float8 (Linear/Conv layers outside the skip patterns)
    castable_params: int
    #: the largest repeated block (ModuleList entry) and the parameters outside every block
    largest_block: int
    outside_blocks: int
    largest_leaf: int
    #: the second largest leaf (leaf-level offload holds the current leaf and prefetches the next)
    second_leaf: int = 0
    #: VAE tile size in pixels (None: no tiling)
    tile: int | None = None


def config_key(component: Component) -> str:
    return json.dumps(component.config or {}, sort_keys=True, default=str)


def build_on_meta(component: Component) -> Any:
    """The component as a module on the meta device, from its config (class defaults when unknown)."""
    import torch

    from .components import component_class

    cls = component_class(component.class_name, component.library)
    config = buildable_config(component)
    with torch.device("meta"):
        if component.library == "diffusers":
            return cls.from_config(config) if config else cls()
        config_cls = cls.config_class
        config.pop("architectures", None)
        config.pop("_name_or_path", None)
        cfg = config_cls(**{k: v for k, v in config.items() if k != "model_type"}) if config else config_cls()
        return cls(cfg)


def buildable_config(component: Component) -> dict[str, Any]:
    """The component's config, with per-channel latent statistics (`latents_mean`/`latents_std`) sized to
    its latent channels where the stored config leaves them at the class default. Their values change
    neither sizes nor time, only what a real checkpoint's latents mean; planning and the bench need the
    shapes to agree."""
    config = dict(component.config or {})
    channels = config.get("z_dim")
    if isinstance(channels, int):
        for key, neutral in (("latents_mean", 0.0), ("latents_std", 1.0)):
            if len(config.get(key) or []) != channels:
                config[key] = [neutral] * channels
    return config


@lru_cache(maxsize=64)
def counted_stats(class_name: str, library: str, config_key: str) -> ModuleStats:
    import torch

    component = Component("x", class_name, library, json.loads(config_key) or None)
    model = build_on_meta(component)
    total = sum(p.numel() for p in model.parameters())
    linear = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    skip = tuple(getattr(model, "_skip_layerwise_casting_patterns", None) or ()) + (
        "pos_embed",
        "patch_embed",
        "norm",
        "proj_in",
        "proj_out",
    )
    castable = 0
    conv_types = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    for name, module in model.named_modules():
        if isinstance(module, conv_types) and not any(s in name for s in skip):
            castable += module.weight.numel()
    largest_block = 0
    in_blocks = 0
    seen: set[int] = set()
    for module in model.modules():
        if isinstance(module, (torch.nn.ModuleList, torch.nn.Sequential)) and len(module) >= 2:
            sizes = [sum(p.numel() for p in child.parameters()) for child in module if child is not None]
            if not sizes or sum(sizes) < 0.05 * max(total, 1) or id(module) in seen:
                continue
            for sub in module.modules():
                seen.add(id(sub))
            largest_block = max(largest_block, max(sizes))
            in_blocks += sum(sizes)
    leaves = sorted(_own_params(model))[-2:]
    tile = getattr(model, "tile_sample_min_height", None) or getattr(model, "tile_sample_min_size", None)
    if tile is None and type(model).__name__ == "AutoencoderKLAllegro":
        tile = model.kernel[1]  # (frames, height, width) of its fixed tiles
    return ModuleStats(
        params=total,
        linear_params=linear,
        castable_params=castable,
        largest_block=largest_block,
        outside_blocks=max(total - in_blocks, 0),
        largest_leaf=leaves[-1] if leaves else 0,
        second_leaf=leaves[0] if len(leaves) > 1 else 0,
        tile=int(tile) if tile else None,
    )


def _own_params(model: Any) -> list[int]:
    """Parameters each module holds itself; a tied parameter (T5's embedding, shared by two modules) once."""
    seen: set[int] = set()
    sizes = []
    for module in model.modules():
        own = [p for p in module.parameters(recurse=False) if id(p) not in seen]
        seen.update(id(p) for p in own)
        sizes.append(sum(p.numel() for p in own))
    return sizes


def module_stats(component: Component) -> ModuleStats | None:
    """Parameter counts of `component` (None when its config is unknown)."""
    if component.config is None:
        return None
    key = config_key(component)
    found, fields = stored.stats(component.class_name, component.library, key)
    if found:  # counted when configs/planning.json was generated (memory/stored.py)
        return ModuleStats(**fields) if fields is not None else None
    try:
        counted: ModuleStats | None = counted_stats(component.class_name, component.library, key)
    except Exception as exc:  # noqa: BLE001 - an odd config: say it is unknown rather than guess
        logger.info("could not build %s on the meta device: %s", component.class_name, exc)
        counted = None
    fields = dataclasses.asdict(counted) if counted is not None else None
    stored.remember("stats", stored.stats_key(component.class_name, component.library, key), fields)
    return counted


# ---- bytes ---------------------------------------------------------------------------------------
def weight_bytes(stats: ModuleStats, dtype: str, name: str, plan: MemoryPlan) -> int:
    """Bytes of a component's weights under the plan's quantization / GGUF / layerwise casting."""
    from .components import default_quantized, layerwise_targets

    per = DTYPE_BYTES.get(dtype, 2)
    gguf = dict(plan.gguf)
    if name in gguf:
        path = gguf[name]
        if os.path.isfile(path):
            return os.path.getsize(path)
        return int(stats.linear_params * 1.07 + (stats.params - stats.linear_params) * per)
    if plan.quantization and name in (plan.quantize_components or default_quantized([name])):
        kind = plan.quantization.split("-", 1)[1]
        return int(stats.linear_params * QUANT_BYTES[kind] + (stats.params - stats.linear_params) * per)
    if plan.layerwise_casting and name in (plan.layerwise_components or layerwise_targets([name])):
        return int(stats.castable_params * 1 + (stats.params - stats.castable_params) * per)
    return stats.params * per


# ---- a plan's peak -------------------------------------------------------------------------------
@dataclass
class ComponentEstimate:
    name: str
    class_name: str
    role: str
    params: int | None
    dtype: str
    bytes: int | None
    #: "gpu", "offload" (streams from RAM), "cpu" (a CPU run)
    where: str = "gpu"
    #: bytes on the GPU while it runs / while something else runs
    running_bytes: int = 0
    resident_bytes: int = 0
    activation_bytes: int = 0
    #: where activation_bytes comes from: "simulated" (the pipeline's call on fake tensors) or "formula"
    activation_source: str = "formula"


@dataclass
class Estimate:
    """One plan's estimated memory: per component, per phase, the peak, and what is unknown."""

    plan: MemoryPlan
    components: list[ComponentEstimate]
    phases: dict[str, int] = field(default_factory=dict)
    peak_gpu_bytes: int | None = None
    ram_bytes: int | None = None
    unknown: list[str] = field(default_factory=list)


def _placement_of(plan: MemoryPlan, name: str) -> str:
    """How the plan places component `name`: resident, model, sequential, block_level, leaf_level."""
    if plan.placement == "none":
        return "resident"
    if plan.placement in ("model", "sequential"):
        return plan.placement
    own = plan.component(name)
    return own.offload if own is not None else plan.offload_type


def activation_parts(plan: MemoryPlan) -> tuple:
    """The parts of a plan that change activation memory (what a simulation of it depends on)."""
    return (
        plan.vae_tiling,
        plan.vae_slicing,
        plan.forward_chunking,
        plan.decode_chunk_size,
        tuple(sorted(dict(plan.dtypes).items())),
    )


def estimate_plan(
    card: ModelCard,
    components: list[Component],
    plan: MemoryPlan,
    shape: Shape,
    device: str = "cuda",
    simulation: Any = None,
) -> Estimate:
    """Estimate the peak GPU memory of running `components` under `plan` at `shape`.

    Weights come from the components' parameter counts and the plan's placement; activations from a
    per-kind formula, or from `simulation` (a `simulate.Simulation` of this plan's activation parts,
    which the caller ran) where it has the component.
    """
    rows: list[ComponentEstimate] = []
    unknown: list[str] = []
    vae = next((c for c in components if c.role == "vae"), None)
    for comp in components:
        stats = module_stats(comp)
        dtype = component_dtype(card, comp.name, "cuda" if device.startswith("cuda") else device, plan)
        if stats is None:
            unknown.append(f"{comp.name} ({comp.class_name}): config unknown, size not estimated")
            rows.append(ComponentEstimate(comp.name, comp.class_name, comp.role, None, dtype, None))
            continue
        total = weight_bytes(stats, dtype, comp.name, plan)
        scale = total / max(stats.params, 1)
        placement = _placement_of(plan, comp.name)
        if placement == "resident":
            running, resident, where = total, total, "gpu"
        elif placement == "model":
            running, resident, where = total, 0, "offload"
        elif placement == "block_level":
            own = plan.component(comp.name)
            per_group = own.blocks_per_group if own and own.blocks_per_group else plan.blocks_per_group
            groups = 2 if plan.use_stream else 1
            running = int((stats.outside_blocks + groups * per_group * stats.largest_block) * scale)
            resident, where = 0, "offload"
        else:  # leaf_level, sequential: the current leaf and the next one
            running = int((stats.largest_leaf + stats.second_leaf) * scale)
            resident, where = 0, "offload"
        running = min(running, total)
        act_bytes = 2 if DTYPE_BYTES.get(dtype, 2) < 4 else 4
        if plan.layerwise_casting and comp.role == "denoiser":
            running += int(stats.largest_leaf * act_bytes)  # one layer upcast at a time
        phase = simulation.phases.get(comp.name) if simulation is not None else None
        source = "simulated" if phase is not None else "formula"
        if phase is not None:
            act = phase.total_bytes
        elif comp.role == "denoiser":
            act = denoiser_activation(comp, vae, shape, act_bytes, plan.forward_chunking)
        elif comp.role == "vae":
            act = vae_activation(comp, stats, shape, DTYPE_BYTES.get(dtype, 4), plan.vae_tiling, plan.decode_chunk_size)
        elif comp.role == "text_encoder":
            act = text_activation(comp, act_bytes)
        elif comp.role == "image_encoder":
            act = image_activation(comp, act_bytes)
        else:
            act = 0
        if phase is None and not (comp.role == "vae" and plan.vae_tiling):
            act = int(act * FORMULA_FIT.get(comp.class_name, 1.0))
        rows.append(
            ComponentEstimate(
                comp.name, comp.class_name, comp.role, stats.params, dtype, total, where, running, resident, act, source
            )
        )
    est = Estimate(plan=plan, components=rows, unknown=unknown)
    known = [r for r in rows if r.bytes is not None]
    if not known:
        return est
    for row in known:  # each component runs in its own phase; the others keep their resident part
        others = sum(r.resident_bytes for r in known if r is not row)
        live = others + row.running_bytes + row.activation_bytes
        est.phases[row.name] = int(live * (1 + OVERHEAD_FRACTION) + OVERHEAD_BYTES)
    est.peak_gpu_bytes = max(est.phases.values())
    est.ram_bytes = sum(r.bytes for r in known if r.bytes is not None and r.where == "offload")
    return est


# ---- the machine ---------------------------------------------------------------------------------
#: for tests and benchmarks only: plan as if this machine had an empty GPU of this many GiB (free = total),
#: whatever GPU it has or hasn't; `memory="auto"` then picks a GPU plan even on a CPU machine, which only
#: planning (`prepare`, `videogen.plan`) can use: generating with it on a CPU fails
ASSUME_GPU_ENV = "VIDEOGEN_ASSUME_GPU_GIB"
#: for tests and benchmarks only, beside it: this many GiB of free RAM (offloaded weights must fit 90 % of it)
ASSUME_RAM_ENV = "VIDEOGEN_ASSUME_RAM_GIB"


def assumed_gpu_bytes() -> int | None:
    """The GPU size to plan for instead of this machine's: the described target's (`plan(gpu=...)`,
    machine.py), else `VIDEOGEN_ASSUME_GPU_GIB` (None: neither, use the machine's)."""
    found = current()
    if found is not None and found.gpu is not None:
        return found.gpu_bytes
    return _assumed(ASSUME_GPU_ENV)


def _assumed(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        size = float(value)
    except ValueError:
        size = -1.0
    if not 0 < size < 1 << 20:
        from ..errors import SpecError

        raise SpecError(f"{name}={value!r}: expected a size in GiB, e.g. 24 (or unset it)", field=name)
    return int(size * GIB)


def free_gpu_bytes() -> tuple[int, int] | None:
    """(free, total) bytes of the current CUDA device, or None without one (`VIDEOGEN_ASSUME_GPU_GIB`: that
    size, all free)."""
    assumed = assumed_gpu_bytes()
    if assumed is not None:
        return assumed, assumed
    if not gpu_evident():  # no GPU driver here: no need to import torch to know
        return None
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        free, total = torch.cuda.mem_get_info()
        return int(free), int(total)
    except Exception:  # noqa: BLE001 - any failure means: unknown
        return None


def free_ram_bytes() -> int | None:
    """Available RAM (MemAvailable), or None where it can't be read (the described target's RAM, else
    `VIDEOGEN_ASSUME_RAM_GIB`: that size)."""
    found = current()
    if found is not None and found.ram_bytes is not None:
        return found.ram_bytes
    assumed = _assumed(ASSUME_RAM_ENV)
    if assumed is not None:
        return assumed
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def gib(n: int | None) -> str:
    return "?" if n is None else f"{n / GIB:.1f} GiB"
