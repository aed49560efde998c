"""`resolve_plan`: a preset, "auto" or a MemoryPlan → one concrete plan, checked against the family's
components and the machine before any weight loads.

Presets adapt to what the components support and say so in `plan.notes`; an explicit MemoryPlan is
checked strictly. Either way a strategy that can't work, or would silently do nothing, is a SpecError
(or a MissingDependencyError naming the pip extra) that names a valid alternative.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependencyError, SpecError
from .components import Capabilities, Component, capabilities, pipeline_call_parameters, pipeline_components
from .plans import DENOISERS, MemoryPlan, plan_from
from .presets import PRESETS, preset

if TYPE_CHECKING:
    from ..catalog import ModelCard
    from ..families.base import Family
    from ..spec import VideoSpec
    from .estimate import Shape

logger = logging.getLogger("videogen")

CPU_ATTENTION_BACKENDS = ("native", "_native_math", "flex")
COMPILE_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
EXTRA = {"torchao": "quant", "optimum.quanto": "quant", "gguf": "quant", "bitsandbytes": "bnb"}


def _err(message: str) -> SpecError:
    return SpecError(f"memory: {message}", field="memory")


@dataclass
class Context:
    """What a plan is checked against: the pipeline's components and what each class supports."""

    pipeline_class: str
    components: list[Component]
    source: str
    caps: dict[str, Capabilities]
    call_params: frozenset[str]
    device: str

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")

    def names(self, role: str | None = None) -> list[str]:
        return [c.name for c in self.components if role is None or c.role == role]

    def denoisers(self) -> list[str]:
        return self.names("denoiser")

    def first(self, role: str) -> Component | None:
        return next((c for c in self.components if c.role == role), None)


def context(card: ModelCard, pipeline_class: str, device: str) -> Context:
    components, source = pipeline_components(card, pipeline_class)
    caps = {}
    for comp in components:
        try:
            caps[comp.name] = capabilities(comp.class_name, comp.library)
        except (ImportError, AttributeError) as exc:
            logger.info("no capabilities for %s (%s): %s", comp.name, comp.class_name, exc)
    return Context(pipeline_class, components, source, caps, pipeline_call_parameters(pipeline_class), device)


def default_quantized(names: list[str]) -> list[str]:
    """Components quantized when the plan doesn't list them: denoisers and text encoders."""
    from .components import role_of

    return [n for n in names if role_of(n) in ("denoiser", "text_encoder")]


def layerwise_targets(names: list[str]) -> list[str]:
    """Components layerwise casting applies to when the plan doesn't list them: the denoisers."""
    return [n for n in names if n in DENOISERS]


# ---- resolving ----------------------------------------------------------------------------------
def resolve_plan(memory: Any, spec: VideoSpec, card: ModelCard, family: Family, device: str,
                 media: Mapping[str, Any] | None = None) -> MemoryPlan:
    """A concrete plan for `spec.memory` ("auto", a preset name, a MemoryPlan or a dict), checked.

    `auto` on a GPU simulates the spec's activations when `media` (the loaded inputs) is given.
    """
    ctx = context(card, card.pipeline_class(spec.task, family), device)
    if memory is None or (isinstance(memory, str) and memory == "auto"):
        from .auto import choose
        from .simulate import Subject, enabled

        subject = (Subject(spec, card, family, media, ctx.pipeline_class)
                   if media is not None and ctx.cuda and enabled() else None)
        return choose(ctx, card, shape_of(spec, ctx), subject).plan
    if isinstance(memory, str):
        return check(adapt(preset(memory), ctx), ctx)
    plan = plan_from(memory)
    if plan.name in PRESETS:  # a preset with some fields changed (preset("low", oom_retry=True)) adapts too
        plan = adapt(plan, ctx)
    return check(plan, ctx)


def shape_of(spec: VideoSpec, ctx: Context) -> Shape:
    from .components import batches_guidance
    from .estimate import Shape

    cfg = 2 if (spec.guidance_scale or 0) > 1 and batches_guidance(ctx.pipeline_class) else 1
    return Shape(int(spec.height or 0), int(spec.width or 0), int(spec.num_frames or 1), cfg)


