"""`VideoSpec.cache`: which step cache (diffusers' cache hooks) a call runs with, checked before any weight loads.

Pure Python, no torch. `resolve` turns the spec's value (None, "none", a method name, "auto", or a dict
`{"method": name, **knobs}`) into the completed setting `{"method": name, **every knob}` from the family's
defaults (`Family.cache_methods`, data in each family file) and refuses what a family can't take or what
would silently do nothing; "auto" never fails: the family's first method that can run, else no cache and why
(`auto_choice`, `settle_auto`). `step_cache.py` turns a completed setting into the diffusers config (each knob's
`Knob.field`) on the loaded pipeline. MagCache's per-model ratios are stored under
`$VIDEOGEN_CACHE/magcache/<key>.json` (`save_ratios` / `load_ratios`; `videogen calibrate` writes them).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError

if TYPE_CHECKING:
    from ..families.base import Family
    from ..families.card import ModelCard
    from ..spec.videospec import CompleteSpec

#: the step-cache methods videogen knows (a family takes those in its `cache_methods`)
METHODS: tuple[str, ...] = ("fbc", "taylorseer", "magcache", "pab", "fastercache", "deepcache", "dbcache")
#: what each method is, for messages and docs
ABOUT = {
    "fbc": "First Block Cache: skips the remaining blocks when the first block's residual barely changed",
    "taylorseer": "TaylorSeer: predicts attention/feed-forward outputs from a Taylor series between full steps",
    "magcache": "MagCache: skips steps while the calibrated residual magnitude ratios say the error stays small",
    "pab": "Pyramid Attention Broadcast: reuses spatial attention outputs across steps in a timestep range",
    "fastercache": "FasterCache: reuses and extrapolates spatial attention outputs across steps",
    "deepcache": "DeepCache (UNets): reuses the deep features between full steps, recomputing the shallow branch",
    "dbcache": "cache-dit's DBCache: computes the first Fn and last Bn blocks, reuses the middle ones' residual",
}
#: methods that run on an optional package: method → (module, pip extra)
OPTIONAL = {"dbcache": ("cache_dit", "cachedit")}
#: the longest MagCache ratio list accepted (one ratio per step: MAX_STEPS in validate)
MAX_RATIOS = 1000


@dataclass(frozen=True)
class Knob:
    """One setting of a method: its diffusers config field, kind and bounds (inclusive unless `open_low`)."""

    field: str
    kind: str  # "float", "int", "int_or_none", "range", "ratios"
    low: float
    high: float
    doc: str
    open_low: bool = False


KNOBS: Mapping[str, Mapping[str, Knob]] = {
    "fbc": {
        "threshold": Knob(
            "threshold",
            "float",
            0.0,
            1.0,
            "relative first-block residual change below which the rest is reused",
            open_low=True,
        )
    },
    "taylorseer": {
        "interval": Knob("cache_interval", "int", 2, 100, "a full step every `interval` steps (1 would never predict)"),
        "warmup": Knob("disable_cache_before_step", "int", 0, 1000, "full steps before predicting starts"),
        "stop_after": Knob(
            "disable_cache_after_step", "int_or_none", 1, 1000, "full steps from this step on (None: to the end)"
        ),
        "order": Knob("max_order", "int", 1, 4, "order of the Taylor series"),
    },
    "magcache": {
        "threshold": Knob(
            "threshold", "float", 0.0, 1.0, "accumulated error allowed before a step is computed", open_low=True
        ),
        "max_skip": Knob("max_skip_steps", "int", 1, 100, "most steps skipped in a row"),
        "warmup_share": Knob("retention_ratio", "float", 0.0, 0.99, "share of the first steps always computed"),
        "mag_ratios": Knob(
            "mag_ratios",
            "ratios",
            0.0,
            math.inf,
            "one calibrated ratio per step (interpolated to the step count)",
            open_low=True,
        ),
    },
    "pab": {
        "interval": Knob(
            "spatial_attention_block_skip_range", "int", 2, 100, "spatial attention computed every `interval` calls"
        ),
        "timestep_range": Knob(
            "spatial_attention_timestep_skip_range", "range", -1, 1000, "timesteps (lo, hi) where it reuses"
        ),
    },
    "fastercache": {
        "interval": Knob(
            "spatial_attention_block_skip_range", "int", 2, 100, "spatial attention computed every `interval` calls"
        ),
        "timestep_range": Knob(
            "spatial_attention_timestep_skip_range", "range", -1, 1000, "timesteps (lo, hi) where it reuses"
        ),
        "attention_weight": Knob(
            "attention_weight_callback", "float", 0.0, 1.0, "weight of the extrapolated attention difference"
        ),
    },
    "dbcache": {  # cache-dit's DBCacheConfig fields
        "Fn": Knob("Fn_compute_blocks", "int", 1, 1000, "first blocks always computed (their residual decides)"),
        "Bn": Knob("Bn_compute_blocks", "int", 0, 1000, "last blocks always computed (they refine the reuse)"),
        "threshold": Knob(
            "residual_diff_threshold",
            "float",
            0.0,
            1.0,
            "relative residual change of the first Fn blocks below which the middle ones are reused",
            open_low=True,
        ),
        "warmup": Knob("max_warmup_steps", "int", 0, 1000, "full steps before reuse starts"),
    },
    "deepcache": {
        "interval": Knob(
            "interval", "int", 2, 100, "a full UNet step every `interval` steps (1 would skip nothing: refused)"
        ),
        "branch": Knob(
            "branch",
            "int",
            0,
            1000,
            "skip connection splitting shallow from deep (0 = the stem's: cheapest cached steps)",
        ),
    },
}


def _error(message: str) -> SpecError:
    return SpecError(f"cache: {message}", field="cache")


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse(value: Any) -> dict[str, Any] | None:
    """The spec's value as `{"method": name, **knobs given}` (None for no cache), every knob checked: its name,
    type and range. "auto" stays "auto" (the family decides); the family's defaults come in `resolve`."""
    if value is None:
        return None
    if isinstance(value, str):
        name = value.strip().lower()
        if name == "none":
            return None
        return {"method": _method(name)}
    if not isinstance(value, Mapping):
        raise _error(
            f"{value!r} must be None, a method name ({', '.join(METHODS)}, 'auto', 'none') or a dict "
            "{'method': name, **knobs}, e.g. cache='taylorseer' or cache={'method': 'fbc', 'threshold': 0.1}"
        )
    if "method" not in value or not isinstance(value["method"], str):
        raise _error(f"{dict(value)!r} has no 'method': give one of {', '.join(METHODS)}, e.g. {{'method': 'fbc'}}")
    method = _method(value["method"].strip().lower())
    knobs = {k: v for k, v in value.items() if k != "method"}
    if method == "auto":
        if knobs:
            raise _error(f"'auto' takes no knobs ({', '.join(map(str, knobs))}): name the method to set them")
        return {"method": "auto"}
    table = KNOBS[method]
    out: dict[str, Any] = {"method": method}
    for key, raw in knobs.items():
        if not isinstance(key, str) or key not in table:
            raise _error(
                f"{method} has no knob {key!r}{_did_you_mean(str(key), table)}; its knobs: "
                + "; ".join(f"{k} ({knob.doc})" for k, knob in table.items())
            )
        out[key] = _knob(method, key, table[key], raw)
    return out


