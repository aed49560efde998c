"""`generate(spec)`: resolve → validate → plan → load (cached) → call → VideoResult. Nothing else."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from .caching import check_plan, settle_auto
from .call_output import call_record, to_uint8, with_card_call_defaults
from .callcheck import check_call
from .catalog import ModelCard, resolve
from .errors import Cancelled, SpecError
from .families import get_family
from .families.base import Family
from .result import VideoResult
from .spec import SPEC_FIELDS, VideoSpec
from .validate import complete

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
    """The spec's images and video as PIL images (errors name the field), before any weight loads."""
    from .media import to_frames, to_pil

    media: dict[str, Any] = {}
    for name in ("image", "last_image"):
        if getattr(spec, name) is not None:
            media[name] = to_pil(getattr(spec, name), name)
    if spec.video is not None:
        media["video"] = to_frames(spec.video, "video")
    return media


@dataclass
class Prepared:
    """A spec checked against its card, with everything decided that needs no weights."""

    spec: VideoSpec
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
    from .memory import resolve_plan  # after every pure check: a spec error needs none of this (torch)
    from .runtime import pick_device

    device = pick_device()
    plan = resolve_plan(spec.memory, spec, card, family, device, media)
    from .memory.components import pipeline_components  # the components' configs: stored or the folder's

    components, _ = pipeline_components(card, class_name)
    family.check_components(spec, card, {c.name: c.config for c in components if c.config})
    from .parallel import CACHE_REFUSALS
    from .parallel import check as check_parallel  # parallel: refusals before load (docs/scale.md)

    refused = CACHE_REFUSALS if spec.parallel is not None else {}
    spec, cache_note = settle_auto(requested_cache, spec, card, family, plan, refused)  # "auto" never fails
    check_plan(spec.cache, plan)  # a step cache with a plan it doesn't combine with (compile)

    check_parallel(spec, card, family, class_name, plan, device)
    from .memory.stored import save_learned

    save_learned()  # what planning read live, for the next process (memory/stored.py)
    return Prepared(
        spec=spec,
        card=card,
        family=family,
        media=media,
        device=device,
        plan=plan,
        class_name=class_name,
        snapped=rules.snapped,
        validate_seconds=time.perf_counter() - start,
        notes={**rules.notes, **({"cache": cache_note} if cache_note else {})},
    )


def generate(
    spec: VideoSpec | Mapping[str, Any] | None = None,
    *,
    on_step: OnStep | None = None,
    progress: bool = True,
    **fields: Any,
) -> VideoResult:
    """Generate one video. `spec` and/or keyword fields (`model=..., prompt=...`) describe it.

    `on_step(step, total)` runs after each denoising step; returning False cancels (`Cancelled`).
    `progress=False` silences the progress bar. Safe to call from several threads.
    """
    start = time.perf_counter()
    prepared = prepare(spec, **fields)
    return run(prepared, on_step=on_step, progress=progress, started=start)


def run(
    prepared: Prepared, *, on_step: OnStep | None = None, progress: bool = True, started: float | None = None
) -> VideoResult:
    """Load (cached) and call the pipeline for a prepared spec.

    On a GPU out-of-memory error, when the memory plan allows it (memory="auto" or `oom_retry`), the
    attempt is freed and the call retried once with the next more frugal plan.
    """
    try:
        return _run(prepared, on_step=on_step, progress=progress, started=started)
    except Exception as exc:
        retry = _retry_after_oom(exc, prepared)
        if retry is None:
            raise
    _free_attempt(prepared, retry)
    return _run(retry, on_step=on_step, progress=progress, started=started)


def _retry_after_oom(exc: BaseException, prepared: Prepared) -> Prepared | None:
    """`prepared` with the plan to retry with (memory.oom) when `exc` is a GPU out-of-memory error its
    plan may retry; None otherwise."""
    import dataclasses

    from .memory.context import context
    from .memory.oom import is_oom, retry_plan

    plan = prepared.plan
    if not is_oom(exc) or not getattr(plan, "oom_retry", False):
        return None
    if prepared.spec.parallel is not None:  # parallel: one rank retrying alone would hang the others
        logger.warning("out of memory under parallel=%s: no retry (every rank would have to)", prepared.spec.parallel)
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
    from .pipeline import CACHE
    from .runtime import free_memory

    if prepared.plan.load_part() != retry.plan.load_part():
        CACHE.evict(cache_key(prepared))
    free_memory()


def cache_key(p: Prepared) -> tuple:
    """The pipeline cache key of a prepared spec: the model, the device, the plan's load-time part and the
    parallel setting (a pipeline split over GPUs is never reused for another setting)."""
    from .memory import load_key
    from .parallel import cache_part

    return (p.card.name, p.card.source, p.card.revision, p.device, load_key(p.plan), cache_part(p.spec.parallel))


def check_before_load(prepared: Prepared) -> tuple[Any, frozenset[str]]:
    """The checks before weights load that need the pipeline's classes imported: the scheduler built with the
    spec's arguments (`prepare` checked `extra`, the scheduler's name and arguments and the LoRAs from the
    stored signatures, without importing anything). Returns the pipeline class and its call parameters."""
    from .parallel import check_launch
    from .pipeline import pipeline_class
    from .schedulers import check_scheduler_build
    from .signatures import pipeline_signature

    cls = pipeline_class(prepared.class_name)
    check_scheduler_build(prepared.spec.scheduler, prepared.family.flow_matching)
    check_launch(prepared.spec, prepared.device)  # parallel: started by torchrun, one process per GPU
    return cls, pipeline_signature(prepared.class_name).names