def adapt(plan: MemoryPlan, ctx: Context) -> MemoryPlan:
    """A preset fitted to the components and the machine; `notes` say what changed."""
    notes = list(plan.notes)
    changes: dict[str, Any] = {}
    names = ctx.names()
    if not ctx.cuda and (plan.use_stream or plan.record_stream or plan.low_cpu_mem_usage):
        changes.update(use_stream=False, record_stream=False, low_cpu_mem_usage=False)
        notes.append("CUDA streams off: no GPU (group offload runs with the CPU as the onload device)")
    if plan.components:
        kept = {}
        for name, part in plan.components:
            if name not in names:
                continue
            caps = ctx.caps.get(name)
            if part.offload != "resident" and caps is not None and caps.multihead_attention:
                notes.append(f"{name} stays resident: {caps.class_name} uses torch.nn.MultiheadAttention, "
                             "whose weights group offload can't move")
                part = type(part)("resident")
            kept[name] = part
        changes["components"] = kept
    vae = ctx.first("vae")
    vae_caps = ctx.caps.get(vae.name) if vae else None
    takes_chunk = "decode_chunk_size" in ctx.call_params
    small = tile_too_small(ctx)
    if plan.vae_tiling and small:
        changes["vae_tiling"] = False
        notes.append(f"vae_tiling off: {small}")
    unsupported = [feature for feature, attr in (("vae_tiling", "tiling"), ("vae_slicing", "slicing"))
                   if feature not in changes and getattr(plan, feature)
                   and not (vae_caps and getattr(vae_caps, attr))]
    if unsupported:
        changes.update(dict.fromkeys(unsupported, False))
        what = vae_caps.class_name if vae_caps else "this pipeline's VAE"
        alt = f"; decode_chunk_size={plan.decode_chunk_size} instead" if takes_chunk and plan.decode_chunk_size \
            else ""
        notes.append(f"{' and '.join(unsupported)} off: {what} does not support it{alt}")
    if plan.decode_chunk_size and not takes_chunk:
        changes["decode_chunk_size"] = None
    den_caps = [ctx.caps[n] for n in ctx.denoisers() if n in ctx.caps]
    if plan.forward_chunking and not any(c.forward_chunking for c in den_caps):
        changes["forward_chunking"] = False
    if plan.compile == "regional" and den_caps and not all(c.repeated_blocks for c in den_caps):
        changes["compile"] = "full"
        notes.append(f"compile='full': {den_caps[0].class_name} declares no repeated blocks for regional "
                     "compile")
    if plan.layerwise_casting and not plan.layerwise_components:
        changes["layerwise_components"] = tuple(layerwise_targets(names))
    if plan.quantization and not plan.quantize_components:
        changes["quantize_components"] = tuple(default_quantized(names))
    return plan.replace(notes=tuple(notes), **changes)


# ---- checking -----------------------------------------------------------------------------------
def check(plan: MemoryPlan, ctx: Context) -> MemoryPlan:
    """Raise SpecError / MissingDependencyError for a plan that can't work here; return it otherwise."""
    names = ctx.names()
    named = f"memory={plan.name!r}" if plan.name != "custom" else "this plan"
    cpu_alt = "on a CPU use memory='none' (or placement='group', which runs with the CPU as onload device)"
    if plan.placement == "sequential" and plan.compile:
        raise _err("sequential offload and compile don't combine (accelerate's per-layer hooks break the "
                   "graph); use placement='group' with compile, or compile=None")
    if plan.placement in ("model", "sequential") and not ctx.cuda:
        what = "model CPU offload" if plan.placement == "model" else "sequential CPU offload"
        raise _err(f"{named} uses {what} (placement={plan.placement!r}), which needs a GPU and none is in "
                   f"use (device {ctx.device!r}); {cpu_alt}")
    if plan.use_stream and not ctx.cuda:
        raise _err(f"use_stream=True needs a CUDA device (device is {ctx.device!r}); set use_stream=False")
    if plan.use_stream and plan.placement != "group":
        raise _err("use_stream applies to group offload only; set placement='group' or use_stream=False")
    if plan.record_stream and not plan.use_stream:
        raise _err("record_stream=True needs use_stream=True")
    if plan.low_cpu_mem_usage and not plan.use_stream:
        raise _err("low_cpu_mem_usage only changes streamed group offload (it pins memory on the fly); "
                   "set use_stream=True or low_cpu_mem_usage=False")
    if plan.use_stream and plan.blocks_per_group != 1:
        raise _err(f"blocks_per_group={plan.blocks_per_group} with use_stream=True: diffusers prefetches "
                   "one block at a time with streams; use blocks_per_group=1 or use_stream=False")
    if plan.offload_to_disk and plan.placement != "group":
        raise _err("offload_to_disk is a group offload option; set placement='group'")
    if plan.offload_to_disk and plan.quantization and plan.quantization.startswith("torchao"):
        raise _err("offload_to_disk can't hold torchao-quantized weights (safetensors can't store them); "
                   "use RAM offload (offload_to_disk=None) or quantization='quanto-int8'")
    _check_components(plan, ctx, names)
    _check_decode(plan, ctx)
    _check_denoiser_features(plan, ctx)
    _check_weights(plan, ctx, names)
    partly = [ctx.caps[n].class_name for n in ctx.denoisers()
              if plan.attention_backend and n in ctx.caps and ctx.caps[n].attention_backend == "some"]
    if partly:
        note = (f"attention_backend={plan.attention_backend!r} reaches only part of {partly[0]}'s attention "
                "(some of its processors call torch's SDPA directly)")
        if note not in plan.notes:
            plan = plan.replace(notes=plan.notes + (note,))
    return plan


