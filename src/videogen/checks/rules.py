"""Checking a spec against its model card, before any weight loads: fast, pure Python."""

from __future__ import annotations

import math
import numbers
import secrets
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import SnapWarning, SpecError, user_stacklevel
from ..families.card import nearest_frame_count, nearest_multiple  # noqa: F401 - also named here
from ..spec.inputs import INPUTS, MEDIA_FIELDS
from ..spec.numbers import check_extra_values, check_numbers, whole_int  # noqa: F401 - also named here
from ..spec.videospec import CompleteSpec, VideoSpec
from ..speed import settings as caching
from . import fit as fitting

if TYPE_CHECKING:
    from ..catalog.lookup import ModelCard
    from ..families.base import Family

TASK_INPUTS = {
    "i2v": ("image",),
    "flf2v": ("image", "last_image"),
    "v2v": ("video",),
    "extend": ("video",),
    "animate": ("image", "pose_video", "face_video"),  # Wan Animate: the character, driven by the videos
    "replace": ("image", "pose_video", "face_video", "video", "mask"),  # ... put into `video` where `mask` is
}
#: task → the input whose frames the video follows (num_frames: its length by default, at most its length)
TASK_FRAMES = {"v2v": "video", "animate": "pose_video", "replace": "pose_video"}
#: inputs a task may take besides those it needs (a family may add its own: `Family.inputs`)
TASK_OPTIONAL = {"conditioned": ("image", "last_image", "video")}
TASK_WORDS = {
    "t2v": "text-to-video",
    "i2v": "image-to-video",
    "flf2v": "first-last-frame-to-video",
    "v2v": "video-to-video",
    "conditioned": "conditioned generation",
    "extend": "video extension",
    "animate": "character animation",
    "replace": "character replacement",
}
MAX_SEED = 2**63 - 1
#: the schedulers' num_train_timesteps: more inference steps than training timesteps can't be scheduled
MAX_STEPS = 1000
MAX_FPS = 240
#: classifier-free guidance multiplies the gap between the conditional and unconditional predictions;
#: far beyond ~20 the latents overflow to a black or saturated video
MAX_GUIDANCE = 100.0
#: height/width at most max(SIZE_FACTOR × the card's default, MIN_SIZE_LIMIT)
SIZE_FACTOR, MIN_SIZE_LIMIT = 4, 2048
#: num_frames (cards without max_frames) at most max(FRAMES_FACTOR × the card's default, MIN_FRAMES_LIMIT)
FRAMES_FACTOR, MIN_FRAMES_LIMIT = 8, 257
#: families that generate window by window in constant memory: num_frames up to this many seconds at the fps
LONG_VIDEO_SECONDS = {"framepack": 120}
#: numbers in `extra` beyond int64 can't become tensors or C integers


@dataclass
class Rules:
    """Applies one rule at a time: returns the value, or raises SpecError, or rounds it when `snap`."""

    card: ModelCard
    snap: bool
    snapped: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the spec fields the user set (the rest were filled from the card's defaults)
    given: frozenset[str] = frozenset()
    #: sides videogen derived from the image (`fit="follow"`): a rule fixes them without a word, as a default
    derived: frozenset[str] = frozenset()
    #: what validation decided that the metadata records beside the spec ("fit": the images fitted)
    notes: dict[str, Any] = field(default_factory=dict)

    def fix(self, name: str, value: Any, valid: Any, rule: str, field: str | None = None) -> Any:
        """`value` if it equals `valid`; otherwise `valid` with a warning (snap) or a SpecError.

        `field` is the SpecError's field when it differs from `name` (e.g. "extra" for
        `name="extra['frame_index']"`).
        """
        if value == valid or name in self.derived:
            return valid
        if self.snap:
            message = f"snap: {name}={value!r} → {valid!r} ({rule})"
            warnings.warn(message, SnapWarning, stacklevel=user_stacklevel())
            self.snapped[name] = {"requested": value, "used": valid, "rule": rule}
            return valid
        raise SpecError(
            f"{name}={value!r} is not valid for {self.card.name}: {rule}; nearest valid value: "
            f"{name}={valid!r} (or pass snap=True to round automatically)",
            field=field or name,
            valid=valid,
        )

    def refuse(self, name: str, message: str, valid: Any = None) -> None:
        """A rule `snap` can't fix."""
        raise SpecError(f"{name}: {message}", field=name, valid=valid)


def _int_field(
    spec: VideoSpec, name: str, minimum: int = 1, example: int = 1, maximum: int | None = None, why: str = ""
) -> int | None:
    """The field as an int: a whole, finite number (not a bool) in [minimum, maximum], else a SpecError.

    `why` explains the maximum in the message.
    """
    value = getattr(spec, name)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or (not isinstance(value, numbers.Integral) and (not math.isfinite(value) or value != math.floor(value)))
    ):
        raise SpecError(f"{name}={value!r} must be a whole number (e.g. {name}={example})", field=name, valid=example)
    whole = whole_int(value)
    if whole < minimum:
        raise SpecError(
            f"{name}={value!r} must be at least {minimum} (e.g. {name}={example})", field=name, valid=minimum
        )
    if maximum is not None and whole > maximum:
        raise SpecError(
            f"{name}={value!r} must be at most {maximum}{why} (e.g. {name}={example})", field=name, valid=maximum
        )
    return whole


