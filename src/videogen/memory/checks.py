"""The memory rule table: what a plan must pass on a pipeline and a machine, checked before weights load.

Each rule reads a resolved plan (resolve.py fills its defaults first) and the `Context`, and returns None
or a `Problem`: the rule broken, a valid alternative and, where there is one, the change that fixes it.
`run_rules` applies the table in one of two modes, as `validate.Rules.fix` does for specs: a preset is
fixed (the change made, `plan.notes` saying so); a custom plan is refused with a SpecError (or a
MissingDependencyError naming the pip extra). Rules without a fix refuse presets too.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependencyError, SpecError
from .attention import fastest_backend
from .context import defaults
from .plans import ComponentPlan, MemoryPlan

if TYPE_CHECKING:
    from .context import Context

CPU_ATTENTION_BACKENDS = ("native", "_native_math", "flex")
COMPILE_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
EXTRA = {"torchao": "quant", "optimum.quanto": "quant", "gguf": "quant", "bitsandbytes": "bnb"}
QUANT_MODULES = {"torchao": "torchao", "quanto": "optimum.quanto", "bnb": "bitsandbytes"}


@dataclass(frozen=True)
class Problem:
    """A broken rule: `message` names it and a valid alternative (the error a custom plan gets)."""

    message: str
    #: the change that makes a preset pass (None: no fix, presets are refused too)
    fix: Mapping[str, Any] | None = None
    #: what `plan.notes` says when fixed (None for a preset's template entries "where supported")
    note: str | None = None
    error: type[Exception] = SpecError
    #: False: a note, never an error (the fix applies to custom plans too)
    refuse: bool = True

    def exception(self) -> Exception:
        if self.error is SpecError:
            return SpecError(f"memory: {self.message}", field="memory")
        return self.error(f"memory: {self.message}")


Rule = Callable[[MemoryPlan, "Context"], "Problem | None"]


def run_rules(plan: MemoryPlan, ctx: Context, fix: bool, refuse: bool = True) -> MemoryPlan:
    """`plan` through every rule: fixed where `fix` allows and the rule can be (a preset), else refused.

    `refuse=False` skips the rules that can't be fixed (to estimate a preset that can't run here).
    """
    for rule in RULES:
        for _ in range(32):  # a rule reports one problem at a time (e.g. one component at a time)
            problem = rule(plan, ctx)
            if problem is None:
                break
            if problem.fix is not None and (fix or not problem.refuse):
                plan = plan.replace(**problem.fix, notes=plan.notes + ((problem.note,) if problem.note else ()))
            elif refuse:
                raise problem.exception()
            else:
                break
    return plan


def _named(plan: MemoryPlan) -> str:
    return f"memory={plan.name!r}" if plan.name != "custom" else "this plan"


# ---- placement ----------------------------------------------------------------------------------
def offload_needs_gpu(plan: MemoryPlan, ctx: Context) -> Problem | None:
    if plan.placement == "sequential" and plan.compile:
        return Problem(
            "sequential offload and compile don't combine (accelerate's per-layer hooks break the "
            "graph); use placement='group' with compile, or compile=None"
        )
    if plan.placement in ("model", "sequential") and not ctx.accelerator:
        what = "model CPU offload" if plan.placement == "model" else "sequential CPU offload"
        return Problem(
            f"{_named(plan)} uses {what} (placement={plan.placement!r}), which needs a GPU and none is "
            f"in use (device {ctx.device!r}); on a CPU use memory='none' (or placement='group', which "
            "runs with the CPU as onload device)"
        )
    return None


def streams(plan: MemoryPlan, ctx: Context) -> Problem | None:
    if plan.use_stream and not ctx.cuda:
        return Problem(
            f"use_stream=True needs a CUDA device (device is {ctx.device!r}); set use_stream=False",
            fix={"use_stream": False, "record_stream": False, "low_cpu_mem_usage": False},
            note="CUDA streams off: no GPU (group offload runs with the CPU as the onload device)",
        )
    if plan.use_stream and plan.placement != "group":
        return Problem("use_stream applies to group offload only; set placement='group' or use_stream=False")
    if plan.record_stream and not plan.use_stream:
        return Problem("record_stream=True needs use_stream=True")
    if plan.low_cpu_mem_usage and not plan.use_stream:
        return Problem(
            "low_cpu_mem_usage only changes streamed group offload (it pins memory on the fly); set "
            "use_stream=True or low_cpu_mem_usage=False"
        )
    if plan.use_stream and plan.blocks_per_group != 1:
        return Problem(
            f"blocks_per_group={plan.blocks_per_group} with use_stream=True: diffusers prefetches one "
            "block at a time with streams; use blocks_per_group=1 or use_stream=False"
        )
    return None


def disk_offload(plan: MemoryPlan, ctx: Context) -> Problem | None:
    if plan.offload_to_disk and plan.placement != "group":
        return Problem("offload_to_disk is a group offload option; set placement='group'")
    if plan.offload_to_disk and (plan.quantization or "").startswith("torchao"):
        return Problem(
            "offload_to_disk can't hold torchao-quantized weights (safetensors can't store them); use "
            "RAM offload (offload_to_disk=None) or quantization='quanto-int8'"
        )
    return None


def components_known(plan: MemoryPlan, ctx: Context) -> Problem | None:
    names = ctx.names()
    if plan.components and plan.placement != "group":
        return Problem(
            f"per-component placement (components=...) applies to group offload; set placement='group' "
            f"(now {plan.placement!r}) or drop components"
        )
    unknown = [n for n, _ in plan.components if n not in names]
    if unknown:  # a preset names every family's components: keep this pipeline's
        return Problem(
            f"components: {ctx.pipeline_class} has no component {unknown[0]!r}; its model components: "
            f"{', '.join(names)}",
            fix={"components": {n: p for n, p in plan.components if n in names}},
        )
    return None


def offload_movable(plan: MemoryPlan, ctx: Context) -> Problem | None:
    """Group offload of a component whose weights it can't move (MultiheadAttention) or that refuses it."""
    if plan.placement != "group":
        return None
    for name in ctx.names():
        caps, own = ctx.caps.get(name), plan.component(name)
        if caps is None or (own.offload if own else plan.offload_type) == "resident":
            continue
        if caps.multihead_attention or not caps.group_offload:
            why = (
                "uses torch.nn.MultiheadAttention, whose weights group offload can't move"
                if caps.multihead_attention
                else "does not support group offload"
            )
            return Problem(
                f"components: {name} ({caps.class_name}) {why}; set components={{{name!r}: 'resident'}}",
                fix={"components": {**dict(plan.components), name: ComponentPlan("resident")}},
                note=f"{name} stays resident: {caps.class_name} {why}",
            )
    return None


