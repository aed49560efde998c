"""A pipeline's components before any weight loads, and what each component class supports.

Components come from, in order: the stored full-size architecture (`configs/<card.arch>.json`), the
`model_index.json` of a local (or already built tiny) pipeline folder, and the pipeline class's
`__init__` annotations (classes only). Capabilities are probed from the class itself, built with its
default config on the meta device (no memory, no weights): nothing here is a list of families.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..families.archs import CONFIG_DIR, arch_config  # noqa: F401 - CONFIG_DIR: tests/memory/test_report.py
from . import stored
from .plans import DENOISERS, TEXT_ENCODERS

if TYPE_CHECKING:
    from ..catalog.lookup import ModelCard

logger = logging.getLogger("videogen")


@dataclass(frozen=True)
class Component:
    """One model component of a pipeline: its class and, when known, its config."""

    name: str
    class_name: str
    library: str  # "diffusers" or "transformers"
    config: Mapping[str, Any] | None = None
    #: a folder holding its weights (safetensors headers give exact sizes)
    folder: str | None = None

    @property
    def role(self) -> str:
        return role_of(self.name)


def role_of(name: str) -> str:
    """ "denoiser", "text_encoder", "vae", "image_encoder" or "other", from diffusers' component names."""
    if name in DENOISERS:
        return "denoiser"
    if name in TEXT_ENCODERS or name.startswith("text_encoder"):
        return "text_encoder"
    if name == "vae":
        return "vae"
    if name.startswith("image_encoder"):
        return "image_encoder"
    return "other"


def default_quantized(names: list[str]) -> list[str]:
    """The components a plan's quantization applies to unless it lists them: denoisers and text encoders."""
    return [n for n in names if role_of(n) in ("denoiser", "text_encoder")]


def layerwise_targets(names: list[str]) -> list[str]:
    """The components a plan's layerwise casting applies to unless it lists them: the denoisers."""
    return [n for n in names if role_of(n) == "denoiser"]


def _library_of(module_name: str) -> str:
    return "transformers" if module_name.startswith("transformers") else "diffusers"


def annotated_components(pipeline_class: str) -> tuple[Component, ...]:
    """Model components named in the pipeline class's `__init__` annotations (class only): stored
    (memory/stored.py), else read from the class."""
    found = stored.pipeline_field(pipeline_class, "components")
    if found is not None:
        return tuple(Component(name, class_name, library) for name, class_name, library in found)
    live = live_annotated_components(pipeline_class)
    stored.remember("pipelines", pipeline_class, [[c.name, c.class_name, c.library] for c in live], "components")
    return live


@cache
def live_annotated_components(pipeline_class: str) -> tuple[Component, ...]:
    import typing

    import torch

    from ..runtime.lock import diffusers_attr

    cls = diffusers_attr(pipeline_class)
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to the raw ones
        hints = dict(getattr(cls.__init__, "__annotations__", {}))
    out = []
    for name, hint in hints.items():
        for candidate in typing.get_args(hint) or (hint,):
            if isinstance(candidate, type) and issubclass(candidate, torch.nn.Module):
                out.append(Component(name, candidate.__name__, _library_of(candidate.__module__)))
                break
    return tuple(out)


def folder_components(folder: Path, pipeline_class: str | None = None) -> tuple[Component, ...] | None:
    """Model components listed in a pipeline folder's model_index.json, with their configs.

    When the folder holds another pipeline class than `pipeline_class` (a pipeline assembled from
    several repos, e.g. FramePack over a HunyuanVideo folder), components the class's annotations
    name differently are looked up by class in the folder's subfolders.
    """
    index_file = folder / "model_index.json"
    if not index_file.is_file():
        return None
    index = json.loads(index_file.read_text())
    found: dict[str, Component] = {}
    for name, value in index.items():
        if name.startswith("_") or not isinstance(value, list) or len(value) != 2 or value[0] is None:
            continue
        library, class_name = value
        if library not in ("diffusers", "transformers") and _is_pipeline_library(library):
            library = "diffusers"  # a pipeline's own class (["ltx2", "LTX2Vocoder"]): `component_class` finds it
        config_file = folder / name / "config.json"
        if library not in ("diffusers", "transformers") or not config_file.is_file():
            continue
        if class_name.endswith(("Scheduler", "Tokenizer", "TokenizerFast", "Processor", "ImageProcessor")):
            continue
        found[name] = Component(name, class_name, library, json.loads(config_file.read_text()), str(folder / name))
    if pipeline_class and index.get("_class_name") != pipeline_class:
        for wanted in annotated_components(pipeline_class):
            have = found.get(wanted.name)
            if (have is None and wanted.name in index) or (have and have.class_name == wanted.class_name):
                continue  # listed as absent, or the same class
            config, where = _config_by_class(folder, wanted.class_name)
            found[wanted.name] = Component(wanted.name, wanted.class_name, wanted.library, config, where)
    return tuple(found.values())


