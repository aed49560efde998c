"""`Family`: what a model family tells videogen. One subclass per module under `families/`.

A family is data (pipeline class names per task, the defaults its cards share, its cards) plus a few short
translation methods. Defaults here fit the modern diffusers video pipelines; families override what differs.
Helpers several families share are in `families/_common.py`; this module holds the base class and what it
needs itself (reading a folder's architecture against the stored configs).

Below validation and the catalog: nothing here imports them. A family's `check` gets the rule applier
(`validate.Rules`) as an argument, typed by the `Rules` protocol below.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager
from dataclasses import replace
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ..errors import SpecError
from ..spec.inputs import MEDIA_FIELDS
from .archs import arch_config
from .card import ModelCard

if TYPE_CHECKING:
    import numpy as np

    from ..spec.videospec import CompleteSpec


#: what a pipeline outside the catalog must be given when its configs don't say the size it was made for
SIZE_FIELDS = ("height", "width", "num_frames")
#: denoiser component names (diffusers' names for the transformer / UNet)
DENOISERS = ("transformer", "transformer_2", "unet")
#: denoiser config keys that define an architecture: a folder whose denoisers agree with a catalog card's
#: stored full-size configs (configs/<arch>.json) on all of these is that model (a copy or a fine-tune)
ARCH_KEYS = (
    "num_layers",
    "num_single_layers",
    "num_refiner_layers",
    "num_attention_heads",
    "attention_head_dim",
    "in_channels",
    "out_channels",
    "patch_size",
    "patch_size_t",
    "text_dim",
    "ffn_dim",
    "image_dim",
    "pos_embed_seq_len",
    "added_kv_proj_dim",
    "image_condition_type",
    "block_out_channels",
    "layers_per_block",
    "cross_attention_dim",
    "transformer_layers_per_block",
    "model_dim",
    "num_visual_blocks",
    "num_text_blocks",
    "attention_type",
)
#: `extra` keys videogen refuses whatever the family: key → why and what to do instead
REFUSED_EXTRA = {
    "num_videos_per_prompt": "videogen returns one video per call, so more videos per prompt would be computed "
    "and thrown away; call generate once per video with different seeds (seed=1, "
    "seed=2, ...) instead"
}
_MISSING = object()
#: the media of a spec without images or video
NO_MEDIA: Mapping[str, Any] = MappingProxyType({})


class Rules(Protocol):
    """What a family's `check` applies its rules with (`validate.Rules` is one): `fix` returns the value,
    raises a SpecError, or snaps it with a warning; `refuse` raises; `given` names the fields the user set."""

    given: frozenset[str]

    def fix(self, name: str, value: Any, valid: Any, rule: str, field: str | None = None) -> Any: ...

    def refuse(self, name: str, message: str, valid: Any = None) -> None: ...


class Checked(NamedTuple):
    """What a family's `check` returns: the (maybe snapped) spec and the media the call gets (the loaded
    inputs, with what the check changed: a video resized by snap, LTX's loaded conditions)."""

    spec: CompleteSpec
    media: Mapping[str, Any]


def component_class(index: Mapping[str, Any], name: str) -> str | None:
    """The class name of component `name` in a `model_index.json` ([library, class]); None when absent."""
    value = index.get(name)
    if isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[1], str):
        return value[1]
    return None


@cache
def _init_defaults(class_name: str) -> dict[str, Any]:
    """The `__init__` defaults of a diffusers model class (what a config leaves out); {} if unknown."""
    import inspect

    from ..runtime.lock import diffusers_attr

    cls = diffusers_attr(class_name, None)
    if cls is None:
        return {}
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name: _plain(p.default) for p in params if p.default is not inspect.Parameter.empty}


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively: configs read from JSON and from signatures compare equal."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _arch_value(config: Mapping[str, Any], key: str, class_name: str) -> Any:
    if key in config:
        return _plain(config[key])
    return _init_defaults(class_name).get(key, _MISSING)


