"""Context parallelism for one video on many GPUs (`VideoSpec.parallel`, docs/scale.md).

diffusers does the work: `ModelMixin.enable_parallelism` with a `ContextParallelConfig` splits the transformer's
sequence over the processes of a `torchrun` launch (Ulysses all-to-all and/or ring attention); every rank runs the
whole pipeline with the same seed and gets the same frames. This module refuses what can't work before any weight
loads (`check`), starts the process group once per process (`setup`), turns parallelism on for the denoisers right
after a load (`enable`) and says what ran (`record`). `spec.py` parses the setting (pure Python); nothing here imports
torch at import time.

Importing it is cheap (the CLI asks `is_main_process` before anything else): the checks import what they read.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...errors import SpecError

if TYPE_CHECKING:
    from ...families.base import Family
    from ...families.card import ModelCard
    from ...memory import MemoryPlan
    from ...memory.components import Component
    from ...spec.videospec import VideoSpec

logger = logging.getLogger("videogen")

#: attention backends diffusers 0.42.1 runs context-parallel (registered `supports_context_parallel=True`;
#: tests/speed/parallel/test_parallel.py compares this with diffusers' registry)
CONTEXT_PARALLEL_BACKENDS = (
    "native",
    "_native_cudnn",
    "_native_flash",
    "_native_npu",
    "flash",
    "flash_hub",
    "flash_varlen_hub",
    "_flash_3_hub",
    "_flash_3_varlen_hub",
    "sage",
    "sage_hub",
)
#: of those, the ones whose kernels return the log-sum-exp that ring attention merges partial results with
#: (diffusers' `native` and `_native_npu` refuse `return_lse=True`); all need a CUDA GPU
RING_BACKENDS = tuple(b for b in CONTEXT_PARALLEL_BACKENDS if b not in ("native", "_native_npu"))
#: transformer classes whose `_cp_plan` also splits the text sequence (`encoder_hidden_states`), and the call
#: argument that sets its length (a test compares this with the classes' plans)
SPLITS_TEXT = {
    "LTXVideoTransformer3DModel": "max_sequence_length",
    "LTX2VideoTransformer3DModel": "max_sequence_length",
}
#: transformer classes whose `_cp_plan` diffusers 0.42.1 can't run correctly with one kind of split, and why
#: (Ulysses on LTX runs, with the workaround in parallel_run.py: `ULYSSES_MASK_WORKAROUND`)
BROKEN_PLANS: dict[str, dict[str, str]] = {
    "LTXVideoTransformer3DModel": {
        "ring": "diffusers 0.42.1's ring attention applies each rank's slice of LTX's text mask to every rank's keys "
        "(wrong frames, from reading its ring template; huggingface/diffusers#14316); use ulysses=N"
    },
    # LTX-2 (tried with tiny-ltx2 on the CPU, Ulysses 2): the "split" rotary embedding's cos/sin aren't split with
    # the heads (a RuntimeError in apply_split_rotary_emb), and with "interleaved" ones the text mask meets the
    # split heads as LTX's does (#14316), for which videogen has no workaround on this transformer yet
    "LTX2VideoTransformer3DModel": {
        kind: "diffusers 0.42.1's context-parallel plan for LTX-2 fails under Ulysses (its split rotary embedding "
        "and its text mask don't follow the split heads: a RuntimeError, tried on the CPU), and ring attention shares "
        "its mask handling with LTX's (#14316); run it on one GPU"
        for kind in ("ulysses", "ring")
    },
}
#: pipelines whose call the transformer's `_cp_plan` doesn't cover, and why (tests/speed/parallel/test_parallel.py)
BROKEN_PIPELINES = {
    name: "it gives the transformer a timestep per token (the conditioning frames are less noisy), which LTX's "
    "context-parallel plan in diffusers 0.42.1 doesn't split (a RuntimeError, tried on the CPU); text-to-video "
    "(LTXPipeline) runs split"
    for name in ("LTXImageToVideoPipeline", "LTXConditionPipeline")
}
#: memory-plan placements that don't combine with context parallelism, and why (docs/scale.md)
PLACEMENT_REFUSALS = {
    "model": "diffusers' model CPU offload puts every rank's components on GPU 0 (its default gpu_id)",
    "sequential": "diffusers' sequential CPU offload puts every rank's components on GPU 0 (its default gpu_id)",
}
#: step caches that don't combine, and why: their hooks compare the transformer's whole input with its split
#: output (a RuntimeError on the tiny models: tests/speed/parallel/test_parallel.py), or are untested with it (dbcache).
#: TaylorSeer, PAB and FasterCache give the single-process frames exactly (CPU, tiny Wan, Ulysses 2).
CACHE_REFUSALS = {
    "fbc": "First Block Cache compares the first block's whole input with its split output (a RuntimeError)",
    "magcache": "MagCache compares the transformer's whole input with its split output (a RuntimeError)",
    "dbcache": "cache-dit's DBCache is untested with diffusers' context parallelism",
}
LAUNCH = "torchrun --nproc-per-node {n} -m videogen generate ... --parallel {text}"


def is_main_process() -> bool:
    """True on rank 0 of a torchrun launch, or when not launched distributed: the process that writes and prints."""
    rank = os.environ.get("RANK")
    try:
        return rank is None or int(rank) == 0
    except ValueError:
        return True


def degrees(setting: Mapping[str, int]) -> tuple[int, int]:
    """(ulysses, ring) of a parsed `VideoSpec.parallel`."""
    return int(setting["ulysses"]), int(setting["ring"])


def describe(setting: Mapping[str, int]) -> str:
    """The setting as the CLI writes it: "ulysses=2", "ring=2" or "ulysses=2,ring=2"."""
    return ",".join(f"{kind}={setting[kind]}" for kind in ("ulysses", "ring") if setting[kind] > 1)


def processes(setting: Mapping[str, int]) -> int:
    """How many processes (GPUs) the setting splits over: ulysses × ring."""
    ulysses, ring = degrees(setting)
    return ulysses * ring


def cache_part(setting: Mapping[str, int] | None) -> tuple[int, int] | None:
    """The setting's part of the pipeline cache key: a parallel pipeline is never reused for another setting."""
    return None if setting is None else degrees(setting)


