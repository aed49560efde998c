"""`videogen preview-fit`: fit the live previews' latent→RGB projection of a model's VAE again and store it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..spec.videospec import VideoSpec


def refit_preview(spec: VideoSpec | Mapping[str, Any] | None = None, *, progress: bool = True, **fields: Any) -> dict:
    """Load the spec's pipeline (cached, as `preload` does), fit its VAE's projection again (loading/latent_rgb.py)
    and store it in the user cache. Returns where it went and how well it fits (root-mean-square colour error,
    0–1, beside that of predicting the images' mean colour)."""
    from ..errors import VideoGenError
    from ..loading.latent_rgb import fit_and_store, fit_path
    from .flow import check_before_load, load_entry, prepare

    prepared = prepare(spec, **fields)
    cls, _ = check_before_load(prepared)
    entry, _ = load_entry(prepared, cls, progress)
    with entry.lock:
        vae = getattr(entry.pipeline(cls), "vae", None)
        if vae is None:
            raise VideoGenError(f"model={prepared.card.name!r}: its pipeline has no VAE to fit a preview for")
        projection = fit_and_store(vae)
        path = fit_path(vae)
    return {
        "model": prepared.card.name,
        "path": str(path),
        "channels": projection.channels,
        "rms_error": round(projection.rms_error, 4),
        "rms_baseline": round(projection.rms_baseline, 4),
    }