def _method(name: str) -> str:
    if name in METHODS or name == "auto":
        return name
    raise _error(
        f"{name!r} is not a step-cache method{_did_you_mean(name, (*METHODS, 'auto', 'none'))}; use one of "
        f"{', '.join(METHODS)}, 'auto' (the model's best) or None"
    )


def _real(method: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise _error(f"{method} knob {key}={value!r} must be a finite number")
    return float(value)


def _knob(method: str, key: str, knob: Knob, value: Any) -> Any:
    """A knob's value checked against its kind and bounds (as a JSON-friendly value)."""
    bounds = f"between {knob.low:g} ({'exclusive' if knob.open_low else 'inclusive'}) and {knob.high:g}"
    if knob.kind == "ratios":
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise _error(f"magcache knob mag_ratios={value!r} must be a list of numbers, one per step")
        ratios = [_real(method, key, v) for v in value]
        if not 2 <= len(ratios) <= MAX_RATIOS or any(r <= 0 for r in ratios):
            raise _error(f"magcache knob mag_ratios must hold 2 to {MAX_RATIOS} positive numbers (got {len(ratios)})")
        return ratios
    if knob.kind == "range":
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
            raise _error(f"{method} knob {key}={value!r} must be a (low, high) pair of timesteps, e.g. (100, 800)")
        low, high = (_real(method, key, v) for v in value)
        if not knob.low <= low < high <= knob.high:
            raise _error(
                f"{method} knob {key}={tuple(value)!r} must be (low, high) with "
                f"{knob.low:g} <= low < high <= {knob.high:g}"
            )
        return [low, high]
    if knob.kind == "int_or_none" and value is None:
        return None
    number = _real(method, key, value)
    if knob.kind in ("int", "int_or_none"):
        if number != int(number):
            raise _error(f"{method} knob {key}={value!r} must be a whole number {bounds}")
        number = int(number)
    if number < knob.low or number > knob.high or (knob.open_low and number == knob.low):
        raise _error(f"{method} knob {key}={value!r} must be {bounds} ({knob.doc})")
    return number


def resolve(value: Any, spec: CompleteSpec, card: ModelCard, family: Family) -> dict[str, Any] | None:
    """The completed setting for a spec whose defaults are filled: `{"method": name, **every knob}` (None: no
    cache). Refused with a SpecError naming a method that works: a method the family doesn't take, one its
    `cache_refusal` rules out for this spec, a setting that would skip nothing, MagCache without ratios.
    "auto" is never refused: the first of the family's `cache_auto` that can run, else None (`auto_choice`)."""
    parsed = parse(value)
    if parsed is None:
        return None
    method = parsed["method"]
    if method == "auto":
        chosen, _ = auto_choice(spec, card, family)
        if chosen is None:
            return None
        parsed = {"method": chosen}
        method = chosen
    if not family.cache_methods:
        if method in family.cache_refused:  # the family says why (a transformer that takes no cache hooks)
            raise _error(f"{method!r} can't run here: {family.cache_refused[method]}; leave cache out")
        raise _error(
            f"{card.name} ({family.name}) has no step cache yet (the cache hooks are for transformer models: "
            f"{', '.join(m for m in METHODS if m != 'deepcache')}; 'deepcache' for the video UNets); leave cache out"
        )
    why = _refusal(method, spec, card, family, parsed)
    if why is None and method in OPTIONAL:
        _require(method)
    if why is not None:
        works = [m for m in family.cache_methods if m != method and _refusal(m, spec, card, family) is None]
        instead = f"; use {' or '.join(repr(m) for m in works)} instead" if works else "; leave cache out"
        raise _error(f"{method!r} can't run here: {why}{instead}")
    setting = {"method": method, **family.cache_methods[method]}
    setting.update({k: v for k, v in parsed.items() if k != "method"})
    if method == "magcache" and "mag_ratios" not in setting:
        setting["mag_ratios"] = load_ratios(magcache_key(spec, card, family))
    return {k: list(v) if isinstance(v, tuple) else v for k, v in setting.items()}


def auto_choice(
    spec: CompleteSpec, card: ModelCard, family: Family, refused: Mapping[str, str] | None = None
) -> tuple[str | None, dict[str, str]]:
    """What `cache="auto"` runs: the family's first `cache_auto` method that can run this spec (None: none can,
    e.g. too few steps), and why each one before it can't; `refused`: reasons decided elsewhere, method → why."""
    reasons: dict[str, str] = {}
    for method in family.cache_auto if family.cache_methods else ():
        why = (refused or {}).get(method) or _refusal(method, spec, card, family)
        if why is None:
            return method, reasons
        reasons[method] = why
    return None, reasons


def settle_auto(
    requested: Any, spec: CompleteSpec, card: ModelCard, family: Family, plan: Any, refused: Mapping[str, str]
) -> tuple[CompleteSpec, dict[str, Any] | None]:
    """A `cache="auto"` request once the memory plan is known (its refusals and `refused`, parallelism's, rule
    methods out too): the spec with the cache it runs (None when no method can) and what `metadata["cache"]`
    records of the choice (the reason when no cache runs). Any other request: the spec as it is, no record."""
    asked = parse(requested)
    if asked is None or asked["method"] != "auto":
        return spec, None
    also = {m: why for m in family.cache_auto if (why := refused.get(m) or plan_refusal(m, plan))}
    method, reasons = auto_choice(spec, card, family, also)
    if method is None:
        why = "; ".join(f"{m}: {r}" for m, r in reasons.items()) or f"{family.name} models have no step cache"
        return spec.replace(cache=None), {"method": None, "requested": "auto", "reason": f"no method can run: {why}"}
    if not isinstance(spec.cache, Mapping) or spec.cache["method"] != method:
        spec = spec.replace(cache=resolve({"method": method}, spec, card, family))
    return spec, {"requested": "auto", **({"passed_over": reasons} if reasons else {})}


def _require(method: str) -> None:
    """A method on an optional package: MissingDependencyError naming the pip extra when it's missing."""
    import importlib.util

    from ..errors import MissingDependencyError

    module, extra = OPTIONAL[method]
    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(
            f"cache: {method!r} runs on {module.replace('_', '-')}, which isn't installed: "
            f"pip install 'videogen-diffusers[{extra}]' (or use a built-in method, e.g. cache='taylorseer')"
        )


def _refusal(
    method: str, spec: CompleteSpec, card: ModelCard, family: Family, given: Mapping[str, Any] | None = None
) -> str | None:
    """Why `method` can't run this spec (None when it can)."""
    if method not in family.cache_methods:
        return family.cache_refused.get(method) or f"{family.name} models don't take it"
    why = family.cache_refusal(spec, card, method)
    if why is not None:
        return why
    knobs = {**family.cache_methods[method], **(given or {})}
    if method == "fastercache" and float(spec.guidance_scale) <= 1.0:
        why = _fastercache_first_step(spec, knobs)
        if why is not None:
            return why
    steps = transformer_steps(spec, card, family)
    if method in ("taylorseer", "dbcache") and int(knobs["warmup"]) >= steps:
        return f"its warm-up ({knobs['warmup']} full steps) covers all {steps} steps, so it would skip nothing"
    if method == "magcache" and "mag_ratios" not in knobs and load_ratios(magcache_key(spec, card, family)) is None:
        return (
            f"it needs ratios calibrated for {card.name} with this scheduler at {steps} steps and none are stored "
            f"(run `videogen calibrate -m {card.name} --steps {spec.steps}`, or pass "
            "{'method': 'magcache', 'mag_ratios': [...]})"
        )
    return None


def _fastercache_first_step(spec: CompleteSpec, knobs: Mapping[str, Any]) -> str | None:
    """Without guidance there is no unconditional batch, and diffusers' FasterCache (0.42) then reuses attention
    on the first call inside its timestep range — before anything was cached (a TypeError mid-call). A schedule
    starts outside the range unless it is video-to-video's (it starts at strength × 1000) or the range reaches 1000."""
    high = float(knobs["timestep_range"][1])
    if spec.task == "v2v":
        start = "video-to-video starts inside it"
    elif high >= 999:
        start = "a schedule's first timestep is inside it"
    else:
        return None
    return (
        f"with guidance_scale={spec.guidance_scale} (no unconditional batch) it reuses attention on the first step "
        f"inside its timestep_range (up to {high:g}) and {start}, before anything is cached; use guidance_scale "
        "above 1"
    )


def transformer_steps(spec: CompleteSpec, card: ModelCard, family: Family) -> int:
    """The denoising steps of one schedule (what MagCache's ratios are per)."""
    return family.schedule_steps(spec, {**card.call_defaults, **spec.extra})


def check_plan(setting: Mapping[str, Any] | None, plan: Any) -> None:
    """Refuse memory plans a step cache doesn't combine with (before loading): compile (the hooks replace
    block forwards, which breaks or recompiles compiled graphs), sequential CPU offload (accelerate's
    per-module hooks; untested with cache hooks) and, for cache-dit's 'dbcache', any offload (it crashes on group
    offload's hooks). Group offload and layerwise casting work with diffusers' hooks (tests)."""
    if setting is not None and (why := plan_refusal(setting["method"], plan)) is not None:
        raise _error(why)


def plan_refusal(method: str, plan: Any) -> str | None:
    """Why step-cache `method` doesn't combine with memory plan `plan` (None when it does)."""
    if getattr(plan, "compile", None):
        return (
            f"{method!r} with a compiled denoiser (memory plan {plan.name!r}, compile={plan.compile!r}) is not "
            "supported: its hooks change the blocks' forward on every call; drop compile or leave cache out"
        )
    if method == "dbcache" and getattr(plan, "placement", "none") != "none":
        return (
            f"'dbcache' with offload (memory plan {plan.name!r}, placement={plan.placement!r}) is not supported: "
            "cache-dit patches the transformer's forward, which the offload hooks wrap (it fails on the CPU "
            "with group offload); use a built-in method such as 'taylorseer' or 'fbc', which combine with group "
            "offload, or placement='none'"
        )
    if getattr(plan, "placement", None) == "sequential":
        return (
            f"{method!r} with sequential CPU offload (memory plan {plan.name!r}) is not supported; use group "
            "offload (placement='group'), which runs with cache hooks, or leave cache out"
        )
    return None


# ---- MagCache ratios ------------------------------------------------------------------------------


def magcache_key(spec: CompleteSpec, card: ModelCard, family: Family) -> str:
    """The name of the stored ratios of a model at a scheduler and step count: readable, then a hash of all
    that shapes them (model, source, revision, scheduler and its arguments, steps)."""
    steps = transformer_steps(spec, card, family)
    about = json.dumps([card.name, card.source, card.revision, spec.scheduler, steps], sort_keys=True, default=repr)
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", card.name)[-60:]
    return f"{readable}-{steps}steps-{hashlib.sha1(about.encode()).hexdigest()[:12]}"


def ratios_path(key: str) -> Path:
    from ..families.tiny import cache_root

    return cache_root() / "magcache" / f"{key}.json"


def load_ratios(key: str) -> list[float] | None:
    """The stored MagCache ratios under `key`, or None (none stored, or a file that isn't a ratio list)."""
    path = ratios_path(key)
    try:
        data = json.loads(path.read_text())
        ratios = data["mag_ratios"] if isinstance(data, Mapping) else data
        return _knob("magcache", "mag_ratios", KNOBS["magcache"]["mag_ratios"], ratios)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_ratios(key: str, ratios: Any, about: Mapping[str, Any] | None = None) -> Path:
    """Store calibrated MagCache ratios under `key` (atomically); returns the file."""
    from ..media.atomic import write_text_atomically

    checked = _knob("magcache", "mag_ratios", KNOBS["magcache"]["mag_ratios"], ratios)
    path = ratios_path(key)
    write_text_atomically(path, json.dumps({"mag_ratios": checked, **dict(about or {})}, indent=1, default=repr))
    return path