# ---- decode -------------------------------------------------------------------------------------
def tile_too_small(ctx: Context) -> str | None:
    """Why the VAE's configured tile can't tile (under two latent pixels: a test-size VAE), or None."""
    from .estimate import module_stats, vae_factors

    vae = ctx.first("vae")
    if vae is None or not vae.config:
        return None
    stats = module_stats(vae)
    if stats is None or not stats.tile or stats.tile // vae_factors(vae)[0] >= 2:
        return None
    return f"{vae.class_name}'s tile is {stats.tile} px, under two latent pixels (a test-size VAE config)"


def vae_features(plan: MemoryPlan, ctx: Context) -> Problem | None:
    small = tile_too_small(ctx) if plan.vae_tiling else None
    if small:
        return Problem(
            f"vae_tiling=True: {small}; leave vae_tiling off (vae_slicing still helps with batches)",
            fix={"vae_tiling": False},
            note=f"vae_tiling off: {small}",
        )
    caps, takes_chunk = ctx.vae_caps(), "decode_chunk_size" in ctx.call_params
    for feature, attr in (("vae_tiling", "tiling"), ("vae_slicing", "slicing")):
        if getattr(plan, feature) and not (caps and getattr(caps, attr)):
            what = caps.class_name if caps else f"{ctx.pipeline_class}'s VAE"
            alt = "use decode_chunk_size=N (frames decoded at a time) instead" if takes_chunk else "leave it off"
            chunk = plan.decode_chunk_size if takes_chunk else None
            return Problem(
                f"{feature}=True: {what} does not support it; {alt}",
                fix={feature: False},
                note=f"{feature} off: {what} does not support it"
                + (f"; decode_chunk_size={chunk} instead" if chunk else ""),
            )
    if plan.decode_chunk_size and not takes_chunk:  # presets: "where the pipeline takes it"
        alt = "use vae_tiling=True" if caps and caps.tiling else "leave it unset"
        return Problem(
            f"decode_chunk_size: {ctx.pipeline_class} takes no decode_chunk_size; {alt}",
            fix={"decode_chunk_size": None},
        )
    return None