# ---- checks before load ----------------------------------------------------------------------------


def _error(spec: VideoSpec, message: str, field: str = "parallel") -> SpecError:
    assert spec.parallel is not None
    return SpecError(f"parallel={describe(spec.parallel)!r}: {message}", field=field)


def check(spec: VideoSpec, card: ModelCard, family: Family, class_name: str, plan: MemoryPlan, device: str) -> None:
    """Refuse a parallel spec that can't run, before any weight loads: a family without a context-parallel plan,
    degrees that don't divide the heads or the sequence, ring attention without a backend that returns the
    log-sum-exp, a memory plan or step cache that doesn't combine. Pure: `videogen plan` runs it outside torchrun
    too; the launch itself is `check_launch`'s (just before the load)."""
    if spec.parallel is None:
        return
    if not family.context_parallel:
        raise _error(
            spec,
            f"model={card.name!r} is a {family.name} model, whose transformer declares no context-parallel plan "
            "in diffusers; context parallelism runs Wan and LTX models (e.g. model='wan2.1-t2v-1.3b'); leave "
            "parallel out to run this one on one GPU",
        )
    _check_broken(spec, card, class_name)
    _check_shapes(spec, card, class_name)
    _check_attention(spec, plan, device)
    _check_plan(spec, plan)


def _denoisers(card: ModelCard, class_name: str) -> tuple[list[Component], Component | None, str]:
    """The pipeline's denoiser components, its VAE and where that came from (stored configs or the folder)."""
    from ...memory.components import pipeline_components

    components, source = pipeline_components(card, class_name)
    vae = next((c for c in components if c.role == "vae"), None)
    return [c for c in components if c.role == "denoiser"], vae, source


def _check_broken(spec: VideoSpec, card: ModelCard, class_name: str) -> None:
    if class_name in BROKEN_PIPELINES:
        raise _error(
            spec, f"model={card.name!r} runs {class_name} for task={spec.task!r}, and {BROKEN_PIPELINES[class_name]}"
        )
    denoisers, _, _ = _denoisers(card, class_name)
    for den in denoisers:
        for kind, why in BROKEN_PLANS.get(den.class_name, {}).items():
            if spec.parallel is not None and spec.parallel[kind] > 1:
                raise _error(
                    spec, f"{kind}={spec.parallel[kind]}: model={card.name!r} runs {den.class_name}, and {why}"
                )