def _is_pipeline_library(library: str) -> bool:
    """Whether a model_index.json library is a `diffusers.pipelines` package (no import)."""
    import importlib.util

    spec = importlib.util.find_spec("diffusers")
    roots = list(spec.submodule_search_locations or ()) if spec is not None else []
    return library.isidentifier() and any(Path(root, "pipelines", library, "__init__.py").is_file() for root in roots)


def _config_by_class(folder: Path, class_name: str) -> tuple[dict[str, Any] | None, str | None]:
    """The first config.json under `folder` (two levels deep) written for `class_name`."""
    for path in sorted(folder.glob("*/config.json")) + sorted(folder.glob("*/*/config.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if data.get("_class_name") == class_name or class_name in (data.get("architectures") or []):
            return data, str(path.parent)
    return None, None


def hub_cache_folder(repo: str, revision: str | None) -> Path | None:
    """The Hub cache's snapshot of `repo` when its model_index.json is already there (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo, "model_index.json", revision=revision)
    except Exception:  # noqa: BLE001 - any failure means: not cached
        return None
    return Path(found).parent if isinstance(found, str) else None


def pipeline_components(card: ModelCard, pipeline_class: str) -> tuple[list[Component], str]:
    """The model components of `card` run by `pipeline_class`, and where that knowledge came from."""
    arch = arch_config(card.arch)
    if arch is not None:
        parts = {**arch["components"], **arch.get("by_pipeline", {}).get(pipeline_class, {})}
        taken = {c.name for c in annotated_components(pipeline_class)}  # e.g. V2V takes no transformer_2
        comps = [Component(n, c["class"], c["library"], c["config"]) for n, c in parts.items() if n in taken]
        return comps, f"stored architecture configs/{card.arch}.json"
    folder = pipeline_folder(card)
    if folder is not None:
        found = folder_components(folder, pipeline_class)
        if found:
            return list(found), f"pipeline folder {folder}"
    return list(annotated_components(pipeline_class)), f"{pipeline_class} annotations (classes only, no sizes)"


def pipeline_folder(card: ModelCard) -> Path | None:
    """The local folder of `card`'s pipeline: its path, its tiny build, or its Hub cache snapshot."""
    if card.tiny:  # built offline in seconds; generate builds it next anyway
        from ..testing import tiny_folder

        return tiny_folder(card.family, card.tiny)
    if card.path:
        return Path(card.path)
    return hub_cache_folder(card.repo, card.revision) if card.repo else None


def pipeline_settings(card: ModelCard) -> dict[str, Any]:
    """The pipeline's own registered settings (Wan 2.2's boundary_ratio, expand_timesteps): from the
    stored architecture, else from the non-component entries of the folder's model_index.json."""
    arch = arch_config(card.arch)
    if arch is not None:
        return dict(arch.get("pipeline_config") or {})
    folder = pipeline_folder(card) if card.arch is None else None
    try:
        index = json.loads((folder / "model_index.json").read_text()) if folder else {}
    except (OSError, ValueError):
        return {}
    return {
        k: v
        for k, v in index.items()
        if not k.startswith("_")
        and not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, (str, type(None))) for x in v))
    }


# ---- capabilities -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Capabilities:
    """What one component class supports, probed on the meta device."""

    class_name: str
    tiling: bool = False
    slicing: bool = False
    forward_chunking: bool = False
    repeated_blocks: tuple[str, ...] = ()
    group_offload: bool = True
    #: "all", "some" or "none" of its attention processors follow `set_attention_backend`
    attention_backend: str = "none"
    #: holds torch.nn.MultiheadAttention, whose weights group/sequential offload leave on the CPU
    multihead_attention: bool = False
    single_file: bool = False