def _check_components(plan: MemoryPlan, ctx: Context, names: list[str]) -> None:
    if plan.components and plan.placement != "group":
        raise _err(f"per-component placement (components=...) applies to group offload; set "
                   f"placement='group' (now {plan.placement!r}) or drop components")
    for name, part in plan.components:
        if name not in names:
            raise _err(f"components: {ctx.pipeline_class} has no component {name!r}; its model components: "
                       f"{', '.join(names)}")
        caps = ctx.caps.get(name)
        if caps is None or part.offload == "resident":
            continue
        if caps.multihead_attention and ctx.cuda:
            raise _err(f"components: {name} ({caps.class_name}) uses torch.nn.MultiheadAttention, whose weights "
                       f"group offload leaves on the CPU; set components={{{name!r}: 'resident'}}")
        if not caps.group_offload:
            raise _err(f"components: {caps.class_name} does not support group offload; keep {name} 'resident'")
    if plan.placement == "group":
        for name in names:
            caps = ctx.caps.get(name)
            if plan.component(name) is None and caps is not None and caps.multihead_attention and ctx.cuda:
                raise _err(f"{name} ({caps.class_name}) uses torch.nn.MultiheadAttention, whose weights group "
                           f"offload leaves on the CPU; add components={{{name!r}: 'resident'}}")


def _check_decode(plan: MemoryPlan, ctx: Context) -> None:
    vae = ctx.first("vae")
    caps = ctx.caps.get(vae.name) if vae else None
    takes_chunk = "decode_chunk_size" in ctx.call_params
    for feature, attr in (("vae_tiling", "tiling"), ("vae_slicing", "slicing")):
        if getattr(plan, feature) and not (caps and getattr(caps, attr)):
            what = caps.class_name if caps else f"{ctx.pipeline_class}'s VAE"
            alt = ("use decode_chunk_size=N (frames decoded at a time) instead" if takes_chunk
                   else "leave it off")
            raise _err(f"{feature}=True: {what} does not support it; {alt}")
    small = tile_too_small(ctx)
    if plan.vae_tiling and small:
        raise _err(f"vae_tiling=True: {small}; leave vae_tiling off (vae_slicing still helps with batches)")
    if plan.decode_chunk_size and not takes_chunk:
        alt = "use vae_tiling=True" if caps and caps.tiling else "leave it unset"
        raise _err(f"decode_chunk_size: {ctx.pipeline_class} takes no decode_chunk_size; {alt}")


def tile_too_small(ctx: Context) -> str | None:
    """Why the VAE's configured tile can't tile (under two latent pixels: a test-size VAE), or None."""
    from .estimate import module_stats, vae_factors

    vae = ctx.first("vae")
    stats = module_stats(vae) if vae is not None and vae.config else None
    if stats is None or not stats.tile:
        return None
    spatial, _ = vae_factors(vae)
    if stats.tile // spatial >= 2:
        return None
    return f"{vae.class_name}'s tile is {stats.tile} px, under two latent pixels (a test-size VAE config)"


def _check_denoiser_features(plan: MemoryPlan, ctx: Context) -> None:
    dens = [(n, ctx.caps[n]) for n in ctx.denoisers() if n in ctx.caps]
    if plan.forward_chunking:
        for _name, caps in dens:
            if not caps.forward_chunking:
                raise _err(f"forward_chunking: {caps.class_name} has no feed-forward chunking (diffusers offers it "
                           "for UNet3DConditionModel, I2VGenXLUNet and UNetSpatioTemporalConditionModel); use "
                           "group offload or VAE tiling to save memory instead")
    if plan.compile == "regional":
        for _name, caps in dens:
            if not caps.repeated_blocks:
                raise _err(f"compile='regional': {caps.class_name} declares no repeated blocks "
                           "(_repeated_blocks); use compile='full'")
    if plan.compile_mode not in COMPILE_MODES:
        raise _err(f"compile_mode={plan.compile_mode!r}; use one of {', '.join(str(m) for m in COMPILE_MODES)}")
    if plan.compile_mode and not plan.compile:
        raise _err("compile_mode is set but compile is None; set compile='regional' or 'full'")
    if plan.compile_mode in ("reduce-overhead", "max-autotune") and plan.placement != "none":
        raise _err(f"compile_mode={plan.compile_mode!r} records CUDA graphs, which offload hooks break; use "
                   "compile_mode='max-autotune-no-cudagraphs' or placement='none'")
    if plan.attention_backend:
        _check_attention(plan.attention_backend, dens, ctx)