def _check_shapes(spec: VideoSpec, card: ModelCard, class_name: str) -> None:
    """Ulysses splits the attention heads; both kinds split the sequence (latent tokens, and LTX's text tokens)
    into equal parts (diffusers' `EquipartitionSharder`)."""
    from ...memory.activations import effective_config

    assert spec.parallel is not None
    ulysses, _ = degrees(spec.parallel)
    n = processes(spec.parallel)
    denoisers, vae, source = _denoisers(card, class_name)
    for den in denoisers:
        config = effective_config(den)
        heads = config.get("num_attention_heads")
        if not heads:
            logger.info("parallel: %s has no head count in %s; diffusers checks it when it runs", den.name, source)
            continue
        if int(heads) % ulysses:
            valid = [d for d in range(2, int(heads) + 1) if int(heads) % d == 0][:4]
            raise _error(
                spec,
                f"Ulysses attention splits the {heads} attention heads of {den.name} ({card.name}) over {ulysses} "
                f"GPUs, so the ulysses degree must divide {heads}: use ulysses="
                + (" or ".join(str(d) for d in valid) if valid else "1")
                + (" (or ring=N, which doesn't split heads)" if ulysses > 1 else ""),
            )
        tokens = _split_tokens(spec, config, vae)
        if tokens is not None and tokens % n:
            what = "tokens per latent frame" if spec.task == "conditioned" else "latent tokens"
            widths = (int(spec.width or 0) + k * card.size_multiple for k in range(1, 4 * n + 1))
            width = next((w for w in widths if (_split_tokens(spec.replace(width=w), config, vae) or 0) % n == 0), None)
            raise _error(
                spec,
                f"context parallelism splits the transformer's sequence into {n} equal parts, and height="
                f"{spec.height}, width={spec.width}, num_frames={spec.num_frames} give {tokens} {what}, not a "
                f"multiple of {n}; change the size"
                + (f" (e.g. width={width})" if width else "")
                + " or use fewer GPUs",
            )
        text_arg = SPLITS_TEXT.get(den.class_name)
        if text_arg:
            length = _text_tokens(spec, card, class_name, text_arg)
            if length is not None and length % n:
                raise _error(
                    spec,
                    f"{den.class_name} splits the text sequence too, and extra[{text_arg!r}]={length} is not a "
                    f"multiple of the {n} GPUs; use e.g. extra={{{text_arg!r}: {max(n, length // n * n)}}}",
                    field="extra",
                )


def _split_tokens(spec: VideoSpec, config: Mapping[str, Any], vae: Component | None) -> int | None:
    """The count that must divide evenly: the latent tokens, or per latent frame for LTX's conditioned task
    (conditions at later frames add whole latent frames of tokens); None where the sizes aren't known."""
    frame_tokens, frames = _latent_tokens(spec, config, vae)
    if frame_tokens is None:
        return None
    return frame_tokens if spec.task == "conditioned" else frame_tokens * frames


