"""`calibrate(spec)`: MagCache's per-step ratios for a model, scheduler and step count, measured and stored.

The spec is prepared as `generate` prepares it (with no cache of its own), then called once through
`generation.run` with MagCache in calibration mode on every denoiser (`MagCacheConfig(calibrate=True)`: no step
is skipped, the hook measures each step's residual magnitude ratio). diffusers prints the ratios when the last
step ends and then clears its list, so for the duration of the call `MagCacheBlockHook._advance_step` is wrapped
to copy the list on the last step; the wrapper comes off afterwards, whatever happens. One list per denoiser
and cache context (Wan's separate cond and uncond calls) comes back; the stored ratios are their per-step mean,
saved with `caching.save_ratios` under `caching.magcache_key`, where `cache="magcache"` finds them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from ..errors import SpecError
from ..spec.videospec import VideoSpec
from ..speed.settings import check_plan, magcache_key, save_ratios, transformer_steps
from .flow import build_spec, prepare, run

#: one calibration at a time: the hook's class is wrapped while it runs
_LOCK = threading.Lock()


def calibrate(spec: VideoSpec | Mapping[str, Any] | None = None, *, progress: bool = False, **fields: Any) -> dict:
    """Calibrate MagCache for a spec (`model=..., steps=..., scheduler=...`): one full call, no skipping.

    Returns `{"key", "path", "ratios"}`; afterwards `generate(..., cache="magcache")` with the same model,
    scheduler and step count uses the stored ratios.
    """
    spec = build_spec(spec, fields).replace(cache=None)  # the spec's own cache setting is what we calibrate
    if spec.parallel is not None:  # each rank would measure its own slice of the tokens and write the file
        raise SpecError(
            f"parallel={spec.parallel!r}: MagCache calibrates in one process (the ratios are per model, scheduler "
            "and steps, not per split); run `videogen calibrate` without --parallel / torchrun",
            field="parallel",
        )
    prepared = prepare(spec)
    spec, card, family = prepared.spec, prepared.card, prepared.family
    if "magcache" not in family.cache_methods:
        raise SpecError(
            f"cache: {card.name} ({family.name}) doesn't take 'magcache': nothing to calibrate", field="cache"
        )
    why = family.cache_refusal(spec, card, "magcache")
    if why is not None:
        raise SpecError(f"cache: 'magcache' can't be calibrated here: {why}", field="cache")
    setting = {"method": "magcache", "calibrate": True}
    check_plan(setting, prepared.plan)  # compile / sequential offload: refused as for any step cache
    steps = transformer_steps(spec, card, family)
    calibrating = dataclasses.replace(prepared, spec=spec.replace(cache=setting))
    # diffusers prints the ratios on stdout: sent to stderr, so stdout stays the caller's (the CLI prints the path)
    with _LOCK, _captured() as lists, contextlib.redirect_stdout(sys.stderr):
        run(calibrating, progress=progress)
    usable = [r for r in lists if len(r) == steps]
    if not usable:
        raise RuntimeError(
            f"videogen: MagCache calibration of {card.name} at {steps} steps captured no complete ratio list "
            f"(got lengths {[len(r) for r in lists]})"
        )
    ratios = [sum(column) / len(column) for column in zip(*usable)]
    if not all(math.isfinite(r) and r > 0 for r in ratios):
        raise RuntimeError(f"videogen: MagCache calibration of {card.name} gave unusable ratios {ratios}")
    key = magcache_key(spec, card, family)
    about = {
        "model": card.name,
        "scheduler": spec.scheduler,
        "steps": steps,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    path = save_ratios(key, ratios, about=about)
    return {"key": key, "path": str(path), "ratios": ratios}


@contextlib.contextmanager
def _captured() -> Iterator[list[list[float]]]:
    """The ratio lists MagCache's calibration hooks hold on their last step, while the `with` body runs."""
    from diffusers.hooks.mag_cache import MagCacheBlockHook

    original = MagCacheBlockHook.__dict__["_advance_step"]
    lists: list[list[float]] = []

    def advance(self: Any, state: Any) -> None:
        if self.config.calibrate and state.step_index + 1 >= self.config.num_inference_steps:
            lists.append([float(r) for r in state.calibration_ratios])  # before diffusers clears them
        original(self, state)

    setattr(MagCacheBlockHook, "_advance_step", advance)  # noqa: B010 - a method, restored below
    try:
        yield lists
    finally:
        setattr(MagCacheBlockHook, "_advance_step", original)  # noqa: B010