def _float_field(
    spec: VideoSpec, name: str, minimum: float, example: float, maximum: float | None = None, why: str = ""
) -> float | None:
    """The field as a float: a finite number (not a bool) in [minimum, maximum], else a SpecError."""
    value = getattr(spec, name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise SpecError(f"{name}={value!r} must be a finite number (e.g. {name}={example})", field=name, valid=example)
    number = float(value)
    if number < minimum:
        raise SpecError(
            f"{name}={value!r} must be at least {minimum} (e.g. {name}={example})", field=name, valid=minimum
        )
    if maximum is not None and number > maximum:
        raise SpecError(
            f"{name}={value!r} must be at most {maximum:g}{why} (e.g. {name}={example})", field=name, valid=maximum
        )
    return number


def size_limit(card: ModelCard, name: str) -> int:
    """The largest height (or width) videogen accepts for `card`: max(4 × its default, 2048)."""
    return max(SIZE_FACTOR * getattr(card, name), MIN_SIZE_LIMIT)


def frames_limit(card: ModelCard) -> tuple[int, str]:
    """The largest num_frames videogen accepts for `card`, and why (for the message).

    A card's own `max_frames` is a rule (snap=True rounds to it); this bound is the hard limit above it.
    """
    seconds = LONG_VIDEO_SECONDS.get(card.family)
    if seconds:
        why = f" for {card.name} ({seconds} s at its {card.fps} fps; {card.family} generates window by window)"
        return max(seconds * card.fps, card.max_frames or 0), why
    limit = max(FRAMES_FACTOR * card.num_frames, MIN_FRAMES_LIMIT, card.max_frames or 0)
    return limit, (
        f" for {card.name} (the larger of {MIN_FRAMES_LIMIT} and {FRAMES_FACTOR}× its default {card.num_frames})"
    )


def check_task(spec: VideoSpec, card: ModelCard, family: Family | None = None) -> str:
    """The task, checked against what the model does and what inputs it needs (`family` names the models
    that do it in the error)."""
    task = spec.inferred_task()
    if task not in card.tasks:
        others = family.cards_doing(task, card) if family is not None else []
        hint = f"; models of this family that do it: {', '.join(others[:4])}" if others else ""
        if task == "v2v" and not spec.task and "extend" in card.tasks:  # the same input, the task it does
            hint += "; to continue the video instead, pass task='extend'"
        inputs = [k for k in MEDIA_FIELDS if getattr(spec, k) is not None]
        shown = ", ".join(inputs) or "no image or video"
        given = f" (inferred from the inputs given: {shown})" if not spec.task else ""
        if card.tasks and all(t in TASK_INPUTS for t in card.tasks) and task == "t2v":
            needed = " and ".join(TASK_INPUTS[card.tasks[0]])
            raise SpecError(
                f"image: {card.name} does {TASK_WORDS[card.tasks[0]]} only and needs {needed}; pass "
                f"{TASK_INPUTS[card.tasks[0]][0]}=<path, URL, PIL image or array>",
                field=TASK_INPUTS[card.tasks[0]][0],
            )
        raise SpecError(
            f"task={task!r}{given}: {card.name} does not do {TASK_WORDS.get(task, task)}; "
            f"its tasks are {', '.join(card.tasks)}{hint}",
            field="task",
            valid=card.tasks,
        )
    for name in TASK_INPUTS.get(task, ()):
        if getattr(spec, name) is None:
            raise SpecError(
                f"{name} is required for {TASK_WORDS[task]} (task={task!r}); pass {name}=<path, URL, "
                f"PIL image{' list' if INPUTS[name].kind == 'video' else ''} or array>",
                field=name,
            )
    for name in MEDIA_FIELDS:  # an input the task doesn't take is refused, never ignored
        if getattr(spec, name) is not None and name not in task_takes(task, family):
            doing = [t for t in card.tasks if name in task_takes(t, family)]
            where = (
                f"{card.name} takes it for task {' or '.join(repr(t) for t in doing)}"
                if doing
                else f"{card.name} takes no {name}"
            )
            raise SpecError(
                f"{name} is not used by {TASK_WORDS.get(task, task)} (task={task!r}); leave it out or choose the "
                f"task that takes it ({where})",
                field=name,
            )
    return task


def task_takes(task: str, family: Family | None) -> set[str]:
    """The inputs `task` takes: those it needs (`TASK_INPUTS`), those it may take (`TASK_OPTIONAL`) and those
    the family reads for it (`Family.inputs`: VACE's mask and reference images)."""
    own = family.inputs.get(task, ()) if family is not None else ()
    return {*TASK_INPUTS.get(task, ()), *TASK_OPTIONAL.get(task, ()), *own}


def complete(spec: VideoSpec, card: ModelCard, family: Family, media: dict[str, Any]) -> tuple[CompleteSpec, Rules]:
    """The spec with defaults filled and every rule of the card and the family enforced.

    `media` (the loaded inputs) is updated with what the family's check returns: the media the call gets."""
    given = frozenset(name for name in VideoSpec.__dataclass_fields__ if getattr(spec, name) is not None)
    if spec.snap is not None and not isinstance(spec.snap, bool):
        raise SpecError(
            f"snap={spec.snap!r} must be True or False (True rounds size and frames to the nearest "
            "valid values with a warning)",
            field="snap",
            valid=False,
        )
    rules = Rules(card=card, snap=bool(spec.snap), given=given)
    caching.parse(spec.cache)  # the value's own form first: method name, knob names and ranges
    task = check_task(spec, card, family)

    for name in ("prompt", "negative_prompt"):
        value = getattr(spec, name)
        if value is not None and not isinstance(value, str):
            raise SpecError(f"{name} must be a string, not {type(value).__name__}", field=name)
    if not family.accepts_prompt:
        for name in ("prompt", "negative_prompt"):
            if getattr(spec, name):
                raise SpecError(
                    f"{name}: {card.name} has no text encoder and takes no {name.replace('_', ' ')}; "
                    f"leave {name} out (it is conditioned on the image alone)",
                    field=name,
                )
    elif not (spec.prompt or "").strip() and task != "conditioned":
        raise SpecError(
            f"prompt is required for {card.name}: describe the video, e.g. prompt='a cat surfing a wave'",
            field="prompt",
        )

    size_why = {
        name: f" for {card.name} (the larger of {MIN_SIZE_LIMIT} and {SIZE_FACTOR}× its default {getattr(card, name)})"
        for name in ("height", "width")
    }
    height = _int_field(spec, "height", 8, card.height, size_limit(card, "height"), size_why["height"])
    width = _int_field(spec, "width", 8, card.width, size_limit(card, "width"), size_why["width"])
    num_frames = _int_field(spec, "num_frames", 1, card.num_frames, *frames_limit(card))
    fps = _int_field(spec, "fps", 1, card.fps, MAX_FPS)
    steps = _int_field(
        spec, "steps", 1, card.steps, MAX_STEPS, " (the schedulers' training timesteps: more steps can't be scheduled)"
    )
    guidance = _float_field(
        spec,
        "guidance_scale",
        0.0,
        card.guidance_scale,
        MAX_GUIDANCE,
        " (guidance multiplies the gap between the prompted and unprompted predictions; "
        "far beyond 20 the video saturates, and huge values overflow to black)",
    )
    seed = _int_field(spec, "seed", 0, 42, MAX_SEED, " (seeds are 63-bit)")
    if not isinstance(spec.extra, dict) or not all(isinstance(k, str) for k in spec.extra):
        raise SpecError("extra must be a dict of keyword arguments for the pipeline", field="extra")
    check_extra_values(spec.extra)
    for key in spec.extra:
        if key in family.reserved_call_kwargs():
            own = {"num_inference_steps": "steps", family.frames_param: "num_frames"}.get(key, key)
            raise SpecError(
                f"extra[{key!r}] is set by videogen; use the spec field "
                f"{own if own in VideoSpec.__dataclass_fields__ else 'for it'} instead",
                field="extra",
            )

    strength = spec.extra.get("strength")
    if (
        task == "v2v"
        and strength is not None
        and (isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 < strength <= 1)
    ):
        raise SpecError(
            f"extra['strength']={strength!r} must be a number in (0, 1]: the share of the video's schedule "
            "that is re-noised (e.g. extra={'strength': 0.7})",
            field="extra",
        )

    source = TASK_FRAMES.get(task)  # the input whose frames the video follows: its length by default, at most
    video = media.get(source) if source else None
    if video is not None:
        if num_frames is None:
            num_frames = len(video)
        elif num_frames > len(video):
            what = "the input video" if source == "video" else source
            raise SpecError(
                f"num_frames={num_frames} is more than {what}'s {len(video)} frames; "
                f"pass num_frames={len(video)} or fewer (or leave it out)",
                field="num_frames",
                valid=len(video),
            )

    limits = (size_limit(card, "height"), size_limit(card, "width"))
    height, width, rules.derived = fitting.follow_size(spec.fit, media, card, height, width, limits)
    height = height if height is not None else card.height
    width = width if width is not None else card.width
    num_frames = num_frames if num_frames is not None else card.num_frames

    if card.sizes:
        if (height, width) not in card.sizes:
            asked = (height, width)
            nearest = min(card.sizes, key=lambda hw: abs(hw[0] - asked[0]) + abs(hw[1] - asked[1]))
            shown = ", ".join(f"{h}x{w}" for h, w in card.sizes)
            rule = f"it only runs at {shown} (height x width)"
            height = rules.fix("height", height, nearest[0], rule)
            width = rules.fix("width", width, nearest[1], rule)
    else:
        m = card.size_multiple
        height = rules.fix("height", height, nearest_multiple(height, m), f"height must be a multiple of {m}")
        width = rules.fix("width", width, nearest_multiple(width, m), f"width must be a multiple of {m}")

    if card.frame_rule is not None:
        step, offset = card.frame_rule
        valid = nearest_frame_count(num_frames, step, offset, card.max_frames)
        if video is not None and valid > len(video):
            valid -= step
        form = f"{step}k+{offset}" if offset else f"a multiple of {step}"
        limit = f", at most {card.max_frames}" if card.max_frames else ""
        num_frames = rules.fix("num_frames", num_frames, valid, f"num_frames must be {form}{limit}")
    elif card.max_frames is not None and num_frames > card.max_frames:
        num_frames = rules.fix(
            "num_frames", num_frames, card.max_frames, f"num_frames must be at most {card.max_frames}"
        )

    if seed is None:
        seed = secrets.randbits(63)
    done = CompleteSpec.of(
        spec,
        task=task,
        height=height,
        width=width,
        num_frames=num_frames,
        fps=fps if fps is not None else card.fps,
        steps=steps if steps is not None else card.steps,
        guidance_scale=guidance if guidance is not None else card.guidance_scale,
        seed=seed,
    )
    if task == "v2v":
        done = done.replace(steps=v2v_steps(done, family.v2v_strength, rules))
    done, checked_media = family.check(done, card, rules, media)
    media.update(checked_media)  # what the family's check changed (a video resized by snap, LTX's conditions)
    h, w = done.height, done.width
    fitted = fitting.fit_inputs(media, h, w, done.fit, rules.given, rules.derived)  # the one place images fit
    if fitted is not None:
        rules.notes["fit"] = fitted
    done = done.replace(cache=caching.resolve(done.cache, done, card, family))  # the completed setting
    return done, rules


def v2v_steps(spec: VideoSpec, default_strength: float, rules: Rules) -> int:
    """Video-to-video denoises `int(steps * strength)` steps (diffusers' `get_timesteps`): at least one."""
    strength = spec.extra.get("strength", default_strength)
    steps = int(spec.steps or 0)
    if not isinstance(strength, (int, float)) or isinstance(strength, bool) or not 0 < strength <= 1:
        return steps  # refused on extra by the strength rule
    if int(steps * strength) >= 1:
        return steps
    needed = math.ceil(1 / strength)
    while int(needed * strength) < 1:  # float rounding
        needed += 1
    return rules.fix(
        "steps",
        steps,
        needed,
        f"video-to-video runs int(steps * strength) denoising steps and strength is {strength}, "
        f"so steps must be at least {needed} (or raise extra['strength'])",
    )
