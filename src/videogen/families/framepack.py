"""FramePack (lllyasviel) on HunyuanVideo: image-to-video and first-last-frame-to-video, window by window.

A FramePack model is assembled from three repos, as the diffusers docs do: the transformer
(`HunyuanVideoFramepackTransformer3DModel`) from the FramePack repo, the SigLIP image encoder and its
processor from `lllyasviel/flux_redux_bfl` (subfolders), and the rest (text encoders, tokenizers, VAE,
scheduler) from `hunyuanvideo-community/HunyuanVideo`. `ModelCard.components` lists where each
component comes from and `FramePackFamily.load` puts them together.

Rules and what videogen does:

- An image is required (i2v); `last_image` (flf2v) only with FramePackI2V_HY, whose checkpoint samples
  with `sampling_type="inverted_anti_drifting"`. FramePack-F1 samples with `"vanilla"`. The card sets the
  sampling type its checkpoint was trained for; `extra={"sampling_type": ...}` may not contradict it.
- FramePack generates whole windows of `4·latent_window_size` frames (36 by default) and returns
  `4·latent_window_size·windows + 1` frames. videogen asks for the fewest windows that cover num_frames
  and, for image-to-video, keeps the first num_frames frames (the video starts at the image; the end of
  the last window is cut). For first-last-frame-to-video, the end of the video is where it reaches
  `last_image`, so nothing is cut: num_frames must be `4·latent_window_size·k + 1` (37, 73, 109, ...;
  snap=True rounds).
- The step callback fires once per step of every window: `total_steps` = steps × windows.
- guidance_scale is distilled guidance, as in HunyuanVideo; real CFG needs `true_cfg_scale` > 1 and a
  negative prompt together (SpecError otherwise). The Llama tokenizer is read as HunyuanVideo's is.
- The pipeline sets no cache context: `call_context` wraps the call in `transformer.cache_context("cond")`
  when a cache hook (FirstBlockCache, TaylorSeer, ...) is on the transformer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ._common import (
    DIT_CACHE_AUTO,
    DIT_CACHE_HOOK_SETTINGS,
    DIT_CACHE_METHODS,
    cache_context,
    check_true_cfg,
    with_llama_tokenizer,
)
from .base import NO_MEDIA, Checked, Family, outside_catalog, size_unknown
from .card import ModelCard, nearest_frame_count

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules

logger = logging.getLogger("videogen")

HUNYUAN_REPO = "hunyuanvideo-community/HunyuanVideo"
REDUX_REPO = "lllyasviel/flux_redux_bfl"
#: components the base HunyuanVideo repo provides (each in the subfolder of its name)
BASE_COMPONENTS = ("tokenizer", "text_encoder", "tokenizer_2", "text_encoder_2", "vae", "scheduler")
#: components loaded on their own: (library, class)
PART_CLASSES = {
    "transformer": ("diffusers", "HunyuanVideoFramepackTransformer3DModel"),
    "image_encoder": ("transformers", "SiglipVisionModel"),
    "feature_extractor": ("transformers", "SiglipImageProcessor"),
}
SAMPLING_TYPES = ("inverted_anti_drifting", "vanilla")
DEFAULT_WINDOW = 9  # the pipeline's latent_window_size
VAE_TEMPORAL = 4
#: the diffusers docs: transformer in bfloat16, the rest (SigLIP included) in float16
FRAMEPACK_DTYPES = {"default": "float16", "transformer": "bfloat16"}
TINY_CALL = {"latent_window_size": 3, "prompt_template": {"template": "{}", "crop_start": 0}, "max_sequence_length": 16}


def assembly(
    transformer_repo: str, base: str = HUNYUAN_REPO, redux: str = REDUX_REPO
) -> dict[str, tuple[str, str | None]]:
    """Where each component of a FramePack pipeline comes from: (repo or folder, subfolder)."""
    parts: dict[str, tuple[str, str | None]] = {name: (base, name) for name in BASE_COMPONENTS}
    parts["transformer"] = (transformer_repo, None)
    parts["image_encoder"] = (redux, "image_encoder")
    parts["feature_extractor"] = (redux, "feature_extractor")
    return parts


#: the tiny FramePack folder holds a tiny HunyuanVideo pipeline and, in subfolders, the parts laid out like
#: their Hub repos (transformer folder by sampling type); tiny cards name no repos, `tiny_assembly` maps it
TINY_TRANSFORMERS = {"inverted_anti_drifting": "FramePackI2V_HY", "vanilla": "FramePack_F1_I2V_HY_20250503"}


def tiny_assembly(card: ModelCard) -> dict[str, tuple[str, str | None]]:
    """The components of a tiny FramePack card, relative to its built folder (like `assembly` on the Hub)."""
    sampling = card.call_defaults.get("sampling_type", "inverted_anti_drifting")
    return assembly(TINY_TRANSFORMERS[sampling], ".", "flux_redux_bfl")


def call_setting(spec: CompleteSpec, card: ModelCard, key: str, default: Any) -> Any:
    return {**card.call_defaults, **spec.extra}.get(key, default)


def window_size(spec: CompleteSpec, card: ModelCard) -> int:
    return int(call_setting(spec, card, "latent_window_size", DEFAULT_WINDOW))


def windows_for(num_frames: int, latent_window_size: int) -> int:
    """The fewest FramePack windows whose output (4·lws·windows + 1 frames) covers num_frames."""
    return max(1, math.ceil((int(num_frames) - 1) / (VAE_TEMPORAL * latent_window_size)))


def output_frames(windows: int, latent_window_size: int) -> int:
    """How many frames FramePack returns for `windows` windows."""
    return VAE_TEMPORAL * latent_window_size * windows + 1


def pipeline_num_frames(windows: int, latent_window_size: int) -> int:
    """The `num_frames` that makes the pipeline run exactly `windows` windows (it rounds up to windows)."""
    return windows * ((latent_window_size - 1) * VAE_TEMPORAL + 1)


class FramePackFamily(Family):
    name = "framepack"
    # step caches (VideoSpec.cache): the DiT defaults (families/_common.py cites each source; docs/speed.md
    # has what each costs on the tiny model)
    cache_methods = DIT_CACHE_METHODS
    cache_hook_settings = DIT_CACHE_HOOK_SETTINGS
    cache_auto = DIT_CACHE_AUTO
    pipelines = {"i2v": "HunyuanVideoFramepackPipeline", "flf2v": "HunyuanVideoFramepackPipeline"}
    card_defaults = {
        "height": 480,
        "width": 832,
        "num_frames": 109,
        "fps": 30,
        "steps": 30,
        "guidance_scale": 9.0,
        "frame_rule": None,
        "size_multiple": 16,
        "dtypes": FRAMEPACK_DTYPES,
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 13, "fps": 8, "steps": 2}
    flow_matching = True
    #: the HunyuanVideo base repo's (the tiny builder writes the same)
    scheduler = {"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 7.0}
    trims_frames = True  # whole windows: image-to-video keeps the first num_frames

    def card_for_pipeline(
        self, ref: str, class_name: str, index: Mapping[str, Any], read_config: Callable[[str], dict]
    ) -> ModelCard:
        """A saved FramePack pipeline: its checkpoint's sampling type is unknown, so the pipeline's default
        (inverted anti-drifting) applies; pass extra={"sampling_type": "vanilla"} for an F1 model."""
        template = self.card_named("framepack-i2v-hy")
        known = self.known_card(class_name, index, read_config, prefer=template)
        card = outside_catalog(template, ref, class_name, components={}, call_defaults={})
        return card if known else size_unknown(card)  # the transformer config holds no size

    # ---- validation ----------------------------------------------------------------------------
    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        spec, media = super().check(spec, card, rules, media)  # the rules every family shares
        sampling = call_setting(spec, card, "sampling_type", "inverted_anti_drifting")
        sampling = getattr(sampling, "value", sampling)  # diffusers' FramepackSamplingType enum
        if sampling not in SAMPLING_TYPES:
            raise SpecError(
                f"extra['sampling_type']={sampling!r} is not a FramePack sampling type; use one "
                f"of {', '.join(SAMPLING_TYPES)} (the card sets the one its checkpoint needs)",
                field="extra",
                valid=SAMPLING_TYPES,
            )
        trained = card.call_defaults.get("sampling_type")
        if trained and sampling != trained:
            other = self._card_sampling(sampling, card)
            raise SpecError(
                f"extra['sampling_type']={sampling!r}: {card.name} was trained for {trained!r} sampling; "
                + (f"use model={other!r} for {sampling!r} sampling, " if other else "")
                + "or leave sampling_type out",
                field="extra",
                valid=trained,
            )
        if spec.task == "flf2v" and sampling != "inverted_anti_drifting":
            other = self._card_sampling("inverted_anti_drifting", card)
            raise SpecError(
                f"last_image needs inverted anti-drifting sampling (FramePackI2V_HY); {card.name} samples "
                f"{sampling!r}. "
                + (f"Use model={other!r}, " if other else "")
                + "or leave last_image out for image-to-video",
                field="last_image",
            )
        lws = call_setting(spec, card, "latent_window_size", DEFAULT_WINDOW)
        if isinstance(lws, bool) or not isinstance(lws, int) or lws < 2:
            raise SpecError(
                f"extra['latent_window_size']={lws!r} must be a whole number of latent frames, "
                f"at least 2 (default {DEFAULT_WINDOW})",
                field="extra",
                valid=DEFAULT_WINDOW,
            )
        check_true_cfg(spec, card)

        frames = spec.num_frames
        step = VAE_TEMPORAL * lws
        if spec.task == "flf2v":
            frames = rules.fix(
                "num_frames",
                frames,
                nearest_frame_count(frames, step, 1),
                f"num_frames must be {step}k+1 for first-last-frame-to-video: FramePack "
                f"makes whole windows of {step} frames and the video ends where it reaches "
                "last_image",
            )
        else:
            made = output_frames(windows_for(frames, lws), lws)
            if made != frames:
                logger.info(
                    "%s makes %d frames for num_frames=%d (whole windows of %d); keeping the first %d",
                    card.name,
                    made,
                    frames,
                    step,
                    frames,
                )
        return Checked(spec.replace(num_frames=frames), media)

    def _card_sampling(self, sampling: str, like: ModelCard) -> str | None:
        """The name of a card of this family (tiny if `like` is) whose checkpoint samples `sampling`."""
        for card in self.cards:
            if bool(card.tiny) == bool(like.tiny) and card.call_defaults.get("sampling_type") == sampling:
                return card.name
        return None

    # ---- loading -------------------------------------------------------------------------------
    def load(self, card: ModelCard, pipeline_cls: Any, load_kwargs: dict[str, Any]) -> Any:
        """Assemble the pipeline from `card.components` (tiny cards: `tiny_assembly` in their built folder);
        a card without components (a saved FramePack pipeline) loads as it is."""
        kwargs = dict(load_kwargs)
        root = Path(card.path) if card.tiny and card.path else None
        components = tiny_assembly(card) if root is not None else card.components
        if not components:
            return self._from_pretrained(pipeline_cls, card.source, kwargs)

        def where(repo: str) -> str:
            return str(root / repo) if root is not None else repo

        base_repos = {repo for name, (repo, sub) in components.items() if name not in PART_CLASSES}
        misplaced = [n for n, (_, sub) in components.items() if n not in PART_CLASSES and sub != n]
        if len(base_repos) != 1 or misplaced:
            raise ValueError(
                f"{card.name}: components other than {', '.join(PART_CLASSES)} must come from "
                "one pipeline repo, each in the subfolder of its name"
            )
        dtypes = kwargs.pop("dtype", None)
        dtypes = kwargs.pop("torch_dtype", None) if dtypes is None else dtypes
        for name, (repo, subfolder) in components.items():
            if name in PART_CLASSES and name not in kwargs:
                kwargs[name] = _load_part(name, where(repo), subfolder, dtypes, kwargs)
        if dtypes is not None:
            kwargs["dtype"] = dtypes
        return self._from_pretrained(pipeline_cls, where(base_repos.pop()), kwargs)

    @staticmethod
    def _from_pretrained(pipeline_cls: Any, source: str, kwargs: dict[str, Any]) -> Any:
        return pipeline_cls.from_pretrained(source, **with_llama_tokenizer(kwargs, source))

    # ---- calling -------------------------------------------------------------------------------
    def call_kwargs(
        self, spec: CompleteSpec, card: ModelCard, media: Mapping[str, Any], params: AbstractSet[str]
    ) -> dict[str, Any]:
        kwargs = super().call_kwargs(spec, card, media, params)
        lws = window_size(spec, card)
        kwargs["num_frames"] = pipeline_num_frames(windows_for(spec.num_frames, lws), lws)
        return kwargs

    def total_steps(self, spec: CompleteSpec, call_kwargs: Mapping[str, Any]) -> int:
        lws = int(call_kwargs.get("latent_window_size", DEFAULT_WINDOW))
        window = (lws - 1) * VAE_TEMPORAL + 1
        windows = max(1, math.ceil(int(call_kwargs.get("num_frames", spec.num_frames)) / window))
        return int(spec.steps or 0) * windows

    def schedule_steps(self, spec: CompleteSpec, call_kwargs: Mapping[str, Any]) -> int:
        return int(spec.steps or 0)  # each window runs the whole schedule

    def call_context(self, pipe: Any, spec: CompleteSpec) -> ContextManager[Any]:
        return cache_context(pipe, spec)

    def cache_refusal(self, spec: CompleteSpec, card: ModelCard, method: str) -> str | None:
        """TaylorSeer extrapolates each module's output along the steps and knows nothing of windows: from the
        second window on it would predict from the previous window's trajectory."""
        windows = windows_for(spec.num_frames, window_size(spec, card))
        if method == "taylorseer" and windows > 1:
            return (
                f"num_frames={spec.num_frames} takes {windows} FramePack windows, and TaylorSeer would carry its "
                "predictions from one window's steps into the next"
            )
        return None

    # ---- tiny models ---------------------------------------------------------------------------
    def build_tiny(self, variant: str, folder: Path) -> None:
        """The tiny FramePack, laid out like its three Hub repos.

        `folder` holds a tiny HunyuanVideo pipeline (the base); `folder/FramePackI2V_HY` and
        `folder/FramePack_F1_I2V_HY_20250503` hold two tiny FramePack transformers; `folder/flux_redux_bfl`
        holds the SigLIP image encoder and its processor in subfolders.
        """
        if variant != "framepack":
            raise ValueError(f"unknown tiny framepack variant {variant!r}")
        import diffusers
        from diffusers import FlowMatchEulerDiscreteScheduler, HunyuanVideoFramepackTransformer3DModel
        from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

        from . import tiny_parts

        common: dict[str, Any] = {
            "in_channels": 4,
            "out_channels": 4,
            "num_attention_heads": 2,
            "attention_head_dim": 10,
            "num_layers": 1,
            "num_single_layers": 1,
            "num_refiner_layers": 1,
            "patch_size": 2,
            "patch_size_t": 1,
            "guidance_embeds": True,
            "text_embed_dim": 16,
            "pooled_projection_dim": 8,
            "rope_axes_dim": (2, 4, 4),
        }
        base = diffusers.HunyuanVideoPipeline(
            **tiny_parts.hunyuan_text_parts(16, 8),
            vae=tiny_parts.hunyuan_video_vae(),
            scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
            transformer=diffusers.HunyuanVideoTransformer3DModel(**common),
        )
        base.save_pretrained(folder)
        for sub in (TINY_TRANSFORMERS["inverted_anti_drifting"], TINY_TRANSFORMERS["vanilla"]):
            HunyuanVideoFramepackTransformer3DModel(
                **common, image_condition_type=None, has_image_proj=True, image_proj_dim=32, has_clean_x_embedder=True
            ).save_pretrained(folder / sub)
        vision = SiglipVisionConfig(
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            image_size=30,
            patch_size=2,
        )
        SiglipVisionModel(vision).eval().save_pretrained(folder / "flux_redux_bfl" / "image_encoder")
        SiglipImageProcessor(size={"height": 30, "width": 30}).save_pretrained(
            folder / "flux_redux_bfl" / "feature_extractor"
        )