# ---- denoiser -----------------------------------------------------------------------------------
def forward_chunking(plan: MemoryPlan, ctx: Context) -> Problem | None:
    lacking = [c for c in ctx.denoiser_caps() if not c.forward_chunking] if plan.forward_chunking else []
    if lacking:  # presets: "UNet forward chunking", where the denoiser has it
        return Problem(
            f"forward_chunking: {lacking[0].class_name} has no feed-forward chunking (diffusers offers it "
            "for UNet3DConditionModel, I2VGenXLUNet and UNetSpatioTemporalConditionModel); use group "
            "offload or VAE tiling to save memory instead",
            fix={"forward_chunking": False},
        )
    return None


def compile_kind(plan: MemoryPlan, ctx: Context) -> Problem | None:
    """Regional compile needs `_repeated_blocks`; a preset falls back to whole-model compile on a GPU only:
    on a CPU that compiles for minutes (a tiny SVD UNet: 442 s), so a preset's compile goes off there."""
    lacking = [c for c in ctx.denoiser_caps() if not c.repeated_blocks] if plan.compile == "regional" else []
    if not lacking:
        return None
    name = lacking[0].class_name
    message = f"compile='regional': {name} declares no repeated blocks (_repeated_blocks); use compile='full'"
    if ctx.cuda:
        return Problem(
            message,
            fix={"compile": "full"},
            note=f"compile='full': {name} declares no repeated blocks for regional compile",
        )
    return Problem(
        message,
        fix={"compile": None, "compile_mode": None, "compile_fullgraph": False},
        note=f"compile off: {name} declares no repeated blocks, and compiling the whole model takes "
        "minutes on a CPU; give compile='full' to compile it anyway",
    )


def compile_options(plan: MemoryPlan, ctx: Context) -> Problem | None:
    if plan.compile_mode not in COMPILE_MODES:
        return Problem(f"compile_mode={plan.compile_mode!r}; use one of {', '.join(map(str, COMPILE_MODES))}")
    if plan.compile_mode and not plan.compile:
        return Problem("compile_mode is set but compile is None; set compile='regional' or 'full'")
    if plan.compile_mode in ("reduce-overhead", "max-autotune") and plan.placement != "none":
        return Problem(
            f"compile_mode={plan.compile_mode!r} records CUDA graphs, which offload hooks break; use "
            "compile_mode='max-autotune-no-cudagraphs' or placement='none'"
        )
    return None


