"""`generate(spec)`: resolve → validate → plan → features check → load (cached) → features on → call →
features record → VideoResult. No feature is named here: each is a module of `features/`."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from ..catalog.lookup import ModelCard, resolve
from ..checks.arguments import check_call
from ..checks.rules import complete
from ..errors import Cancelled, SpecError
from ..families import get_family
from ..families.base import Family
from ..spec.videospec import SPEC_FIELDS, CompleteSpec, VideoSpec
from .output import make_result
from .result import VideoResult

logger = logging.getLogger("videogen")

OnStep = Callable[[int, int], Any]
#: held while a family that draws from the global torch RNG runs, so its draws stay reproducible
_GLOBAL_RNG_LOCK = threading.Lock()


def build_spec(spec: VideoSpec | Mapping[str, Any] | None, fields: Mapping[str, Any]) -> VideoSpec:
    """One VideoSpec from a spec (or a dict) and keyword fields (which win)."""
    unknown = sorted(set(fields) - set(SPEC_FIELDS))
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], SPEC_FIELDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SpecError(
            f"{unknown[0]!r} is not a VideoSpec field{hint}; fields: {', '.join(SPEC_FIELDS)}. "
            "Pipeline-specific arguments go in extra={...}",
            field=unknown[0],
        )
    if spec is None:
        return VideoSpec(**fields)
    if isinstance(spec, Mapping):
        return build_spec(None, {**spec, **fields})
    if not isinstance(spec, VideoSpec):
        raise SpecError(f"spec must be a videogen.VideoSpec, not {type(spec).__name__}", field="spec")
    return spec.replace(**fields) if fields else spec


def load_media(spec: VideoSpec) -> dict[str, Any]:
    """The spec's inputs read by their kind (spec/inputs.py): PIL images, lists of frames (errors name the
    field), before any weight loads."""
    from ..media.inputs import read_input
    from ..spec.inputs import INPUTS

    return {
        name: read_input(i.kind, getattr(spec, name), name)
        for name, i in INPUTS.items()
        if getattr(spec, name) is not None
    }


@dataclass
class Prepared:
    """A spec checked against its card, with everything decided that needs no weights."""

    spec: CompleteSpec
    card: ModelCard
    family: Family
    media: dict[str, Any]
    device: str
    plan: Any
    class_name: str
    snapped: dict[str, Any] = field(default_factory=dict)
    validate_seconds: float = 0.0
    #: what was decided before load that the metadata records: "fit" (images fitted), "cache" (cache="auto")
    notes: dict[str, Any] = field(default_factory=dict)
    #: the spec's step cache as asked for, before validation completed it ("auto" is settled against the plan)
    requested_cache: Any = None
    #: what the caller asked of this call besides the spec (`generate`'s `on_preview`, `preview_every`):
    #: each feature reads its own
    options: dict[str, Any] = field(default_factory=dict)


def prepare(spec: VideoSpec | Mapping[str, Any] | None = None, **fields: Any) -> Prepared:
    """Resolve, validate and plan a spec without loading any weights (what `plan` and errors need)."""
    start = time.perf_counter()
    spec = build_spec(spec, fields)
    card = resolve(spec.model, revision=spec.revision)
    if card.revision != spec.revision:  # `org/repo@rev`, or the catalog's pinned revision: recorded in the spec
        spec = spec.replace(revision=card.revision)
    family = get_family(card.family)
    media = load_media(spec)
    requested_cache = spec.cache
    spec, rules = complete(spec, card, family, media)
    class_name = card.pipeline_class(spec.inferred_task(), family)
    check_call(spec, card, family, class_name)  # extra, scheduler, LoRAs: stored signatures, no torch
    from ..memory.resolve import resolve_plan  # after every pure check: a spec error needs none of this (torch)
    from ..runtime.devices import pick_device

    device = pick_device()
    plan = resolve_plan(spec.memory, spec, card, family, device, media)
    from ..memory.components import pipeline_components  # the components' configs: stored or the folder's

    components, _ = pipeline_components(card, class_name)
    family.check_components(spec, card, {c.name: c.config for c in components if c.config})
    from ..memory.stored import save_learned
    from .features import FEATURES

    save_learned()  # what planning read live, for the next process (memory/stored.py)
    prepared = Prepared(
        spec=spec,
        card=card,
        family=family,
        media=media,
        device=device,
        plan=plan,
        class_name=class_name,
        snapped=rules.snapped,
        notes=dict(rules.notes),
        requested_cache=requested_cache,
    )
    for feature in FEATURES:  # refusals before load, and what a feature settles (cache="auto")
        prepared = feature.check(prepared)
    prepared.validate_seconds = time.perf_counter() - start
    return prepared


def generate(
    spec: VideoSpec | Mapping[str, Any] | None = None,
    *,
    on_step: OnStep | None = None,
    progress: bool = True,
    cancel: Any = None,
    on_preview: Callable[..., Any] | None = None,
    preview_every: int | None = None,
    **fields: Any,
) -> VideoResult:
    """Generate one video. `spec` and/or keyword fields (`model=..., prompt=...`) describe it.

    `on_step(step, total)` runs after each denoising step; returning False cancels (`Cancelled`).
    `cancel`: a `videogen.CancelToken` (or a `threading.Event`) another thread may set: the generation stops
    with `Cancelled` at its next checkpoint (during loading, after a step, before a VAE decode chunk).
    `on_preview(image, step, total)` receives a small RGB preview (PIL) of the current denoised estimate every
    `preview_every` steps (default 1) and after the last. `progress=False` silences the progress bar. Safe to
    call from several threads.
    """
    start = time.perf_counter()
    options = {k: v for k, v in (("on_preview", on_preview), ("preview_every", preview_every)) if v is not None}
    prepared = prepare(spec, **fields)
    if options:
        prepared.options.update(options)
    from .features import FEATURES

    for feature in FEATURES:  # the options checked (a feature's own) before anything loads
        prepared = feature.check_options(prepared)
    return run(prepared, on_step=on_step, progress=progress, started=start, cancel=cancel)


def run(
    prepared: Prepared,
    *,
    on_step: OnStep | None = None,
    progress: bool = True,
    started: float | None = None,
    cancel: Any = None,
) -> VideoResult:
    """Load (cached) and call the pipeline for a prepared spec; `cancel` as `generate` takes it.

    On a GPU out-of-memory error, when the memory plan allows it (memory="auto" or `oom_retry`), the
    attempt is freed and the call retried once with the next more frugal plan.
    """
    from ..runtime.cancel import cancelling, check_flag

    with cancelling(check_flag(cancel)):
        try:
            return _run(prepared, on_step=on_step, progress=progress, started=started)
        except Exception as exc:
            retry = _retry_after_oom(exc, prepared)
            if retry is None:
                raise
        _free_attempt(prepared, retry)
        return _run(retry, on_step=on_step, progress=progress, started=started)


def preload(spec: VideoSpec | Mapping[str, Any] | None = None, *, progress: bool = True, **fields: Any) -> dict:
    """Load the pipeline a spec needs into the pipeline cache without generating (a server's warm-up): the
    next `generate` of a spec with the same model, plan and features finds it loaded. The spec is checked as
    `generate` checks it (a bad spec raises its SpecError, nothing loads). Returns what happened: `loaded`
    (False: it was already cached), `load_s`, `weight_bytes` (the planner's figure the cache counts)."""
    prepared = prepare(spec, **fields)
    cls, _ = check_before_load(prepared)
    entry, loaded = load_entry(prepared, cls, progress)
    return {
        "model": prepared.card.name,
        "loaded": loaded,
        "load_s": round(entry.load_seconds, 4) if loaded else 0.0,
        "weight_bytes": entry.weight_bytes,
    }


def load_entry(p: Prepared, cls: Any, progress: bool) -> tuple[Any, bool]:
    """The pipeline cache's entry for a prepared spec (loaded on a miss, after the features' before_load and
    followed by their after_load), and whether this call loaded it."""
    from ..loading.pipelines import CACHE, load_pipeline
    from ..memory.quantize import load_kwargs
    from .features import FEATURES
    from .footprint import weight_bytes

    loaded: list[bool] = []  # set by this call's loader only (other threads may load other models meanwhile)

    def loader() -> tuple[Any, str | None]:
        loaded.append(True)
        for feature in FEATURES:
            feature.before_load(p)
        pipe, revision = load_pipeline(p.card, p.family, cls, load_kwargs(p.plan, p.card, p.device), progress)
        for feature in FEATURES:
            feature.after_load(pipe, p)
        return pipe, revision

    key = cache_key(p)
    figure = weight_bytes(p) if CACHE.peek(key) is None else None
    return CACHE.get(key, loader, weight_bytes=figure), bool(loaded)


def _retry_after_oom(exc: BaseException, prepared: Prepared) -> Prepared | None:
    """`prepared` with the plan to retry with (memory.oom) when `exc` is a GPU out-of-memory error its
    plan may retry; None otherwise."""
    import dataclasses

    from ..memory.context import context
    from ..memory.oom import is_oom, retry_plan
    from .features import FEATURES

    plan = prepared.plan
    if not is_oom(exc) or not getattr(plan, "oom_retry", False):
        return None
    refusing = [f.name for f in FEATURES if not f.may_retry(prepared)]
    if refusing:
        logger.warning("out of memory under %s: no retry", ", ".join(refusing))
        return None
    following = retry_plan(exc, plan, context(prepared.card, prepared.class_name, prepared.device))
    if following is None:
        logger.warning("out of memory with memory plan %s and no more frugal plan to retry with", plan.name)
        return None
    logger.warning(
        "out of memory with memory plan %s; freeing the attempt and retrying once with %s", plan.name, following.name
    )
    return dataclasses.replace(prepared, plan=following)


def _free_attempt(prepared: Prepared, retry: Prepared) -> None:
    """Release what the failed attempt held: its cached pipeline when the retry needs another load."""
    from ..loading.pipelines import CACHE
    from ..runtime.devices import free_memory

    if prepared.plan.load_part() != retry.plan.load_part():
        CACHE.evict(cache_key(prepared))
    free_memory()


def cache_key(p: Prepared) -> tuple:
    """The pipeline cache key of a prepared spec: the model, the device, the plan's load-time part and each
    feature's part (e.g. a pipeline split over GPUs is never reused for another setting)."""
    from ..memory.quantize import load_key
    from .features import FEATURES

    parts = tuple(f.cache_key(p) for f in FEATURES)
    return (p.card.name, p.card.source, p.card.revision, p.device, load_key(p.plan), *parts)


def check_before_load(prepared: Prepared) -> tuple[Any, frozenset[str]]:
    """The checks before weights load that need the pipeline's classes imported: the scheduler built with the
    spec's arguments (`prepare` checked `extra`, the scheduler's name and arguments and the LoRAs from the
    stored signatures, without importing anything). Returns the pipeline class and its call parameters."""
    from ..catalog.signatures import pipeline_signature
    from ..loading.pipelines import pipeline_class
    from .features import FEATURES

    cls = pipeline_class(prepared.class_name)
    for feature in FEATURES:
        feature.check_before_load(prepared)
    return cls, pipeline_signature(prepared.class_name).names


def _run(
    prepared: Prepared, *, on_step: OnStep | None = None, progress: bool = True, started: float | None = None
) -> VideoResult:
    from ..runtime.cancel import checkpoint
    from ..runtime.devices import reset_peak
    from .features import FEATURES

    started = started if started is not None else time.perf_counter()
    p = prepared
    progress = progress and all(f.shows_progress(p) for f in FEATURES)
    cls, params = check_before_load(p)
    entry, loaded = load_entry(p, cls, progress)
    checkpoint("after the load, before the call")  # a load that finished stays cached for the next call
    with entry.lock:
        pipe = entry.pipeline(cls)
        for feature in FEATURES:
            feature.prepare_pipeline(pipe, p, entry.state)
        kwargs = p.family.call_kwargs(p.spec, p.card, call_media(p), params)
        for feature in FEATURES:
            kwargs.update({k: v for k, v in feature.call_arguments(p, params).items() if k not in p.spec.extra})
        call_start = time.perf_counter()
        reset_peak(p.device)
        with contextlib.ExitStack() as stack:  # each feature on for this call only
            during = [stack.enter_context(f.around_call(pipe, p)) for f in FEATURES]
            output, called = _call(pipe, p.family, p.spec, kwargs, params, on_step, progress, p.device)
        sound = p.family.audio(output, pipe)  # (waveform, sample rate) or None: silent families
        call_seconds = time.perf_counter() - call_start
    records = {k: v for f, d in zip(FEATURES, during) for k, v in f.record(pipe, p, d).items()}
    records.update(called)  # what the family's call records (LTX-2: its stages, the enhanced prompt)
    timings = {"load_s": round(entry.load_seconds, 4) if loaded else 0.0, "cached": not loaded}
    timings.update(call_s=round(call_seconds, 4), total_s=round(time.perf_counter() - started, 4))
    return make_result(p, output, kwargs, entry.revision, records, timings, sound)


def call_media(p: Prepared) -> dict[str, Any]:
    """The spec's media as the call takes them (a v2v video cut to the frames asked for)."""
    media = dict(p.media)
    if p.spec.task == "v2v" and "video" in media:
        media["video"] = media["video"][: p.spec.num_frames]
    return media


def _call(
    pipe: Any,
    family: Family,
    spec: CompleteSpec,
    kwargs: dict[str, Any],
    params: AbstractSet[str],
    on_step: OnStep | None,
    progress: bool,
    device: str,
) -> tuple[Any, dict[str, Any]]:
    """Call the pipeline with videogen's generator, step callbacks and progress setting (through the family's
    `call`): its output and what the family records of the call."""
    import torch

    from ..runtime.cancel import checkpoint

    total = family.total_steps(spec, kwargs)
    counter = {"step": 0}

    def tick() -> None:
        counter["step"] += 1
        if on_step is not None:
            try:
                keep_going = on_step(counter["step"], total)
            except BaseException:
                counter["on_step_raised"] = True  # the caller's own error: passed on untouched
                raise
            if keep_going is False:
                raise Cancelled(f"cancelled by on_step after step {counter['step']} of {total}")
        checkpoint(f"after step {counter['step']} of {total}")

    scheduler_step_counted = None  # the scheduler whose `step` is wrapped, to unwrap afterwards
    if "callback_on_step_end" in params:

        def on_step_end(_pipe: Any, _i: int, _t: Any, _kw: dict) -> dict:
            tick()
            return {}

        kwargs["callback_on_step_end"] = on_step_end
    elif "callback" in params:
        kwargs["callback"] = lambda _i, _t, _latents: tick()
        kwargs["callback_steps"] = 1
    else:  # pipelines without callbacks (I2VGen-XL): count the scheduler's steps
        scheduler_step_counted = pipe.scheduler
        original_step = scheduler_step_counted.step

        def counted_step(*args: Any, **kw: Any) -> Any:
            out = original_step(*args, **kw)
            tick()
            return out

        scheduler_step_counted.step = counted_step

    pipe.set_progress_bar_config(disable=not progress)
    generator = torch.Generator(device="cpu").manual_seed(spec.seed)
    rng_devices = [torch.cuda.current_device()] if device.startswith("cuda") else []
    rng_lock = _GLOBAL_RNG_LOCK if family.uses_global_rng else contextlib.nullcontext()
    try:
        with rng_lock, torch.random.fork_rng(devices=rng_devices):
            torch.manual_seed(spec.seed)
            with family.call_context(pipe, spec):
                call = {**kwargs, "generator": generator, "output_type": "np", "return_dict": True}
                return family.call(pipe, call, spec)
    except (TypeError, ValueError) as exc:
        if not spec.extra or isinstance(exc, SpecError) or counter.get("on_step_raised"):
            raise
        # the spec's own fields were checked; what the pipeline refuses now comes from `extra`'s values
        raise SpecError(
            f"extra: {type(pipe).__name__} refused the call ({type(exc).__name__}: {exc}); check the values "
            f"of {', '.join(f'{k}={v!r}' for k, v in spec.extra.items())}",
            field="extra",
        ) from exc
    finally:
        if scheduler_step_counted is not None:
            del scheduler_step_counted.step
