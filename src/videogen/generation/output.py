"""What one pipeline call did, as videogen records and returns it (`make_result`: the VideoResult): the frames
as uint8 (rounded as diffusers' own `numpy_to_pil` does), the call's arguments JSON-friendly (`metadata["call"]`),
and the spec completed with the card's call defaults the pipeline was given (so the returned spec alone makes the
same call again).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .result import VideoResult

if TYPE_CHECKING:
    from ..families.card import ModelCard
    from ..spec.videospec import CompleteSpec
    from .flow import Prepared

#: call arguments that are videogen's plumbing (step callbacks), not settings that shape the frames
CALLBACK_KWARGS = frozenset(
    {"callback_on_step_end", "callback_on_step_end_tensor_inputs", "callback", "callback_steps"}
)


def with_card_call_defaults(spec: CompleteSpec, card: ModelCard, kwargs: Mapping[str, Any]) -> CompleteSpec:
    """`spec` with the card's call defaults that were passed to the pipeline (e.g. Wan 2.2's
    guidance_scale_2, FramePack's sampling_type) written into `extra`, where the spec doesn't set them.

    Every family accepts its card's defaults back in `extra` (tests/test_surprises.py), so running the
    returned spec again gives the same call, even where a later videogen changes the card.
    """
    import copy

    used = {
        k: copy.deepcopy(v)
        for k, v in card.call_defaults.items()
        if k not in spec.extra and k in kwargs and _same(kwargs[k], v)
    }
    return spec.replace(extra={**used, **spec.extra}) if used else spec


def _same(a: Any, b: Any) -> bool:
    try:
        return a is b or bool(a == b)
    except Exception:  # noqa: BLE001 - values whose == is not a bool (arrays): not the same
        return False


def call_record(kwargs: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The keyword arguments the pipeline was called with, JSON-friendly: every setting that shapes the
    frames (card defaults and what the family computed included), media described, callbacks left out."""
    record = {k: _describe(v) for k, v in sorted(kwargs.items()) if k not in CALLBACK_KWARGS}
    record["generator"] = f"torch.Generator('cpu').manual_seed({int(seed)})"
    record["output_type"] = "np"
    return record


def _describe(value: Any, depth: int = 0) -> Any:
    import dataclasses
    import enum

    from ..spec.plain import describe_media

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return _describe(value.value, depth + 1)
    if depth > 6:
        return f"<{type(value).__name__}>"
    if isinstance(value, Mapping):
        return {str(k): _describe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if value and all(hasattr(v, "size") and hasattr(v, "mode") for v in value):  # a video: PIL frames
            first = value[0]
            return f"<{len(value)} frames {first.size[0]}x{first.size[1]}>"
        return [_describe(v, depth + 1) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # e.g. LTXVideoCondition
        return {f.name: _describe(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)}
    if hasattr(value, "item") and getattr(value, "shape", None) == ():  # numpy / torch scalars
        return _describe(value.item(), depth + 1)
    return describe_media(value)


def to_uint8(frames: Any) -> Any:
    """Frames as uint8 T×H×W×3, rounding floats in [0, 1] as diffusers' own `numpy_to_pil` does."""
    import numpy as np

    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        frames = (np.clip(frames, 0.0, 1.0) * 255).round().astype(np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise RuntimeError(f"videogen: the pipeline returned frames of shape {frames.shape}, expected T×H×W×3")
    return np.ascontiguousarray(frames)


def make_result(
    p: Prepared,
    output: Any,
    kwargs: dict[str, Any],
    revision: str | None,
    records: dict,
    timings: dict,
    sound: tuple[Any, int] | None = None,
) -> VideoResult:
    """The VideoResult of a call: frames as uint8, the sound fitted to their length (media/audio.py) and the
    metadata (the features' records among it)."""
    from ..runtime.devices import peak_memory, versions
    from ..spec.files import spec_metadata

    card = p.card
    frames = to_uint8(p.family.frames(output, p.spec, card))
    spec = with_card_call_defaults(p.spec, card, kwargs)  # the returned spec alone reproduces the video
    model = {"name": card.name, "family": card.family, "repo": card.repo, "revision": revision}
    metadata = {
        "versions": versions(),
        "model": {**model, "pipeline": p.class_name},
        "seed": spec.seed,
        **spec_metadata(spec),  # "spec" (lossless where it can be), "inputs" (their sha256): what replay reads
        "call": call_record(kwargs, spec.seed),
        "device": p.device,
        **records,  # memory_plan, cache, parallel: what each feature did
        "fit": p.notes.get("fit"),  # how the input images met the video's size (fitting.py)
        "snapped": p.snapped,
        "timings": {"validate_s": round(p.validate_seconds, 6), **timings},
        "memory": peak_memory(p.device),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    audio = None
    if sound is not None and spec.audio is False:  # made with the video (LTX-2 can't skip it), not kept
        metadata["audio"] = None
    elif sound is not None:
        from ..media.audio import as_audio, fit_to_video

        audio, fitted = fit_to_video(as_audio(*sound), len(frames), spec.fps)
        metadata["audio"] = {**audio.describe(), **fitted}
    return VideoResult(frames=frames, fps=spec.fps, seed=spec.seed, spec=spec, metadata=metadata, audio=audio)