def attention_backend(plan: MemoryPlan, ctx: Context) -> Problem | None:
    backend = plan.attention_backend
    if not backend:
        return None
    for caps in ctx.denoiser_caps():
        if caps.attention_backend == "none":
            return Problem(
                f"attention_backend={backend!r}: {caps.class_name}'s attention processors don't follow "
                "set_attention_backend (in diffusers it would silently do nothing); leave "
                "attention_backend unset"
            )
    if backend == "auto":  # resolved here, before load: the plan names the backend it runs
        chosen, why = fastest_backend(ctx.cuda)
        said = f"attention_backend 'auto' → {chosen!r} ({why})"
        return Problem(said, fix={"attention_backend": chosen}, note=said, refuse=False)
    from diffusers.models.attention_dispatch import AttentionBackendName, _check_attention_backend_requirements

    valid = [b.value for b in AttentionBackendName]
    if backend not in valid:
        return Problem(
            f"attention_backend={backend!r} is not a diffusers attention backend; use 'auto' or one of "
            f"{', '.join(valid)}"
        )
    if not ctx.cuda and backend not in CPU_ATTENTION_BACKENDS:
        where = "on Apple Silicon (MPS)" if ctx.mps else "on a CPU"
        return Problem(
            f"attention_backend={backend!r} needs a GPU (CUDA); {where} use one of {', '.join(CPU_ATTENTION_BACKENDS)}"
        )
    try:
        _check_attention_backend_requirements(AttentionBackendName(backend))
    except RuntimeError as exc:
        return Problem(f"attention_backend={backend!r}: {exc}", error=MissingDependencyError)
    partly = [c.class_name for c in ctx.denoiser_caps() if c.attention_backend == "some"]
    note = (
        (
            f"attention_backend={backend!r} reaches only part of {partly[0]}'s attention (some of its processors "
            "call torch's SDPA directly)"
        )
        if partly
        else None
    )
    if note and note not in plan.notes:
        return Problem(note, fix={}, note=note, refuse=False)
    return None


# ---- weights ------------------------------------------------------------------------------------
#: torchao's quantized tensors run on CUDA and CPU kernels only; quanto's int weights run on MPS too
MPS_QUANTIZATION = {"torchao-int8": "quanto-int8", "torchao-int4": "quanto-int4"}


def apple_silicon(plan: MemoryPlan, ctx: Context) -> Problem | None:
    """On MPS: no bitsandbytes (CUDA kernels), no torchao (its tensors have no MPS kernels: quanto's instead,
    fixed for presets), no float8 (MPS has no float8 dtypes: layerwise casting goes off for presets)."""
    if not ctx.mps:
        return None
    on = f"on Apple Silicon (device {ctx.device!r})"
    quant = plan.quantization or ""
    if quant.startswith("bnb"):
        return Problem(
            f"quantization={quant!r}: bitsandbytes quantizes with CUDA kernels, which don't run {on}; use "
            "quantization='quanto-int8' or 'quanto-int4'"
        )
    if quant.endswith("float8"):
        return Problem(
            f"quantization={quant!r}: MPS has no float8 dtypes, so float8 weights can't run {on}; use "
            "quantization='quanto-int8'"
        )
    if quant in MPS_QUANTIZATION:
        other = MPS_QUANTIZATION[quant]
        return Problem(
            f"quantization={quant!r}: torchao's quantized weights have no MPS kernels {on}; use quantization={other!r}",
            fix={"quantization": other},
            note=f"quantization={other!r}: torchao's quantized weights have no MPS kernels",
        )
    if plan.layerwise_casting:
        return Problem(
            f"layerwise_casting={plan.layerwise_casting!r}: MPS has no float8 dtypes to store weights in {on}; "
            "drop layerwise_casting, or save memory with quantization='quanto-int8'",
            fix={"layerwise_casting": None, "layerwise_components": ()},
            note="layerwise casting off: MPS has no float8 dtypes",
        )
    return None


def _missing(module: str, what: str) -> Problem | None:
    if importlib.util.find_spec(module) is None:
        return Problem(
            f"{what} needs {module.split('.')[-1]}: pip install 'videogen-diffusers[{EXTRA.get(module, 'quant')}]'",
            error=MissingDependencyError,
        )
    return None


def dtypes(plan: MemoryPlan, ctx: Context) -> Problem | None:
    names = ctx.names()
    for name, dtype in plan.dtypes:
        if name != "default" and name not in names:
            return Problem(
                f"dtypes: {ctx.pipeline_class} has no component {name!r}; its model components: "
                f"{', '.join(names)} (or 'default')"
            )
        if dtype not in ("float32", "float16", "bfloat16"):
            return Problem(
                f"dtypes: {name}={dtype!r}; use float32, float16 or bfloat16 (float8 storage is "
                "layerwise_casting='float8_e4m3fn')"
            )
    return None


