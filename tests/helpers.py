"""Test helpers: the direct diffusers call videogen must match, and frame comparisons."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np


@functools.lru_cache(maxsize=8)
def direct_pipeline(pipeline_class: str, folder: str | Path) -> Any:
    """`pipeline_class` loaded from `folder` with a plain `from_pretrained` (float32 on a CPU).

    Cached: a pipeline call leaves nothing behind that changes the next one (videogen's own cache relies on
    the same), and loading is most of a tiny call's time."""
    import diffusers

    pipe = getattr(diffusers, pipeline_class).from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@functools.lru_cache(maxsize=2)
def framepack_docs_pipeline(folder: str | Path, transformer_folder: str) -> Any:
    """A FramePack pipeline put together as the diffusers docs do: the HunyuanVideo base from `folder`, the
    transformer from `folder/transformer_folder`, SigLIP from `folder/flux_redux_bfl` (the tiny folder lays
    the parts out like the real repos)."""
    import diffusers
    from transformers import SiglipImageProcessor, SiglipVisionModel

    folder = Path(folder)
    redux = folder / "flux_redux_bfl"
    transformer = diffusers.HunyuanVideoFramepackTransformer3DModel.from_pretrained(folder / transformer_folder)
    pipe = diffusers.HunyuanVideoFramepackPipeline.from_pretrained(
        folder,
        transformer=transformer,
        feature_extractor=SiglipImageProcessor.from_pretrained(redux, subfolder="feature_extractor"),
        image_encoder=SiglipVisionModel.from_pretrained(redux, subfolder="image_encoder"),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def run_direct(pipe: Any, seed: int, trim: int | None = None, **kwargs: Any) -> np.ndarray:
    """What `pipe` returns when called directly: uint8 T×H×W×3.

    Seeds the global RNG and a CPU generator with `seed`, asks for numpy output and rounds as diffusers'
    own `numpy_to_pil` does.
    """
    import torch

    torch.manual_seed(seed)
    generator = torch.Generator("cpu").manual_seed(seed)
    out = pipe(**kwargs, generator=generator, output_type="np")
    frames = np.asarray(out.frames[0])
    if trim is not None:
        frames = frames[:trim]
    return (np.clip(frames, 0, 1) * 255).round().astype(np.uint8)


def direct_frames(pipeline_class: str, folder: Any, seed: int, trim: int | None = None, **kwargs: Any) -> np.ndarray:
    """What the diffusers pipeline `pipeline_class` in `folder` returns when called directly (`run_direct`)."""
    return run_direct(direct_pipeline(pipeline_class, str(folder)), seed, trim, **kwargs)


def assert_frames_close(actual: np.ndarray, expected: np.ndarray, levels: int = 1, context: str = "") -> None:
    """Same shape, uint8, and no pixel differs by more than `levels` 8-bit levels."""
    assert actual.dtype == np.uint8 and expected.dtype == np.uint8
    assert actual.shape == expected.shape, (actual.shape, expected.shape, context)
    diff = np.abs(actual.astype(np.int16) - expected.astype(np.int16)).max()
    assert diff <= levels, f"frames differ by up to {diff} levels (allowed {levels}){context}"


def image(h: int = 32, w: int = 32, seed: int = 0) -> np.ndarray:
    """A smooth, seeded test image (uint8 H×W×3)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / max(w - 1, 1), y * 255 / max(h - 1, 1), np.full((h, w), 128.0)], -1)
    return np.clip(base + rng.normal(0, 8, (h, w, 3)), 0, 255).astype(np.uint8)


def video(t: int = 9, h: int = 32, w: int = 32) -> np.ndarray:
    return np.stack([np.roll(image(h, w), shift=i, axis=1) for i in range(t)])


def in_place(pipe: Any) -> dict[str, dict[str, Any]]:
    """What is really in place on each component, read from its hooks and attributes."""
    import torch
    from diffusers.hooks.group_offloading import _is_group_offload_enabled

    from videogen.memory.apply import modules

    out: dict[str, dict[str, Any]] = {}
    for name, module in modules(pipe).items():
        hooks: set[str] = set()
        for sub in module.modules():
            reg = getattr(sub, "_diffusers_hook", None)
            if reg is not None:
                hooks.update(reg.hooks)
        info: dict[str, Any] = {
            "group_offload": _is_group_offload_enabled(module),
            "accelerate_hook": any(hasattr(sub, "_hf_hook") for sub in module.modules()),
            "layerwise_casting": "layerwise_casting" in hooks,
            "hooks": sorted(hooks),
            "dtypes": sorted({str(p.dtype).removeprefix("torch.") for p in module.parameters()}),
            "devices": sorted({p.device.type for p in module.parameters()}),
            "compiled": sum(getattr(sub, "_compiled_call_impl", None) is not None for sub in module.modules()),
            "forward_chunking": any(getattr(sub, "_chunk_size", None) for sub in module.modules()),
            "tiling": bool(getattr(module, "use_tiling", False)),
            "slicing": bool(getattr(module, "use_slicing", False)),
            # the weights themselves: torchao / quanto / GGUF tensors are Parameter subclasses or wrappers
            "quantized": any(type(p) is not torch.nn.Parameter for p in module.parameters()),
        }
        backends = set()
        for sub in module.modules():
            proc = getattr(sub, "processor", None)
            if proc is not None and hasattr(proc, "_attention_backend"):
                backends.add(str(getattr(proc._attention_backend, "value", proc._attention_backend)))
        info["attention_backends"] = sorted(backends)
        out[name] = info
    return out