def matches_arch(arch: str, class_name: str, index: Mapping[str, Any], read_config: Callable[[str], dict]) -> bool:
    """Whether a pipeline's denoisers (from its index and configs) are the stored full-size architecture `arch`.

    Same denoiser components, same classes, and equal on every `ARCH_KEYS` entry (a key a config leaves
    out takes the class's default, as diffusers does when it loads). An empty config is unknown: no match.
    """
    stored = arch_config(arch)
    if stored is None:
        return False
    parts = {**stored["components"], **stored.get("by_pipeline", {}).get(class_name, {})}
    theirs = {name for name in parts if name in DENOISERS}
    ours = {name for name in DENOISERS if component_class(index, name)}
    if not theirs or theirs != ours:
        return False
    for name in theirs:
        cls = parts[name]["class"]
        config = read_config(name)
        if not config or component_class(index, name) != cls:
            return False
        if any(_arch_value(config, key, cls) != _arch_value(parts[name]["config"], key, cls) for key in ARCH_KEYS):
            return False
    return True


def size_unknown(card: ModelCard, fields: tuple[str, ...] = SIZE_FIELDS) -> ModelCard:
    """`card` with no default for `fields`: a spec must give them (its size list, a template's, is dropped)."""
    return replace(card, required=fields, sizes=())


def outside_catalog(card: ModelCard, ref: str, class_name: str, **changes: Any) -> ModelCard:
    """`card` (a template) renamed for the model at `ref` outside the catalog: no stored architecture."""
    return replace(card, name=ref, repo=ref, arch=None, description=f"{class_name} (not in the catalog)", **changes)