def _load_part(name: str, source: str, subfolder: str | None, dtypes: Any, load_kwargs: Mapping[str, Any]) -> Any:
    """One component loaded on its own (the transformer, SigLIP and its processor), with its share of the
    load settings: its dtype, its quantization config, use_safetensors / low_cpu_mem_usage."""
    import importlib

    library, class_name = PART_CLASSES[name]
    cls = getattr(importlib.import_module(library), class_name)
    kwargs: dict[str, Any] = {}
    if subfolder:
        kwargs["subfolder"] = subfolder
    if name != "feature_extractor":
        dtype = dtypes.get(name, dtypes.get("default")) if isinstance(dtypes, Mapping) else dtypes
        if dtype is not None:
            kwargs["torch_dtype" if library == "diffusers" else "dtype"] = dtype
        for key in ("use_safetensors", "low_cpu_mem_usage", "local_files_only"):
            if load_kwargs.get(key) is not None:
                kwargs[key] = load_kwargs[key]
        quantization = _part_quantization(load_kwargs.get("quantization_config"), name, library)
        if quantization is not None:
            kwargs["quantization_config"] = quantization
    return cls.from_pretrained(source, **kwargs)


def _part_quantization(config: Any, name: str, library: str) -> Any:
    """The component's config from a diffusers PipelineQuantizationConfig (None: not quantized)."""
    if config is None:
        return None
    mapping = getattr(config, "quant_mapping", None) or {}
    if name in mapping:
        return mapping[name]
    resolve = getattr(config, "_resolve_quant_config", None)  # a global backend + components_to_quantize
    return resolve(is_diffusers=library == "diffusers", module_name=name) if resolve else None