def component_class(class_name: str, library: str) -> Any:
    """The diffusers or transformers model class called `class_name` (Any: looked up by name at run time).

    A diffusers class that only a pipeline's own package exports (LTX-2's `LTX2TextConnectors` and `LTX2Vocoder`
    live in `diffusers.pipelines.ltx2`) is found in that package (`pipeline_package`)."""
    from ..runtime.lock import module_attr

    found = module_attr(library, class_name, None)
    package = pipeline_package(class_name) if found is None and library == "diffusers" else None
    if package is not None:
        found = module_attr(package, class_name, None)
    if found is None:
        raise AttributeError(f"{library} has no model class {class_name!r} (nor any diffusers.pipelines package)")
    return found


@cache
def pipeline_package(class_name: str) -> str | None:
    """The `diffusers.pipelines.<name>` package whose lazy exports name `class_name`, read from the packages'
    `__init__.py` text (importing them all would take seconds); None if none does."""
    import importlib.util

    spec = importlib.util.find_spec("diffusers")
    roots = list(spec.submodule_search_locations or ()) if spec is not None else []
    quoted = (f'"{class_name}"', f"'{class_name}'")
    for root in roots:
        for init in sorted(Path(root, "pipelines").glob("*/__init__.py")):
            try:
                text = init.read_text(encoding="utf-8")
            except OSError:
                continue
            if any(q in text for q in quoted):
                return f"diffusers.pipelines.{init.parent.name}"
    return None


def capabilities(class_name: str, library: str) -> Capabilities:
    """What `class_name` supports: stored (memory/stored.py), else probed (`probe_capabilities`)."""
    found = stored.capabilities(class_name, library)
    if found is not None:
        return Capabilities(**{**found, "repeated_blocks": tuple(found["repeated_blocks"])})
    probed = probe_capabilities(class_name, library)
    stored.remember("classes", class_name, dataclasses.asdict(probed), "capabilities", library)
    return probed


@cache
def probe_capabilities(class_name: str, library: str) -> Capabilities:
    """Probe `class_name`, built with its default config on the meta device (a class that needs arguments is
    judged from the class alone)."""
    import torch
    from diffusers.loaders.single_file_model import SINGLE_FILE_LOADABLE_CLASSES
    from diffusers.models.attention import AttentionModuleMixin
    from diffusers.models.attention_processor import Attention

    cls = component_class(class_name, library)
    try:
        with torch.device("meta"):
            modules = list((cls() if library == "diffusers" else cls(cls.config_class())).modules())
    except Exception as exc:  # noqa: BLE001 - any failure: no instance to look into
        logger.debug("capability probe of %s on meta failed: %s", class_name, exc)
        modules = []
    flags = [
        hasattr(getattr(m, "processor", None), "_attention_backend")
        for m in modules
        if isinstance(m, (Attention, AttentionModuleMixin))
    ]
    return Capabilities(
        class_name=cls.__name__,
        tiling=bool(modules) and hasattr(modules[0], "use_tiling") and hasattr(cls, "enable_tiling"),
        slicing=bool(modules) and hasattr(modules[0], "use_slicing") and hasattr(cls, "enable_slicing"),
        forward_chunking=hasattr(cls, "enable_forward_chunking"),
        repeated_blocks=tuple(getattr(cls, "_repeated_blocks", None) or ()),
        group_offload=bool(getattr(cls, "_supports_group_offloading", True)),
        attention_backend="all" if flags and all(flags) else ("some" if any(flags) else "none"),
        multihead_attention=any(isinstance(m, torch.nn.MultiheadAttention) for m in modules),
        single_file=cls.__name__ in SINGLE_FILE_LOADABLE_CLASSES,
    )


def pipeline_call_parameters(pipeline_class: str) -> frozenset[str]:
    """The parameters of the pipeline's `__call__` (self included), from the stored signatures."""
    from ..catalog.signatures import pipeline_signature

    return pipeline_signature(pipeline_class).names | {"self"}


def batches_guidance(pipeline_class: str) -> bool:
    """Whether the pipeline runs the conditional and unconditional passes as one batch of two: stored, else
    read from the class's source."""
    found = stored.pipeline_field(pipeline_class, "batches_guidance")
    if found is not None:
        return bool(found)
    live = live_batches_guidance(pipeline_class)
    stored.remember("pipelines", pipeline_class, live, "batches_guidance")
    return live


@cache
def live_batches_guidance(pipeline_class: str) -> bool:
    import inspect

    from ..runtime.lock import diffusers_attr

    try:
        source = inspect.getsource(diffusers_attr(pipeline_class).__call__)
    except (OSError, TypeError):
        return True
    return "[latents] * 2" in source or "[latent_model_input] * 2" in source
