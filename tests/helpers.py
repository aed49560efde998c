"""Test helpers: the direct diffusers call videogen must match, and frame comparisons."""

from __future__ import annotations

from typing import Any

import numpy as np


def direct_frames(pipeline_class: str, folder: Any, seed: int, trim: int | None = None, **kwargs: Any) -> np.ndarray:
    """What the diffusers pipeline returns when called directly: uint8 T×H×W×3.

    Loads `pipeline_class` from `folder` with a plain `from_pretrained` (float32 on a CPU), seeds the
    global RNG and a CPU generator with `seed`, asks for numpy output and rounds as diffusers' own
    `numpy_to_pil` does.
    """
    import diffusers
    import torch

    pipe = getattr(diffusers, pipeline_class).from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    torch.manual_seed(seed)
    generator = torch.Generator("cpu").manual_seed(seed)
    out = pipe(**kwargs, generator=generator, output_type="np")
    frames = np.asarray(out.frames[0])
    if trim is not None:
        frames = frames[:trim]
    return (np.clip(frames, 0, 1) * 255).round().astype(np.uint8)


def assert_frames_close(actual: np.ndarray, expected: np.ndarray, levels: int = 1) -> None:
    """Same shape, uint8, and no pixel differs by more than `levels` 8-bit levels."""
    assert actual.dtype == np.uint8 and expected.dtype == np.uint8
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    diff = np.abs(actual.astype(np.int16) - expected.astype(np.int16)).max()
    assert diff <= levels, f"frames differ by up to {diff} levels (allowed {levels})"


def image(h: int = 32, w: int = 32, seed: int = 0) -> np.ndarray:
    """A smooth, seeded test image (uint8 H×W×3)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / max(w - 1, 1), y * 255 / max(h - 1, 1), np.full((h, w), 128.0)], -1)
    return np.clip(base + rng.normal(0, 8, (h, w, 3)), 0, 255).astype(np.uint8)


def video(t: int = 9, h: int = 32, w: int = 32) -> np.ndarray:
    return np.stack([np.roll(image(h, w), shift=i, axis=1) for i in range(t)])
