"""The load-time part of a plan: `from_pretrained` keyword arguments (dtypes, quantization, GGUF).

Quantization goes through diffusers' `PipelineQuantizationConfig(quant_mapping=...)` with one config per
component (diffusers' config for diffusers models, transformers' for text encoders); the
`quant_backend=` form fails on transformers 5. GGUF denoisers load with `from_single_file`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import VideoGenError
from .plans import MemoryPlan

if TYPE_CHECKING:
    import torch

    from ..catalog.lookup import ModelCard

logger = logging.getLogger("videogen")


def load_key(plan: MemoryPlan) -> tuple:
    """The load-time part of the plan, hashable: part of the pipeline cache key."""
    return plan.load_part()


def load_kwargs(plan: MemoryPlan, card: ModelCard, device: str) -> dict[str, Any]:
    """Keyword arguments for `from_pretrained` under a resolved plan (resolve.py). Loads a GGUF denoiser here
    (called inside the loader)."""
    from ..runtime.devices import component_dtypes, torch_dtypes

    dtypes = torch_dtypes(component_dtypes(card, device, plan))
    kwargs: dict[str, Any] = {"dtype": dtypes}
    if plan.quantization:
        kwargs["quantization_config"] = pipeline_quantization(plan, dtypes)
    for name, path in plan.gguf:
        kwargs[name] = load_gguf(card, name, path, dtypes.get(name, dtypes["default"]))
    return kwargs


def _quant_config(backend: str, kind: str, library: str, compute_dtype: torch.dtype) -> Any:
    """One component's quantization config, in the library (diffusers / transformers) that loads it."""
    import importlib

    lib = importlib.import_module(library)
    if backend == "torchao":
        from torchao import quantization as q

        base = {
            "int8": q.Int8WeightOnlyConfig(),
            "float8": q.Float8WeightOnlyConfig(),
            "int4": q.Int4WeightOnlyConfig(),
        }[kind]
        return lib.TorchAoConfig(base)
    if backend == "quanto":
        if library == "diffusers":
            return lib.QuantoConfig(weights_dtype=kind)
        return lib.QuantoConfig(weights=kind)
    if kind == "4bit":  # bitsandbytes
        return lib.BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute_dtype
        )
    return lib.BitsAndBytesConfig(load_in_8bit=True)


def pipeline_quantization(plan: MemoryPlan, dtypes: dict[str, torch.dtype]) -> Any:
    """diffusers.PipelineQuantizationConfig(quant_mapping=...) for the plan's components."""
    from diffusers import PipelineQuantizationConfig

    from .components import role_of

    if not plan.quantize_components:  # never a silent no-op: a plan reaches here resolved (defaults filled)
        raise VideoGenError(
            f"videogen: quantization={plan.quantization!r} names no components; resolve the plan first (memory.resolve)"
        )
    assert plan.quantization is not None  # load_kwargs calls this for a plan with a quantization only
    backend, kind = plan.quantization.split("-", 1)
    mapping = {}
    for name in plan.quantize_components:
        library = "transformers" if role_of(name) in ("text_encoder", "image_encoder") else "diffusers"
        mapping[name] = _quant_config(backend, kind, library, dtypes.get(name, dtypes["default"]))
    return PipelineQuantizationConfig(quant_mapping=mapping)


def _config_source(card: ModelCard) -> str:
    """Where a single-file model reads its config: the pipeline folder or Hub repo of the card."""
    if card.tiny:
        from ..testing import tiny_folder

        return str(tiny_folder(card.family, card.tiny))
    return card.path or card.repo or card.name


def load_gguf(card: ModelCard, name: str, path: str, compute_dtype: torch.dtype) -> Any:
    """Component `name` from a GGUF file (diffusers-format tensor names), quantized weights kept."""
    from diffusers import GGUFQuantizationConfig

    from ..families import get_family
    from .components import component_class, pipeline_components

    components, _ = pipeline_components(card, card.pipeline_class(card.tasks[0], get_family(card.family)))
    comp = next(c for c in components if c.name == name)
    logger.info("loading %s from GGUF %s", name, path)
    return component_class(comp.class_name, comp.library).from_single_file(
        os.path.expanduser(path),
        quantization_config=GGUFQuantizationConfig(compute_dtype=compute_dtype),
        config=_config_source(card),
        subfolder=name,
        torch_dtype=compute_dtype,
    )


def write_gguf(model: Any, path: str | os.PathLike, qtype: str = "Q8_0") -> Path:
    """Write `model`'s state dict (diffusers tensor names) to a GGUF file, for `MemoryPlan(gguf=...)`.

    2-D weights whose last dimension is a multiple of the block size are quantized with `qtype`; the rest
    stay float32 (what diffusers' GGUF loader expects).
    """
    import gguf
    import numpy as np

    quant = getattr(gguf.GGMLQuantizationType, qtype)
    block = gguf.GGML_QUANT_SIZES[quant][0]
    writer = gguf.GGUFWriter(str(path), arch="videogen")
    for key, tensor in model.state_dict().items():
        data = tensor.detach().float().cpu().numpy()
        if data.ndim == 2 and data.shape[-1] % block == 0:
            writer.add_tensor(key, gguf.quantize(data, quant), raw_dtype=quant)
        else:
            writer.add_tensor(key, np.ascontiguousarray(data, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(path)
