"""Live previews in the library (features/preview.py): inside `watch_latents()`, an `on_step` callback sees a small
RGB picture of the current latents; outside it nothing is hooked; the video is the same either way."""

from __future__ import annotations

import numpy as np

import videogen
from videogen.features.preview import LatentWatch, watch_latents


def test_a_preview_at_every_step_and_the_same_video() -> None:
    spec = {"model": "tiny-wan", "prompt": "a ferret", "steps": 3, "seed": 5, "progress": False}
    seen = []
    with watch_latents() as watch:

        def on_step(step: int, total: int) -> None:
            image = watch.preview(max_side=48)
            assert image is not None and image.mode == "RGB" and max(image.size) == 48
            seen.append((step, np.asarray(image)))

        watched = videogen.generate(**spec, on_step=on_step)
    assert [s for s, _ in seen] == [1, 2, 3]
    assert any(np.asarray(a).std() > 0 for _, a in seen)  # a picture, not a blank
    assert not np.array_equal(seen[0][1], seen[-1][1])  # it follows the denoising
    assert watch.latents is None and watch.preview() is None  # nothing kept after the call
    plain = videogen.generate(**spec)
    assert plain.frames_sha256 == watched.frames_sha256
    from videogen.loading.pipelines import CACHE

    for key in CACHE.keys():  # the hook came off with the call
        entry = CACHE.get(key, lambda: (None, None))
        assert not getattr(entry.base, "transformer", None)._forward_pre_hooks


def test_latent_layouts() -> None:
    import torch

    watch = LatentWatch()
    assert watch.preview() is None  # before the first step
    watch.latents, watch.channels = torch.randn(2, 16, 3, 8, 12), 16  # (B, C, F, H, W): Wan, HunyuanVideo
    assert watch.preview(max_side=24).size == (24, 16)
    watch.latents = torch.randn(1, 3, 16, 8, 12)  # (B, F, C, H, W): CogVideoX
    assert watch.preview(max_side=24).size == (24, 16)
    watch.latents = torch.randn(1, 96, 128)  # packed tokens (LTX): no preview, no error
    assert watch.preview() is None
