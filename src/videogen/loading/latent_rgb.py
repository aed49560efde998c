"""A linear latent→RGB projection per VAE, fitted by least squares against the VAE itself, for live previews.

A set of colour images (solid colours, gradients, colour blocks) goes through the VAE's encoder; each latent
pixel (normalised as the pipelines hand latents to the denoiser: `(z - latents_mean) * scaling_factor /
latents_std`, each term where the VAE's config has it) is paired with the mean colour of the image pixels it
covers, and `rgb ≈ latent @ weights + bias` is solved by least squares (a small ridge keeps it stable). The fit
is stored per VAE config (class + config hash) in the user cache (`$VIDEOGEN_CACHE/previews/`), so each VAE is
fitted once per machine; `videogen preview-fit MODEL` fits again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("videogen")

#: the side of the fitting images (a multiple of every VAE's spatial factor: 8, 16, 32)
FIT_SIDE = 64
#: ridge added to the normal equations (relative to their trace)
RIDGE = 1e-4


@dataclass(frozen=True)
class Projection:
    """`rgb = latents @ weights + bias`, per latent pixel; `weights` is channels × 3, colours in 0–1."""

    weights: tuple[tuple[float, float, float], ...]
    bias: tuple[float, float, float]
    #: root-mean-square error of the fit on its images (0–1 colour units), and of predicting their mean colour
    rms_error: float = 0.0
    rms_baseline: float = 0.0

    @property
    def channels(self) -> int:
        return len(self.weights)

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights": [list(r) for r in self.weights],
            "bias": list(self.bias),
            "rms_error": self.rms_error,
            "rms_baseline": self.rms_baseline,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Projection:
        return cls(
            weights=tuple((float(a), float(b), float(c)) for a, b, c in data["weights"]),
            bias=(float(data["bias"][0]), float(data["bias"][1]), float(data["bias"][2])),
            rms_error=float(data.get("rms_error", 0.0)),
            rms_baseline=float(data.get("rms_baseline", 0.0)),
        )


def vae_key(vae: Any) -> str:
    """The VAE's class and a hash of its config: one fit per architecture and normalisation."""
    config = {k: v for k, v in dict(getattr(vae, "config", {}) or {}).items() if not k.startswith("_")}
    text = json.dumps(config, sort_keys=True, default=str)
    return f"{type(vae).__name__}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def fit_path(vae: Any) -> Path:
    from ..families.tiny import cache_root

    return cache_root() / "previews" / f"{vae_key(vae)}.json"


def stored(vae: Any) -> Projection | None:
    """The stored fit for this VAE's config, or None."""
    path = fit_path(vae)
    try:
        return Projection.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def projection_for(vae: Any) -> Projection:
    """The stored fit for this VAE, or a new one (fitted now, stored for next time)."""
    found = stored(vae)
    return found if found is not None else fit_and_store(vae)


def fit_and_store(vae: Any) -> Projection:
    """Fit the VAE's projection again and store it (what `videogen preview-fit` runs)."""
    from ..media.atomic import write_text_atomically

    start = time.perf_counter()
    projection = fit(vae)
    path = fit_path(vae)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"vae": type(vae).__name__, "key": vae_key(vae), **projection.to_dict()}
    write_text_atomically(path, json.dumps(record, indent=1) + "\n", durable=False)
    logger.info(
        "preview projection for %s fitted in %.2f s (rms error %.3f, mean-colour baseline %.3f): %s",
        type(vae).__name__,
        time.perf_counter() - start,
        projection.rms_error,
        projection.rms_baseline,
        path,
    )
    return projection


def normalisation(vae: Any, channels: int) -> tuple[Any, Any]:
    """(shift, scale) per channel: denoiser latents = (z - shift) * scale, as the pipelines normalise them."""
    import torch

    config = getattr(vae, "config", {}) or {}
    mean = config.get("latents_mean") if hasattr(config, "get") else None
    std = config.get("latents_std") if hasattr(config, "get") else None
    factor = config.get("scaling_factor") if hasattr(config, "get") else None
    shift = torch.tensor(mean, dtype=torch.float32) if mean and len(mean) == channels else torch.zeros(channels)
    scale = torch.ones(channels) * float(factor or 1.0)
    if std and len(std) == channels:
        scale = scale / torch.tensor(std, dtype=torch.float32)
    return shift, scale