def quantization(plan: MemoryPlan, ctx: Context) -> Problem | None:
    what = f"quantization={plan.quantization!r}"
    if not plan.quantization:
        return (
            Problem(
                "quantize_components without quantization; set quantization='torchao-int8' (or drop "
                "quantize_components)"
            )
            if plan.quantize_components
            else None
        )
    backend = plan.quantization.split("-", 1)[0]
    if backend == "bnb" and not ctx.cuda:
        return Problem(
            f"{what}: bitsandbytes quantizes on a GPU only; on a CPU use quantization='torchao-int8' or 'quanto-int8'"
        )
    if plan.quantization == "torchao-int4" and not ctx.cuda:  # diffusers warns and keeps every weight as it was
        return Problem(
            f"{what}: torchao's int4 weight-only kernels need a GPU (on a CPU it quantizes nothing); "
            "use quantization='torchao-int8' or 'quanto-int4'"
        )
    missing = _missing(QUANT_MODULES[backend], what)
    if missing:
        return missing
    names, vae = ctx.names(), ctx.first("vae")
    if not plan.quantize_components:  # the defaults leave out GGUF components
        return Problem(
            f"{what}: no component left to quantize (the GGUF ones are quantized already); drop "
            "quantization or name quantize_components"
        )
    for name in plan.quantize_components:
        if name not in names:
            return Problem(f"quantize_components: no component {name!r}; its model components: {', '.join(names)}")
        if vae is not None and name == vae.name:
            return Problem(
                "quantize_components: quantizing the VAE is not supported; quantize the denoiser and text encoders"
            )
    return None


def gguf(plan: MemoryPlan, ctx: Context) -> Problem | None:
    if not plan.gguf:
        return None
    missing = _missing("gguf", "a GGUF transformer")
    if missing:
        return missing
    for name, path in plan.gguf:
        caps = ctx.caps.get(name)
        if name not in ctx.names():
            return Problem(
                f"gguf: {ctx.pipeline_class} has no component {name!r}; give the denoiser's name "
                f"({', '.join(ctx.denoisers())})"
            )
        if caps is not None and not caps.single_file:
            return Problem(
                f"gguf: {caps.class_name} can't load a single file (from_single_file); use "
                "quantization='torchao-int8' instead"
            )
        if not (os.path.isfile(os.path.expanduser(path)) or path.startswith(("http://", "https://"))):
            return Problem(f"gguf: no file at {path!r}; give a local .gguf path")
        if name in plan.quantize_components:
            return Problem(f"gguf: {name} is both GGUF-quantized and in quantize_components; drop one")
    return None


def layerwise(plan: MemoryPlan, ctx: Context) -> Problem | None:
    if not plan.layerwise_casting:
        return (
            Problem(
                "layerwise_components without layerwise_casting; set layerwise_casting='float8_e4m3fn' "
                "(or drop layerwise_components)"
            )
            if plan.layerwise_components
            else None
        )
    names = ctx.names()
    for name in plan.layerwise_components:
        if name not in names:
            return Problem(f"layerwise_components: no component {name!r}; its model components: {', '.join(names)}")
        if name in plan.quantize_components or name in dict(plan.gguf):
            return Problem(f"layerwise_casting on {name}, which is also quantized; choose one")
    return None


#: the rules, in the order they run (placement first: its messages are the most useful)
RULES: tuple[Rule, ...] = (
    offload_needs_gpu,
    streams,
    disk_offload,
    components_known,
    offload_movable,
    vae_features,
    forward_chunking,
    compile_kind,
    compile_options,
    attention_backend,
    dtypes,
    apple_silicon,
    quantization,
    gguf,
    layerwise,
)


def resolve(plan: MemoryPlan, ctx: Context, fix: bool = False, refuse: bool = True) -> MemoryPlan:
    """The resolved plan: defaults filled, then every rule, fixed (`fix`: a preset) or refused (SpecError).

    `refuse=False` skips the rules that can't be fixed (to estimate a preset that can't run here).
    """
    return run_rules(defaults(plan, ctx), ctx, fix, refuse)
