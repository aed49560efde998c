"""The presets, by name, the same for every family, and their table in docs/memory.md (`markdown`).

A preset is a MemoryPlan template: resolving it against a family and a machine keeps what the
components support and notes what it changed (`MemoryPlan.notes`), e.g. CUDA streams only on a GPU,
`decode_chunk_size` where the VAE can't tile.
"""

from __future__ import annotations

from typing import Any

from ..errors import SpecError
from .plans import MemoryPlan

_OFFLOADED_TEXT = {"text_encoder": "block_level", "text_encoder_2": "block_level"}

PRESETS: dict[str, MemoryPlan] = {
    "none": MemoryPlan(name="none"),
    "fast": MemoryPlan(name="fast", compile="regional", compile_fullgraph=True),
    "balanced": MemoryPlan(name="balanced", placement="model", vae_tiling=True, decode_chunk_size=8),
    "low": MemoryPlan(
        name="low",
        placement="group",
        offload_type="block_level",
        blocks_per_group=1,
        use_stream=True,
        record_stream=True,
        components={
            "transformer": "block_level",
            "transformer_2": "block_level",
            "unet": "block_level",
            **_OFFLOADED_TEXT,
            "vae": "resident",
            "image_encoder": "resident",
        },
        vae_tiling=True,
        vae_slicing=True,
        decode_chunk_size=4,
    ),
    "minimal": MemoryPlan(
        name="minimal",
        placement="group",
        offload_type="leaf_level",
        use_stream=True,
        record_stream=True,
        low_cpu_mem_usage=True,
        components={
            "transformer": "leaf_level",
            "transformer_2": "leaf_level",
            "unet": "leaf_level",
            "text_encoder": "leaf_level",
            "text_encoder_2": "leaf_level",
            "image_encoder": "block_level",
            "vae": "resident",
        },
        vae_tiling=True,
        vae_slicing=True,
        decode_chunk_size=1,
        forward_chunking=True,
    ),
}
PRESETS["low-fp8"] = PRESETS["low"].replace(name="low-fp8", layerwise_casting="float8_e4m3fn")
PRESETS["int8"] = MemoryPlan(name="int8", quantization="torchao-int8")
PRESETS["nf4"] = MemoryPlan(name="nf4", quantization="bnb-4bit")

#: lossless presets, least to most frugal: what `auto` chooses from and OOM retries walk down
LADDER: tuple[str, ...] = ("none", "balanced", "low", "minimal")
#: the next more frugal preset after each one (for OOM retries)
FALLBACK: dict[str, str] = {
    "none": "balanced",
    "fast": "balanced",
    "balanced": "low",
    "low": "minimal",
    "low-fp8": "minimal",
    "int8": "low",
    "nf4": "low",
}

#: preset → (what it does, where it runs, its frames beside `none`): the table in docs/memory.md (`markdown`)
DOCS: dict[str, tuple[str, str, str]] = {
    "none": ("Everything resident on the device; no hooks. Fastest, most memory.", "GPU, CPU", "reference"),
    "fast": (
        "`none` + regional `torch.compile` of the denoiser's repeated blocks "
        "(`compile_repeated_blocks(fullgraph=True)`). Where the class declares no repeated blocks (CogVideoX, "
        "FramePack, the UNets) it compiles the whole denoiser on a GPU and nothing on a CPU, where that takes "
        'minutes (the plan\'s notes say so; `compile="full"` asks for it anyway). Same memory; faster steps '
        "after a compile warm-up.",
        "GPU, CPU",
        "same",
    ),
    "balanced": (
        "Model CPU offload (`enable_model_cpu_offload`: one component on the GPU at a time) + VAE tiling; "
        "`decode_chunk_size=8` for pipelines that take it (SVD, I2VGen-XL).",
        "GPU only",
        "same",
    ),
    "low": (
        "Group offload (`enable_group_offload`), block level, one block per group, CUDA streams with "
        "`record_stream`: denoisers and text encoders stream from RAM; VAE and image encoder resident. VAE "
        "tiling + slicing; `decode_chunk_size=4` where taken.",
        "GPU (CPU: without streams)",
        "same",
    ),
    "minimal": (
        "Group offload, leaf level, streams + `low_cpu_mem_usage`: everything but the VAE streams from RAM. "
        "VAE tiling + slicing, `decode_chunk_size=1`, UNet forward chunking.",
        "GPU (CPU: without streams)",
        "same*",
    ),
    "low-fp8": (
        "`low` + layerwise casting (`enable_layerwise_casting`): denoiser weights stored in `float8_e4m3fn`, "
        "computed in the card's dtype.",
        "GPU, CPU",
        "lossy",
    ),
    "int8": (
        "torchao int8 weight-only quantization of the denoisers and text encoders at load "
        "(`PipelineQuantizationConfig(quant_mapping=...)`); everything resident. Needs "
        "`videogen-diffusers[quant]`.",
        "GPU, CPU",
        "lossy",
    ),
    "nf4": (
        "bitsandbytes 4-bit NF4 quantization of the denoisers and text encoders at load; everything resident. "
        "Needs `videogen-diffusers[bnb]`.",
        "GPU only",
        "lossy",
    ),
    "auto": (
        "Searches the plan space (each placement × weights × text encoders resident or streamed × VAE tiling; "
        "the presets among them) and takes the fastest predicted plan that fits the GPU with a margin of "
        "max(1 GiB, 10 % of the GPU) and the RAM (offloaded weights within 90 % of it), lossless first, then "
        "8-bit, then 4-bit weights (`quality`); retries once with the next preset on an out-of-memory error. "
        "On a CPU: `none`.",
        "GPU, CPU",
        "lossless where one fits",
    ),
}


def markdown() -> str:
    """The presets table of docs/memory.md (tests/memory/test_plans.py keeps the two in sync)."""
    rows = ["| preset | what it does | runs on | frames |", "|---|---|---|---|"]
    rows += [f"| `{name}` | {what} | {where} | {frames} |" for name, (what, where, frames) in DOCS.items()]
    return "\n".join(rows)


def preset(name: str, **overrides: Any) -> MemoryPlan:
    """The preset `name`, with some fields changed (e.g. `preset("low", oom_retry=True)`)."""
    if name not in PRESETS:
        from .points import point

        found = point(name)
        if found is not None:
            return found.replace(**overrides) if overrides else found
        import difflib

        close = difflib.get_close_matches(str(name), list(PRESETS) + ["auto"], n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise SpecError(
            f"memory={name!r} is not a preset; {hint}use one of {', '.join(list(PRESETS) + ['auto'])}, "
            "or a videogen.MemoryPlan (see `videogen plan` and docs/memory.md)",
            field="memory",
            valid=tuple(PRESETS) + ("auto",),
        )
    plan = PRESETS[name]
    return plan.replace(**overrides) if overrides else plan