def colour_images(side: int = FIT_SIDE) -> Any:
    """The fitting set: (N, 3, side, side) in 0–1 — the RGB cube's corners and greys, gradients along each axis,
    and blocks of seeded random colours (so colours meet at edges, as in real pictures)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    solids = [torch.tensor(c, dtype=torch.float32) for c in _corners()]
    images = [c.view(3, 1, 1).expand(3, side, side) for c in solids]
    ramp = torch.linspace(0, 1, side)
    for channel in range(3):
        img = torch.full((3, side, side), 0.5)
        img[channel] = ramp.view(1, side).expand(side, side)
        images.append(img)
        img = torch.full((3, side, side), 0.2)
        img[channel] = ramp.view(side, 1).expand(side, side)
        images.append(img)
    for blocks in (2, 4, 8, 4, 8, 16):
        colours = torch.rand(3, blocks, blocks, generator=generator)
        images.append(torch.nn.functional.interpolate(colours[None], size=(side, side), mode="nearest")[0])
    return torch.stack(images)


def _corners() -> list[tuple[float, float, float]]:
    corners = [(r, g, b) for r in (0.0, 1.0) for g in (0.0, 1.0) for b in (0.0, 1.0)]
    return corners + [(0.25, 0.25, 0.25), (0.5, 0.5, 0.5), (0.75, 0.75, 0.75), (0.8, 0.5, 0.3), (0.2, 0.4, 0.7)]


def encode(vae: Any, images: Any) -> Any:
    """Latents (N, C, h, w) of images in 0–1, as the denoiser sees them (normalised), one frame each."""
    import torch

    param = next(vae.parameters())
    x = (images * 2 - 1).to(param.device, param.dtype)
    with torch.no_grad():
        try:  # video VAEs: (N, 3, frames, H, W), one frame
            out = vae.encode(x[:, :, None])
        except (RuntimeError, ValueError, TypeError):  # image VAEs: (N, 3, H, W)
            out = vae.encode(x)
    dist = getattr(out, "latent_dist", None)
    z = dist.mean if dist is not None else (out.latents if hasattr(out, "latents") else out[0])
    z = z.float().cpu()
    if z.ndim == 5:
        z = z[:, :, 0]
    shift, scale = normalisation(vae, z.shape[1])
    return (z - shift.view(1, -1, 1, 1)) * scale.view(1, -1, 1, 1)


def fit(vae: Any, side: int = FIT_SIDE) -> Projection:
    """Least squares from the VAE's latents of the colour images to their colours."""
    import torch

    images = colour_images(side)
    latents = encode(vae, images)  # (N, C, h, w)
    n, channels, h, w = latents.shape
    targets = torch.nn.functional.adaptive_avg_pool2d(images, (h, w))  # the colour each latent pixel covers
    a = latents.permute(0, 2, 3, 1).reshape(-1, channels).double()
    y = targets.permute(0, 2, 3, 1).reshape(-1, 3).double()
    a1 = torch.cat([a, torch.ones(len(a), 1, dtype=a.dtype)], dim=1)
    gram = a1.T @ a1
    ridge = RIDGE * gram.diagonal().mean() * torch.eye(channels + 1, dtype=a.dtype)
    ridge[-1, -1] = 0  # the bias is not shrunk
    solution = torch.linalg.solve(gram + ridge, a1.T @ y)  # (C + 1, 3)
    error = float(((a1 @ solution - y) ** 2).mean().sqrt())
    baseline = float(((y - y.mean(0)) ** 2).mean().sqrt())
    weights = tuple((float(r), float(g), float(b)) for r, g, b in solution[:-1].tolist())
    bias = tuple(float(v) for v in solution[-1].tolist())
    return Projection(weights=weights, bias=(bias[0], bias[1], bias[2]), rms_error=error, rms_baseline=baseline)