def _check_attention(backend: str, dens: list[tuple[str, Capabilities]], ctx: Context) -> None:
    from diffusers.models.attention_dispatch import (
        AttentionBackendName,
        _check_attention_backend_requirements,
    )

    valid = [b.value for b in AttentionBackendName]
    if backend not in valid:
        raise _err(f"attention_backend={backend!r} is not a diffusers attention backend; use one of "
                   f"{', '.join(valid)}")
    for _name, caps in dens:
        if caps.attention_backend == "none":
            raise _err(f"attention_backend={backend!r}: {caps.class_name}'s attention processors don't "
                       "follow set_attention_backend (in diffusers it would silently do nothing); leave "
                       "attention_backend unset")
    if not ctx.cuda and backend not in CPU_ATTENTION_BACKENDS:
        raise _err(f"attention_backend={backend!r} needs a GPU; on a CPU use one of "
                   f"{', '.join(CPU_ATTENTION_BACKENDS)}")
    try:
        _check_attention_backend_requirements(AttentionBackendName(backend))
    except RuntimeError as exc:
        raise MissingDependencyError(f"memory: attention_backend={backend!r}: {exc}") from None


def require(module: str, what: str) -> None:
    """MissingDependencyError naming the pip extra when `module` is not installed."""
    if importlib.util.find_spec(module) is None:
        extra = EXTRA.get(module, "quant")
        raise MissingDependencyError(f"memory: {what} needs {module.split('.')[-1]}: pip install "
                                     f"'videogen-diffusers[{extra}]'")


def _check_weights(plan: MemoryPlan, ctx: Context, names: list[str]) -> None:
    import os

    for name, dtype in plan.dtypes:
        if name != "default" and name not in names:
            raise _err(f"dtypes: {ctx.pipeline_class} has no component {name!r}; its model components: "
                       f"{', '.join(names)} (or 'default')")
        if dtype not in ("float32", "float16", "bfloat16"):
            raise _err(f"dtypes: {name}={dtype!r}; use float32, float16 or bfloat16 (float8 storage is "
                       "layerwise_casting='float8_e4m3fn')")
    quantized = set(plan.quantize_components or default_quantized(names)) if plan.quantization else set()
    if plan.quantization:
        backend = plan.quantization.split("-", 1)[0]
        module = {"torchao": "torchao", "quanto": "optimum.quanto", "bnb": "bitsandbytes"}[backend]
        if backend == "bnb" and not ctx.cuda:
            raise _err(f"quantization={plan.quantization!r}: bitsandbytes quantizes on a GPU only; on a CPU use "
                       "quantization='torchao-int8' or 'quanto-int8'")
        require(module, f"quantization={plan.quantization!r}")
        for name in quantized:
            if name not in names:
                raise _err(f"quantize_components: no component {name!r}; its model components: "
                           f"{', '.join(names)}")
            if ctx.caps.get(name) and ctx.first("vae") and name == ctx.first("vae").name:
                raise _err("quantize_components: quantizing the VAE is not supported; quantize the denoiser "
                           "and text encoders")
    gguf = dict(plan.gguf)
    if gguf:
        require("gguf", "a GGUF transformer")
        for name, path in gguf.items():
            caps = ctx.caps.get(name)
            if name not in names:
                raise _err(f"gguf: {ctx.pipeline_class} has no component {name!r}; give the denoiser's name "
                           f"({', '.join(ctx.denoisers())})")
            if caps is not None and not caps.single_file:
                raise _err(f"gguf: {caps.class_name} can't load a single file (from_single_file); use "
                           "quantization='torchao-int8' instead")
            if not (os.path.isfile(os.path.expanduser(path)) or path.startswith(("http://", "https://"))):
                raise _err(f"gguf: no file at {path!r}; give a local .gguf path")
            if name in quantized:
                raise _err(f"gguf: {name} is both GGUF-quantized and in quantize_components; drop one")
    if plan.layerwise_casting:
        targets = plan.layerwise_components or layerwise_targets(names)
        for name in targets:
            if name not in names:
                raise _err(f"layerwise_components: no component {name!r}; its model components: "
                           f"{', '.join(names)}")
            if name in quantized or name in gguf:
                raise _err(f"layerwise_casting on {name}, which is also quantized; choose one")


def preset_table() -> list[tuple[str, str]]:
    """(name, description) of every preset and auto, for docs and `videogen plan`."""
    from .presets import DESCRIPTIONS

    return [(name, DESCRIPTIONS[name]) for name in list(PRESETS) + ["auto"]]