def _run(
    prepared: Prepared, *, on_step: OnStep | None = None, progress: bool = True, started: float | None = None
) -> VideoResult:
    from . import parallel, parallel_run
    from .lora import apply_loras
    from .memory import apply_plan, call_kwargs, load_kwargs
    from .pipeline import CACHE, load_pipeline
    from .runtime import peak_memory, reset_peak, versions
    from .schedulers import scheduler_for_call
    from .specfile import spec_metadata
    from .step_cache import applied

    started = started if started is not None else time.perf_counter()
    p = prepared
    spec, card, family = p.spec, p.card, p.family
    if spec.parallel is not None and not parallel.is_main_process():
        progress = False  # parallel: only rank 0 shows progress
    cls, params = check_before_load(p)

    loaded: list[bool] = []  # set by this call's loader only (other threads may load other models meanwhile)

    def loader() -> tuple[Any, str | None]:
        loaded.append(True)
        if spec.parallel is not None:  # parallel: this rank's GPU and the process group, before the load
            parallel_run.setup(p.device)
        pipe, revision = load_pipeline(card, family, cls, load_kwargs(p.plan, card, p.device), progress)
        parallel_run.enable(pipe, spec.parallel, p.device)  # parallel: on the denoisers right after the load
        return pipe, revision

    entry = CACHE.get(cache_key(p), loader)
    loaded_now = bool(loaded)

    media = dict(p.media)
    if spec.task == "v2v" and "video" in media:
        media["video"] = media["video"][: spec.num_frames]

    with entry.lock:
        pipe = entry.pipeline(cls)
        if entry.state.get("memory_plan") != (p.class_name, p.plan):  # components are shared by classes
            apply_plan(pipe, p.plan, p.device, family, entry.state)
            entry.state["memory_plan"] = (p.class_name, p.plan)
        apply_loras(pipe, spec.loras, entry.state)
        kwargs = family.call_kwargs(spec, card, media, params)
        kwargs.update({k: v for k, v in call_kwargs(p.plan, params).items() if k not in spec.extra})
        call_start = time.perf_counter()
        reset_peak(p.device)
        with (
            scheduler_for_call(pipe, spec.scheduler, card.name, family.flow_matching),
            applied(pipe, spec, card, family) as cache_record,  # on for this call only
        ):
            output = _call(pipe, family, spec, kwargs, params, on_step, progress, p.device)
        call_seconds = time.perf_counter() - call_start

    frames = to_uint8(family.frames(output, spec, card))
    total = time.perf_counter() - started
    spec = with_card_call_defaults(spec, card, kwargs)  # the returned spec alone reproduces the video
    metadata = {
        "versions": versions(),
        "model": {
            "name": card.name,
            "family": card.family,
            "repo": card.repo,
            "revision": entry.revision,
            "pipeline": p.class_name,
        },
        "seed": spec.filled_int("seed"),
        **spec_metadata(spec),  # "spec" (lossless where it can be), "inputs" (their sha256): what replay reads
        "call": call_record(kwargs, spec.filled_int("seed")),
        "device": p.device,
        "memory_plan": p.plan.summary(),
        "cache": cache_record.summary(p.notes.get("cache")),
        "fit": p.notes.get("fit"),  # how the input images met the video's size (fitting.py)
        "parallel": parallel_run.record(pipe, spec.parallel, p.plan),
        "snapped": p.snapped,
        "timings": {
            "validate_s": round(p.validate_seconds, 6),
            "load_s": round(entry.load_seconds, 4) if loaded_now else 0.0,
            "cached": not loaded_now,
            "call_s": round(call_seconds, 4),
            "total_s": round(total, 4),
        },
        "memory": peak_memory(p.device),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return VideoResult(
        frames=frames, fps=spec.filled_int("fps"), seed=spec.filled_int("seed"), spec=spec, metadata=metadata
    )


def _call(
    pipe: Any,
    family: Family,
    spec: VideoSpec,
    kwargs: dict[str, Any],
    params: AbstractSet[str],
    on_step: OnStep | None,
    progress: bool,
    device: str,
) -> Any:
    """Call the pipeline with videogen's generator, step callbacks and progress setting."""
    import torch

    total = family.total_steps(spec, kwargs)
    counter = {"step": 0}

    def tick() -> None:
        counter["step"] += 1
        if on_step is None:
            return
        try:
            keep_going = on_step(counter["step"], total)
        except BaseException:
            counter["on_step_raised"] = True  # the caller's own error: passed on untouched
            raise
        if keep_going is False:
            raise Cancelled(f"cancelled by on_step after step {counter['step']} of {total}")

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
    generator = torch.Generator(device="cpu").manual_seed(spec.filled_int("seed"))
    rng_devices = [torch.cuda.current_device()] if device.startswith("cuda") else []
    rng_lock = _GLOBAL_RNG_LOCK if family.uses_global_rng else contextlib.nullcontext()
    try:
        with rng_lock, torch.random.fork_rng(devices=rng_devices):
            torch.manual_seed(spec.filled_int("seed"))
            with family.call_context(pipe, spec):
                return pipe(**kwargs, generator=generator, output_type="np", return_dict=True)
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