def _latent_tokens(spec: VideoSpec, config: Mapping[str, Any], vae: Component | None) -> tuple[int | None, int]:
    """(tokens per latent frame, latent frames) of the transformer's sequence for the spec's size."""
    if vae is None or not spec.height or not spec.width or not spec.num_frames:
        return None, 0
    spatial, temporal = _vae_factors(vae)
    patch = config.get("patch_size", 1)
    if isinstance(patch, (list, tuple)):
        pt, ph, pw = int(patch[0]), int(patch[-2]), int(patch[-1])
    else:
        pt, ph, pw = int(config.get("patch_size_t") or 1), int(patch), int(patch)
    frames = (int(spec.num_frames) - 1) // temporal + 1
    return (int(spec.height) // spatial // ph) * (int(spec.width) // spatial // pw), frames // pt


def _vae_factors(vae: Component) -> tuple[int, int]:
    """(spatial, temporal) compression as the pipeline computes it: LTX's VAE from its patch and scaling layers
    (the class's own formula), the others as memory planning reads them."""
    from ...memory.activations import effective_config, vae_factors

    if vae.class_name == "AutoencoderKLLTXVideo":
        config = effective_config(vae)
        scaled = sum(bool(s) for s in config.get("spatio_temporal_scaling") or ())
        spatial = config.get("spatial_compression_ratio") or int(config.get("patch_size") or 1) * 2**scaled
        temporal = config.get("temporal_compression_ratio") or int(config.get("patch_size_t") or 1) * 2**scaled
        return int(spatial), int(temporal)
    return vae_factors(vae)


def _text_tokens(spec: VideoSpec, card: ModelCard, class_name: str, arg: str) -> int | None:
    """The length the pipeline pads the prompt to: the spec's extra, the card's default, else the call's."""
    for source in (spec.extra, card.call_defaults):
        if arg in source:
            try:
                return int(source[arg])
            except (TypeError, ValueError):
                return None
    from ...catalog.signatures import pipeline_signature

    default = pipeline_signature(class_name).params.get(arg, {}).get("default")
    try:
        return int(default) if default is not None else None
    except ValueError:
        return None


def _check_attention(spec: VideoSpec, plan: MemoryPlan, device: str) -> None:
    """The attention backend must run context-parallel; ring attention needs one that returns the log-sum-exp."""
    assert spec.parallel is not None
    _, ring = degrees(spec.parallel)
    backend = plan.attention_backend or "native"
    cuda = device.startswith("cuda")
    if backend not in CONTEXT_PARALLEL_BACKENDS:
        raise _error(
            spec,
            f"memory plan {plan.name!r} uses attention_backend={backend!r}, which diffusers can't run "
            f"context-parallel; use one of {', '.join(CONTEXT_PARALLEL_BACKENDS)} (e.g. memory="
            "{'attention_backend': 'native'})",
            field="memory",
        )
    if ring > 1 and backend not in RING_BACKENDS:
        where = (
            f"memory={{'attention_backend': 'flash'}} (or one of {', '.join(RING_BACKENDS)})"
            if cuda
            else "a GPU: none of those runs on the CPU"
        )
        raise _error(
            spec,
            f"ring attention merges partial results with their log-sum-exp, which attention_backend={backend!r} "
            f"doesn't return; the backends that do ({', '.join(RING_BACKENDS)}) need {where}. Or use "
            f"ulysses={processes(spec.parallel)} instead of ring",
        )


def _check_plan(spec: VideoSpec, plan: MemoryPlan) -> None:
    """Memory plans and step caches that don't combine with context parallelism (tried on the tiny models under
    torchrun on the CPU: docs/scale.md has the table)."""
    why = PLACEMENT_REFUSALS.get(plan.placement)
    if why:
        raise _error(
            spec,
            f"memory plan {plan.name!r} offloads with placement={plan.placement!r}, which doesn't combine with "
            f"parallel: {why}. Use memory='none' (each GPU holds the whole pipeline), 'low' (group offload) or "
            "quantization, or leave parallel out",
            field="memory",
        )
    if plan.compile and plan.compile_fullgraph:
        raise _error(
            spec,
            f"memory plan {plan.name!r} compiles with compile_fullgraph=True, which doesn't combine with "
            "parallel: torch.compile can't trace the context-parallel hooks in one graph; use "
            "memory={'compile': 'regional'} (no fullgraph), which does",
            field="memory",
        )
    method = spec.cache.get("method") if isinstance(spec.cache, Mapping) else spec.cache
    if isinstance(method, str) and method in CACHE_REFUSALS:
        raise _error(
            spec,
            f"cache {method!r} doesn't combine with parallel: {CACHE_REFUSALS[method]}; use cache='taylorseer', "
            "'pab' or 'fastercache', or leave cache out",
            field="cache",
        )


def check_launch(spec: VideoSpec, device: str) -> None:
    """One process per GPU of the setting, started by torchrun (which sets RANK, WORLD_SIZE, LOCAL_RANK)."""
    if spec.parallel is None:
        return
    n = processes(spec.parallel)
    command = LAUNCH.format(n=n, text=describe(spec.parallel))
    world = os.environ.get("WORLD_SIZE")
    if world is None or os.environ.get("RANK") is None:
        raise _error(
            spec,
            f"splitting one video over {n} GPUs takes {n} processes started together: run `{command}` "
            "(or your script under `torchrun --nproc-per-node "
            f"{n} script.py`); leave parallel out for one process",
        )
    if not world.isdigit() or int(world) != n:
        raise _error(
            spec,
            f"the launch has WORLD_SIZE={world} processes but ulysses × ring = {n}; start {n} processes "
            f"(`{command}`) or set the degrees so their product is {world}",
        )
    if device.startswith("cuda:"):
        raise _error(
            spec,
            f"VIDEOGEN_DEVICE={device!r} pins every rank to one GPU; leave it unset (or 'cuda'): each rank takes "
            "the GPU of its LOCAL_RANK",
        )