class Family:
    """Base class of the families. Subclasses set the class attributes and override what differs.

    A family module declares its subclass, its cards with `<Subclass>.card(...)`, and `FAMILY = <Subclass>(cards)`.
    """

    name: str = ""
    #: task → diffusers pipeline class name.
    pipelines: Mapping[str, str] = MappingProxyType({})
    #: the ModelCard fields every card of the family starts from (`card` fills `family` and these).
    card_defaults: Mapping[str, Any] = MappingProxyType({})
    #: what the family's tiny cards (`tiny=` set) change on top of `card_defaults`: size, frames, steps.
    tiny_defaults: Mapping[str, Any] = MappingProxyType({})
    #: every catalog entry of the family, tiny ones included (given to the constructor).
    cards: tuple[ModelCard, ...] = ()
    #: False for image-only models (SVD): a prompt is refused.
    accepts_prompt: bool = True
    #: The pipeline draws from the global torch RNG (not only `generator`).
    uses_global_rng: bool = False
    #: The pipeline makes sound with the video (`audio` returns it; `VideoSpec.audio=True` needs it).
    makes_sound: bool = False
    #: A flow-matching model (Wan, LTX, Hunyuan, FramePack): which schedulers fit, with flow sigmas.
    flow_matching: bool = False
    #: The video-to-video pipeline's default `strength` (the share of the schedule it runs).
    v2v_strength: float = 0.8
    #: The pipeline's own name for the frame count parameter (None: frames come from the inputs).
    frames_param: str | None = "num_frames"
    #: The pipeline returns more frames than asked (it makes whole windows, or is asked for more): `frames`
    #: keeps the first num_frames.
    trims_frames: bool = False
    #: step-cache method (`VideoSpec.cache`) → its default knobs for this family, with their sources in a
    #: comment; a method not here is refused before loading (videogen.speed.settings). Empty: no step cache.
    cache_methods: Mapping[str, Mapping[str, Any]] = MappingProxyType({})
    #: diffusers cache-config fields fixed by the model's layout (not knobs): method → fields
    cache_hook_settings: Mapping[str, Mapping[str, Any]] = MappingProxyType({})
    #: step-cache methods the family refuses → why, as users are told (a method in neither: "doesn't take it")
    cache_refused: Mapping[str, str] = MappingProxyType({})
    #: `cache="auto"`: the first of these the spec can take (MagCache only with calibrated ratios)
    cache_auto: tuple[str, ...] = ()
    #: the scheduler config the family's checkpoints ship (`_class_name` and the settings checks read), what
    #: `schedulers.check_schedule` goes by until the model's own files are on this machine; a card's
    #: `traits["scheduler"]` replaces it (`scheduler_config`)
    scheduler: Mapping[str, Any] = MappingProxyType({})
    #: The transformer declares a context-parallel plan (`_cp_plan`) in diffusers, so `VideoSpec.parallel` can
    #: split it over GPUs (videogen.speed.parallel.checks; a test keeps this equal to the class attribute)
    context_parallel: bool = False
    #: task → the spec inputs the family reads for it beyond those the task needs (checks.rules.TASK_INPUTS), e.g.
    #: VACE's `mask` and `reference_images`; any other input given is refused before load
    inputs: Mapping[str, tuple[str, ...]] = MappingProxyType({})
    #: `extra` keys the family reads itself (checked by its `check`, never passed to the pipeline), e.g. LTX-2's
    #: "two_stage"; every other `extra` key must be a parameter of the pipeline's `__call__`
    own_extra: frozenset[str] = frozenset()
    #: memory-plan fields the family's pipelines always run with, whatever the plan asks (Allegro's VAE decodes
    #: only in tiles); the resolved plan records them, with a note
    plan_always: Mapping[str, Any] = MappingProxyType({})

    def __init__(self, cards: Iterable[ModelCard] = ()) -> None:
        self.cards = tuple(cards)
        wrong = [c.name for c in self.cards if c.family != self.name]
        if wrong:
            raise ValueError(f"{type(self).__name__} ({self.name!r}) was given cards of another family: {wrong}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {len(self.cards)} cards>"

    # ---- catalog -------------------------------------------------------------------------------
    @classmethod
    def card(
        cls, name: str, repo: str | None, tasks: tuple[str, ...], *layers: Mapping[str, Any], **fields: Any
    ) -> ModelCard:
        """A card of this family: `card_defaults`, then each of `layers` (e.g. a model version's rules),
        then `tiny_defaults` when `tiny=` is given, then `fields`."""
        values: dict[str, Any] = dict(cls.card_defaults)
        for layer in layers:
            values.update(layer)
        if fields.get("tiny"):
            values.update(cls.tiny_defaults)
        values.update(fields)
        return ModelCard(name=name, family=cls.name, repo=repo, tasks=tuple(tasks), **values)

    def card_named(self, name: str) -> ModelCard:
        """The family's card called `name` (templates for models outside the catalog)."""
        for card in self.cards:
            if card.name == name:
                return card
        raise KeyError(f"{self.name} has no card {name!r}")

    def pipeline_classes(self) -> set[str]:
        classes = set(self.pipelines.values())
        for card in self.cards:
            classes.update(card.pipelines.values())
        return classes

    def cards_doing(self, task: str, like: ModelCard) -> list[str]:
        """Names of the family's cards that do `task`, tiny ones when `like` is tiny (for hints)."""
        return sorted(c.name for c in self.cards if task in c.tasks and bool(c.tiny) == bool(like.tiny))

    def card_for_pipeline(
        self, ref: str, class_name: str, index: Mapping[str, Any], read_config: Callable[[str], dict]
    ) -> ModelCard:
        """A card for a model outside the catalog, from its pipeline class and component configs.

        The default takes the real card whose stored architecture the denoiser configs match, else the first
        real card whose pipelines include `class_name` with no default size (`size_unknown`), and renames it.
        """
        known = self.known_card(class_name, index, read_config)
        for card in self.cards:
            if card.tiny:
                continue
            if any(card.pipeline_class(t, self) == class_name for t in card.tasks):
                card = outside_catalog(known or card, ref, class_name)
                return card if known else size_unknown(card)
        raise SpecError(f"model={ref!r}: no {self.name} card knows {class_name}", field="model")

    def known_card(
        self,
        class_name: str,
        index: Mapping[str, Any],
        read_config: Callable[[str], dict],
        prefer: ModelCard | None = None,
    ) -> ModelCard | None:
        """The real card (`prefer` first) run by `class_name` whose stored full-size architecture the pipeline's
        denoiser configs match: a copy or fine-tune of it, so that card's defaults (size, frames) are right."""
        matched: dict[str, bool] = {}
        for card in ([prefer] if prefer is not None else []) + [c for c in self.cards if not c.tiny]:
            if not card.arch or not any(card.pipeline_class(t, self) == class_name for t in card.tasks):
                continue
            if card.arch not in matched:
                matched[card.arch] = matches_arch(card.arch, class_name, index, read_config)
            if matched[card.arch]:
                return card
        return None

    # ---- validation ----------------------------------------------------------------------------
    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        """Family-specific rules on a spec whose defaults are filled, with its loaded `media` (PIL images,
        lists of frames). Returns what the check made of them: the (maybe snapped) spec and the media the call
        gets (`Checked`); the arguments are not changed.

        Families that override it call this first: the rules every family shares (`extra` keys videogen
        refuses, the fields a card outside the catalog must be given).
        """
        for key, why in REFUSED_EXTRA.items():
            if key in spec.extra:
                raise SpecError(f"extra[{key!r}]={spec.extra[key]!r}: {why}; leave {key} out", field="extra")
        if spec.audio and not self.makes_sound:
            raise SpecError(
                f"audio=True: {card.name} ({self.name}) makes video without sound; leave audio out, or use a model "
                "that makes sound (the ltx2 family: videogen models --family ltx2)",
                field="audio",
                valid=None,
            )
        self.check_required(spec, card, rules)
        return Checked(spec, media)

    def check_required(self, spec: CompleteSpec, card: ModelCard, rules: Rules) -> None:
        """A card without a default size (`ModelCard.required`): the spec must give those fields itself."""
        missing = [
            name
            for name in card.required
            if name not in rules.given and not (name == "num_frames" and spec.task == "v2v")
        ]  # v2v: the video's frame count
        if not missing:
            return
        rules_text = f"height and width multiples of {card.size_multiple}"
        if card.frame_rule and "num_frames" in missing:
            step, offset = card.frame_rule
            rules_text += f", num_frames {step}k+{offset}" if offset else f", num_frames a multiple of {step}"
        example = ", ".join(f"{name}={getattr(card, name)}" for name in missing)
        names = ", ".join(missing[:-1]) + f" and {missing[-1]}" if len(missing) > 1 else missing[0]
        class_name = card.pipeline_class(spec.inferred_task(), self)
        raise SpecError(
            f"{missing[0]}: model={card.name!r} is a {class_name} outside the catalog "
            "whose configs don't say the size it was made for, and its architecture matches no catalog model, "
            f"so videogen has no default: pass {names} ({rules_text}; e.g. {example} for a full-size "
            f"{self.name} model)",
            field=missing[0],
        )

    def reserved_call_kwargs(self) -> set[str]:
        """Call arguments videogen sets itself (the pipeline's frame-count argument among them); `extra` may not
        override them."""
        return set(MEDIA_FIELDS) | {
            self.frames_param or "num_frames",
            "prompt",
            "negative_prompt",
            "height",
            "width",
            "num_frames",
            "num_inference_steps",
            "guidance_scale",
            "generator",
            "output_type",
            "return_dict",
            "callback_on_step_end",
            "callback_on_step_end_tensor_inputs",
            "callback",
            "callback_steps",
        }

    # ---- loading -------------------------------------------------------------------------------
    def load(self, card: ModelCard, pipeline_cls: Any, load_kwargs: dict[str, Any]) -> Any:
        """Load the pipeline. Families assembled from several repos override this."""
        return pipeline_cls.from_pretrained(card.source, **load_kwargs)

    # ---- calling -------------------------------------------------------------------------------
    def call_kwargs(
        self, spec: CompleteSpec, card: ModelCard, media: Mapping[str, Any], params: AbstractSet[str]
    ) -> dict[str, Any]:
        """Keyword arguments for the pipeline's `__call__` (besides generator, output and callbacks).

        `params` are the names `__call__` takes: spec fields the pipeline has no parameter for (the
        size of a video-to-video pipeline that takes it from the video) are left out.
        """
        kwargs: dict[str, Any] = {k: v for k, v in card.call_defaults.items() if k in params}
        wanted: dict[str, Any] = {
            "height": spec.height,
            "width": spec.width,
            "num_inference_steps": spec.steps,
            "guidance_scale": spec.guidance_scale,
        }
        if self.frames_param:
            wanted[self.frames_param] = spec.num_frames
        if self.accepts_prompt:
            wanted["prompt"] = spec.prompt
            if spec.negative_prompt is not None:
                wanted["negative_prompt"] = spec.negative_prompt
        for key in ("image", "last_image", "video"):
            if media.get(key) is not None:
                wanted[key] = media[key]
        kwargs.update({k: v for k, v in wanted.items() if k in params})
        kwargs.update({k: v for k, v in spec.extra.items() if k not in self.own_extra})
        return kwargs

    def call(self, pipe: Any, kwargs: dict[str, Any], spec: CompleteSpec) -> tuple[Any, dict[str, Any]]:
        """Run the generation: the pipeline called once with `kwargs` (complete: generator, output_type, callbacks),
        and what the metadata records of it beyond the call's arguments (its keys; none here). Families whose
        generation is more than one call override this (LTX-2's two stages)."""
        return pipe(**kwargs), {}

    def call_context(self, pipe: Any, spec: CompleteSpec) -> AbstractContextManager[Any]:
        """A context the call runs in (a seam for cache hooks that need a cache context)."""
        return contextlib.nullcontext()

    def scheduler_config(self, card: ModelCard) -> Mapping[str, Any]:
        """The scheduler config `card`'s checkpoint ships, as far as the family knows it (empty: unknown)."""
        return card.traits.get("scheduler", self.scheduler)

    def call_scheduler(self, scheduler: Any, class_name: str) -> Any:
        """The scheduler a call of pipeline `class_name` runs with, given the pipeline's (`call_context` applies
        it; the checks before load run it). Families whose calls change it override this."""
        return scheduler

    def check_components(self, spec: CompleteSpec, card: ModelCard, configs: Mapping[str, Mapping[str, Any]]) -> None:
        """Checks that need the components' configs (component name → config, read from the stored architecture or
        the model's folder, no weights; only those known), before load: SpecError. Families override."""

    def cache_refusal(self, spec: CompleteSpec, card: ModelCard, method: str) -> str | None:
        """Why step-cache `method` (one of `cache_methods`) can't run this spec, or None: families override
        this for what their data can't say (a layout or a call shape the hook gets wrong)."""
        return None

    def total_steps(self, spec: CompleteSpec, call_kwargs: Mapping[str, Any]) -> int:
        """How many times the step callback fires for this call.

        Video-to-video runs only the last `strength` share of the schedule, as diffusers'
        `get_timesteps` computes it.
        """
        steps = int(spec.steps or 0)
        if spec.task == "v2v":
            strength = float(call_kwargs.get("strength", self.v2v_strength))
            steps = min(int(steps * strength), steps)
        return steps

    def schedule_steps(self, spec: CompleteSpec, call_kwargs: Mapping[str, Any]) -> int:
        """The denoising steps of one schedule (what step caches count in): `total_steps` unless the call
        runs the schedule several times (FramePack's windows)."""
        return self.total_steps(spec, call_kwargs)

    def frames(self, output: Any, spec: CompleteSpec, card: ModelCard) -> np.ndarray:
        """The first video of the output as floats in [0, 1], shape T×H×W×3."""
        import numpy as np

        frames = np.asarray(output.frames[0])
        return frames[: int(spec.num_frames)] if self.trims_frames and spec.num_frames else frames

    def audio(self, output: Any, pipe: Any) -> tuple[Any, int] | None:
        """The first video's sound: (waveform as a float array, channels × samples; sample rate in Hz), or None
        for a silent family (the default). Families whose pipelines make sound (LTX-2) override this."""
        return None

    # ---- tiny models ---------------------------------------------------------------------------
    def build_tiny(self, variant: str, folder: Path) -> None:
        """Write the tiny random-weight pipeline `variant` into `folder` with save_pretrained."""
        raise NotImplementedError(f"{self.name} has no tiny models")
