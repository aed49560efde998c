"""The generic family: a diffusers video pipeline no family wraps, driven by its `__call__`'s signature.

A local folder (or a Hub repo) whose `model_index.json` names a video pipeline that no family drives comes here
(`catalog.lookup` asks the families first: a class a family wraps always goes to that family). What it does:

- the spec's fields go to the call's parameters of the same name — prompt, negative_prompt, image, last_image,
  video, height, width, the frame count (`num_frames`, or Latte's `video_length`), num_inference_steps,
  guidance_scale — where the call takes them; the generator and `output_type="np"` as for every family;
- the frames are the output's `frames` (every diffusers video pipeline returns them);
- the defaults are the call's own (its signature's height, width, frames, steps, guidance); a size the
  signature leaves to the model must be given;
- memory plans that need no knowledge of the model: offload, group offload, VAE tiling and slicing where the
  VAE has them, layerwise casting. Quantization, compile and attention backends are refused (which components
  to quantize, which blocks repeat, which attention the model runs: family knowledge);
- what can't be mapped is refused before load, naming the argument: an image for a call without `image`, a call
  that requires an argument the spec has no field for; step caches, LoRAs, context parallelism and scheduler
  swaps likewise (each needs to know the model);
- no family rules are checked (sizes, frame counts, guidance): the result's metadata says so
  (`metadata["generic"]`: `NOTE`) and a warning is logged.

What counts as a video pipeline (`video_pipelines`): a class of `diffusers.pipelines` whose name ends in
"Pipeline" and whose `__call__` builds an output class (a dataclass of diffusers' `BaseOutput`) with a
`frames` field — read from the installed package's source, without importing it.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelNotFoundError, SpecError
from .base import NO_MEDIA, Checked, Family

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules
    from .card import ModelCard

logger = logging.getLogger("videogen")

#: what the result's metadata and the log say of a generic run
NOTE = (
    "driven by videogen's generic family: the spec's fields mapped to the pipeline's __call__ by its signature; "
    "no family rules were checked (sizes, frame counts, guidance, schedulers), so a value the model can't run "
    "fails inside diffusers or makes a poor video"
)
#: the call's frame-count parameter, by the names diffusers' video pipelines use
FRAME_PARAMS = ("num_frames", "video_length")
#: spec media → the call parameter it goes to
MEDIA_PARAMS = ("image", "last_image", "video")
#: call parameters videogen fills (besides the frame count and the media)
MAPPED = frozenset(
    {
        "prompt",
        "negative_prompt",
        "height",
        "width",
        "num_inference_steps",
        "guidance_scale",
        "generator",
        "output_type",
        "return_dict",
        "callback_on_step_end",
        "callback_on_step_end_tensor_inputs",
        "callback",
        "callback_steps",
        *FRAME_PARAMS,
        *MEDIA_PARAMS,
    }
)
#: memory-plan fields that need family knowledge → why
PLAN_REFUSED = {
    "quantization": "which components to quantize",
    "gguf": "which components a GGUF file replaces",
    "compile": "which blocks repeat (regional compile)",
    "attention_backend": "which attention the model runs",
}
NO_KNOWLEDGE = "the generic family knows nothing of this model"
#: video pipelines whose call maps by name but whose video needs an input no spec field gives (a control video,
#: camera poses, face embeddings, reference conditions) → that input: refused, rather than run without it
NOT_DRIVEN = {
    "AnimateDiffControlNetPipeline": "ControlNet conditioning frames (conditioning_frames)",
    "AnimateDiffSparseControlNetPipeline": "sparse ControlNet frames and their indices (conditioning_frames)",
    "AnimateDiffVideoToVideoControlNetPipeline": "ControlNet conditioning frames (conditioning_frames)",
    "CogVideoXFunControlPipeline": "a control video (control_video)",
    "EasyAnimateControlPipeline": "a control video or camera trajectory (control_video, control_camera_video)",
    "ConsisIDPipeline": "face identity embeddings from a face model (id_cond, id_vit_hidden, kps_cond)",
    "LTX2HDRPipeline": "its HDR IC-LoRA and reference conditions (reference_conditions)",
    "LTX2InContextPipeline": "an IC-LoRA and its conditions (conditions, reference_conditions)",
    "SanaWMPipeline": "camera poses or actions (c2w, intrinsics, action)",
}


def _output_classes(trees: Mapping[Path, ast.Module]) -> set[str]:
    """Names of the classes that derive from `BaseOutput` and declare a `frames` field."""
    names = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
            fields = {s.target.id for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
            if "BaseOutput" in bases and "frames" in fields:
                names.add(node.name)
    return names


@cache
def video_pipelines() -> dict[str, dict[str, Any]]:
    """Every video pipeline class of the installed diffusers → {"file": its path under `diffusers/pipelines`,
    "call": its `__call__`'s signature (`_call_signature`)}: classes whose name ends in "Pipeline" and whose
    `__call__` builds a `BaseOutput` with a `frames` field (module docstring). Read from the source (the files
    that mention "frames"), without importing diffusers or torch: under a second, once a process."""
    import importlib.util

    spec = importlib.util.find_spec("diffusers")
    if spec is None or spec.origin is None:
        return {}
    root = Path(spec.origin).parent / "pipelines"
    trees: dict[Path, ast.Module] = {}
    for file in sorted(root.rglob("*.py")):
        text = file.read_text(encoding="utf-8")
        if "frames" in text:
            trees[file] = ast.parse(text)
    outputs = _output_classes(trees)
    found: dict[str, dict[str, Any]] = {}
    for file, tree in trees.items():
        for node in tree.body:
            if not isinstance(node, ast.ClassDef) or not node.name.endswith("Pipeline"):
                continue
            for item in node.body:
                if not isinstance(item, ast.FunctionDef) or item.name != "__call__":
                    continue
                called = {c.func.id for c in ast.walk(item) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
                if called & outputs:
                    found[node.name] = {"file": file.relative_to(root).as_posix(), "call": _call_signature(item)}
    return found


def _call_signature(call: ast.FunctionDef) -> dict[str, Any]:
    """What the family reads of a `__call__`: its parameter names, those without a default (`required`), the
    frame-count parameter and the defaults of the spec's numbers (literal ints and floats)."""
    args = call.args
    positional = args.posonlyargs + args.args
    defaults: dict[str, ast.expr] = dict(zip([a.arg for a in positional][::-1], args.defaults[::-1]))
    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    params = [a.arg for a in positional[1:] + args.kwonlyargs]
    frames = next((name for name in FRAME_PARAMS if name in params), None)
    own = {"height": "height", "width": "width", "num_inference_steps": "steps", "guidance_scale": "guidance_scale"}
    if frames:
        own[frames] = "num_frames"
    numbers: dict[str, Any] = {}
    for name, field in own.items():
        node = defaults.get(name)
        value = node.value if isinstance(node, ast.Constant) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers[field] = value
    return {
        "params": sorted(params),
        "required": sorted(name for name in params if name not in defaults),
        "frames": frames,
        "defaults": numbers,
    }


def refusal(class_name: str) -> str | None:
    """Why the generic family can't drive pipeline class `class_name` (not a video pipeline, a required argument
    no spec field fills, no prompt), or None when it can."""
    found = video_pipelines().get(class_name)
    if found is None:
        return "it is not a video pipeline of the installed diffusers (no __call__ returning frames)"
    if class_name in NOT_DRIVEN:
        return f"its video needs {NOT_DRIVEN[class_name]}, which no spec field gives"
    signature = found["call"]
    unmapped = [name for name in signature["required"] if name not in MAPPED]
    if unmapped:
        return f"its __call__ requires {', '.join(unmapped)}, which no spec field gives"
    if "prompt" not in signature["params"]:
        return "its __call__ takes no prompt"
    return None


class GenericFamily(Family):
    """Drives a diffusers video pipeline no family wraps (module docstring). It has no catalog cards: each card
    is made from a pipeline folder's class (`card_for_pipeline`)."""

    name = "generic"
    card_defaults = {
        # placeholders: a card takes the call's own defaults, and asks for what the call leaves to the model
        "height": 480,
        "width": 832,
        "num_frames": 16,
        "fps": 16,
        "steps": 50,
        "guidance_scale": 5.0,
        "frame_rule": None,
        "size_multiple": 1,
        "dtypes": {"default": "bfloat16"},
    }
    cache_refused = {
        method: f"{NO_KNOWLEDGE} (which blocks a step cache may skip, how its guidance runs)"
        for method in ("fbc", "taylorseer", "magcache", "pab", "fastercache", "deepcache", "dbcache")
    }

    def card_for_pipeline(
        self, ref: str, class_name: str, index: Mapping[str, Any], read_config: Callable[[str], dict]
    ) -> ModelCard:
        """A card for a video pipeline no family wraps: every task, the call's defaults, its signature in the
        card's traits. Refused (ModelNotFoundError) when it is no video pipeline, or its call requires an
        argument videogen can't fill, or takes no prompt."""
        from . import known_pipeline_classes

        supported = (
            "supported pipelines: the video pipelines of the installed diffusers (those whose __call__ returns "
            f"frames), the families' own first: {', '.join(sorted(known_pipeline_classes()))}"
        )
        why = refusal(class_name)
        if why is not None:
            raise ModelNotFoundError(
                f"model={ref!r} is a {class_name} pipeline, which videogen does not drive: {why} (the generic "
                f"family maps the spec's fields to the call by name); {supported}",
                field="model",
            )
        signature = video_pipelines()[class_name]["call"]
        defaults = signature["defaults"]
        missing = tuple(name for name in ("height", "width", "num_frames") if name not in defaults)
        if signature["frames"] is None:
            missing = tuple(name for name in missing if name != "num_frames")
        tasks = ("t2v", "i2v", "flf2v", "v2v")
        return self.card(
            ref,
            ref,
            tasks,
            {k: v for k, v in defaults.items() if k in self.card_defaults},
            pipelines=dict.fromkeys(tasks, class_name),
            traits={"call": signature},
            required=missing,
            description=f"{class_name} (not in the catalog; generic: no family rules)",
        )

    # ---- before load -------------------------------------------------------------------------
    def reserved_call_kwargs(self) -> set[str]:
        return super().reserved_call_kwargs() | set(FRAME_PARAMS)

    def check_required(self, spec: CompleteSpec, card: ModelCard, rules: Rules) -> None:
        missing = [name for name in card.required if name not in rules.given]
        if missing:
            class_name = card.pipeline_class(spec.inferred_task(), self)
            raise SpecError(
                f"{missing[0]}: model={card.name!r} is a {class_name} driven by the generic family, and its "
                f"__call__ has no default for it; pass {', '.join(missing)} (e.g. height=480, width=832, "
                "num_frames=16: check the model's own documentation for the sizes it was trained at)",
                field=missing[0],
            )

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        """What can't be mapped to the call, refused naming the argument; what needs family knowledge refused."""
        checked = super().check(spec, card, rules, media)
        class_name = card.pipeline_class(spec.inferred_task(), self)
        signature = card.traits["call"]
        params = set(signature["params"])
        given = {name for name in MEDIA_PARAMS if getattr(spec, name) is not None}
        for name in MEDIA_PARAMS:
            if name in given and name not in params:
                raise SpecError(
                    f"{name}: {class_name}.__call__ takes no {name!r} argument, so the generic family can't pass "
                    f"it; leave {name} out",
                    field=name,
                )
            if name in signature["required"] and name not in given:
                raise SpecError(
                    f"{name}: {class_name}.__call__ requires {name!r}; pass {name}=<path, URL, PIL image or array>",
                    field=name,
                )
        if spec.negative_prompt is not None and "negative_prompt" not in params:
            raise SpecError(
                f"negative_prompt: {class_name}.__call__ takes no 'negative_prompt' argument; leave it out",
                field="negative_prompt",
            )
        for name, words in (("height", "height"), ("width", "width"), ("num_frames", "frame count")):
            call_name = signature["frames"] if name == "num_frames" else name
            if name in rules.given and (call_name is None or call_name not in params):
                raise SpecError(
                    f"{name}: {class_name}.__call__ takes no {words} argument (it decides it itself); leave {name} out",
                    field=name,
                )
        self._refuse_unknowable(spec, card)
        logger.warning("%s: %s", card.name, NOTE)
        return checked

    def _refuse_unknowable(self, spec: CompleteSpec, card: ModelCard) -> None:
        """What needs knowledge of the model, refused with the reason: LoRAs, context parallelism, a scheduler
        swap, the memory plans that quantize, compile or pick an attention backend. (Step caches: `cache_refused`.)"""
        if spec.loras:
            raise SpecError(
                f"loras: {card.name} is driven by the generic family; {NO_KNOWLEDGE} (which modules a LoRA's "
                "keys name, whether its pipeline loads them); remove loras",
                field="loras",
            )
        if spec.parallel is not None:
            raise SpecError(
                f"parallel={spec.parallel!r}: {card.name} is driven by the generic family; {NO_KNOWLEDGE} (whether "
                "its transformer can be split over GPUs); leave parallel out",
                field="parallel",
            )
        if spec.scheduler is not None:
            raise SpecError(
                f"scheduler={spec.scheduler!r}: {card.name} is driven by the generic family; {NO_KNOWLEDGE} "
                "(which schedulers fit it, with which sigmas and shift); leave scheduler out (its own runs)",
                field="scheduler",
            )
        memory = spec.memory
        plan = memory if isinstance(memory, Mapping) else getattr(memory, "__dict__", {})
        if isinstance(memory, str) and memory in ("fast", "int8", "nf4"):
            raise SpecError(
                f"memory={memory!r}: {card.name} is driven by the generic family, and this plan needs to know "
                "the model (quantization or compile); use 'none', 'balanced', 'low', 'minimal', 'low-fp8' or 'auto'",
                field="memory",
                valid="balanced",
            )
        for key, why in PLAN_REFUSED.items():
            if plan.get(key):
                raise SpecError(
                    f"memory: {key}={plan[key]!r} needs family knowledge ({why}), and {card.name} is driven by the "
                    f"generic family; leave {key} out of the plan",
                    field="memory",
                )

    # ---- the call ----------------------------------------------------------------------------
    def call_kwargs(
        self, spec: CompleteSpec, card: ModelCard, media: Mapping[str, Any], params: AbstractSet[str]
    ) -> dict[str, Any]:
        """The spec's fields under the call's names, where the call takes them; `extra` as given."""
        frames = card.traits["call"]["frames"]
        wanted: dict[str, Any] = {
            "prompt": spec.prompt,
            "height": spec.height,
            "width": spec.width,
            "num_inference_steps": spec.steps,
            "guidance_scale": spec.guidance_scale,
        }
        if frames:
            wanted[frames] = spec.num_frames
        if spec.negative_prompt is not None:
            wanted["negative_prompt"] = spec.negative_prompt
        for key in MEDIA_PARAMS:
            if media.get(key) is not None:
                wanted[key] = media[key]
        kwargs = {k: v for k, v in wanted.items() if k in params}
        kwargs.update(spec.extra)
        return kwargs

    def call(self, pipe: Any, kwargs: dict[str, Any], spec: CompleteSpec) -> tuple[Any, dict[str, Any]]:
        """One call, and the note that no family rules were checked (`metadata["generic"]`)."""
        return pipe(**kwargs), {"generic": NOTE}


FAMILY = GenericFamily(())