card = FramePackFamily.card
CARDS = (
    card(
        "framepack-i2v-hy",
        "lllyasviel/FramePackI2V_HY",
        ("i2v", "flf2v"),
        call_defaults={"sampling_type": "inverted_anti_drifting"},
        components=assembly("lllyasviel/FramePackI2V_HY"),
        arch="framepack-13b",
        description="FramePack on HunyuanVideo (inverted anti-drifting): image and first-last-frame to video",
    ),
    card(
        "framepack-f1-i2v-hy",
        "lllyasviel/FramePack_F1_I2V_HY_20250503",
        ("i2v",),
        call_defaults={"sampling_type": "vanilla"},
        components=assembly("lllyasviel/FramePack_F1_I2V_HY_20250503"),
        arch="framepack-13b",
        description="FramePack-F1 on HunyuanVideo (vanilla, forward sampling): image to video",
    ),
    # tiny random-weight models, built offline (videogen.families.tiny), assembled from folders like the real ones
    # (see `tiny_assembly`)
    card(
        "tiny-framepack",
        None,
        ("i2v", "flf2v"),
        tiny="framepack",
        call_defaults={"sampling_type": "inverted_anti_drifting", **TINY_CALL},
        description="tiny random FramePack (inverted anti-drifting; i2v, flf2v)",
    ),
    card(
        "tiny-framepack-f1",
        None,
        ("i2v",),
        tiny="framepack",
        call_defaults={"sampling_type": "vanilla", **TINY_CALL},
        description="tiny random FramePack-F1 (vanilla; i2v)",
    ),
)
FAMILY = FramePackFamily(CARDS)
