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

from .plans import MemoryPlan

if TYPE_CHECKING:
    import torch

    from ..catalog import ModelCard

logger = logging.getLogger("videogen")


def load_key(plan: MemoryPlan) -> tuple:
    """The load-time part of the plan, hashable: part of the pipeline cache key."""
    return plan.load_part()


def dtypes_for(plan: MemoryPlan, card: ModelCard, device: str) -> dict[str, torch.dtype]:
    """`dtype` for from_pretrained: the card's on a GPU, float32 on a CPU, then the plan's overrides."""
    import torch

    from ..runtime import component_dtypes

    dtypes = dict(component_dtypes(card, device))
    for name, value in plan.dtypes:
        dtypes[name] = getattr(torch, value)
    return dtypes


def load_kwargs(plan: MemoryPlan, card: ModelCard, device: str) -> dict[str, Any]:
    """Keyword arguments for `from_pretrained`. Loads a GGUF denoiser here (called inside the loader)."""
    dtypes = dtypes_for(plan, card, device)
    kwargs: dict[str, Any] = {"dtype": dtypes}
    if plan.quantization:
        kwargs["quantization_config"] = pipeline_quantization(plan, dtypes)
    for name, path in plan.gguf:
        kwargs[name] = load_gguf(card, name, path, dtypes.get(name, dtypes.get("default")))
    return kwargs


def _quant_config(backend: str, kind: str, library: str, compute_dtype: torch.dtype) -> Any:
    """One component's quantization config, in the library (diffusers / transformers) that loads it."""
    import importlib

    lib = importlib.import_module(library)
    if backend == "torchao":
        from torchao import quantization as q

        base = {"int8": q.Int8WeightOnlyConfig(), "float8": q.Float8WeightOnlyConfig(),
                "int4": q.Int4WeightOnlyConfig()}[kind]
        return lib.TorchAoConfig(base)
    if backend == "quanto":
        if library == "diffusers":
            return lib.QuantoConfig(weights_dtype=kind)
        return lib.QuantoConfig(weights=kind)
    if kind == "4bit":  # bitsandbytes
        return lib.BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                      bnb_4bit_compute_dtype=compute_dtype)
    return lib.BitsAndBytesConfig(load_in_8bit=True)


def pipeline_quantization(plan: MemoryPlan, dtypes: dict[str, torch.dtype]) -> Any:
    """diffusers.PipelineQuantizationConfig(quant_mapping=...) for the plan's components."""
    from diffusers import PipelineQuantizationConfig

    from .components import role_of

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

    from .components import annotated_components, component_class

    family_classes = {c.name: c for c in _components_for(card)}
    comp = family_classes.get(name)
    if comp is None:
        comp = next(c for c in annotated_components(card.pipeline_class(card.tasks[0], _family(card)))
                    if c.name == name)
    cls = component_class(comp.class_name, comp.library)
    logger.info("loading %s from GGUF %s", name, path)
    return cls.from_single_file(
        os.path.expanduser(path), quantization_config=GGUFQuantizationConfig(compute_dtype=compute_dtype),
        config=_config_source(card), subfolder=name, torch_dtype=compute_dtype)


def _family(card: ModelCard) -> Any:
    from ..families import get_family

    return get_family(card.family)


def _components_for(card: ModelCard) -> list[Any]:
    from .components import pipeline_components

    comps, _ = pipeline_components(card, card.pipeline_class(card.tasks[0], _family(card)))
    return comps


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
