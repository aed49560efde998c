"""Live previews: the latents the denoiser is fed, seen from a step callback, as a small RGB image.

Not a spec field: a caller that wants previews opens `watch_latents()` around `generate` in the same thread, and
reads `watch.preview()` from its `on_step` callback. During the call a forward pre-hook on the pipeline's
denoiser(s) keeps a reference to its latest input (no copy, no work); `preview()` turns the current latents into
a small picture only when asked: the middle latent frame, its first three channels stretched to 0–255 each. That
is a rough view (it shows layout and motion, not true colours: there is no fitted latent→RGB projection yet), but
it costs a few operations on a tensor of some thousand values, far below one step. Latents in a layout it does
not recognise (packed token sequences, e.g. LTX) give no preview (None), never an error.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from .base import Feature

if TYPE_CHECKING:
    from PIL import Image

    from ..generation.flow import Prepared

_WATCH: contextvars.ContextVar[LatentWatch | None] = contextvars.ContextVar("videogen_latent_watch", default=None)
DENOISERS = ("transformer", "transformer_2", "unet")


class LatentWatch:
    """The latest latents a denoiser was called with during a `generate` in this context."""

    def __init__(self) -> None:
        self.latents: Any = None  # a tensor, only during the call
        self.channels: int | None = None  # the denoiser's input channels (config.in_channels), to find the axis

    def preview(self, max_side: int = 96) -> Image.Image | None:
        """The current latents as a small RGB PIL image (longest side ≤ `max_side`), or None before the first
        step, after the call, or for a layout without a channel axis to read."""
        latents = self.latents
        if latents is None or getattr(latents, "ndim", 0) not in (4, 5):
            return None
        return _to_image(latents.detach(), self.channels, max_side)


@contextlib.contextmanager
def watch_latents() -> Iterator[LatentWatch]:
    """Within this block, `generate` calls in this thread (context) keep their denoiser's latest latents in the
    yielded `LatentWatch`; read `preview()` from an `on_step` callback."""
    watch = LatentWatch()
    token = _WATCH.set(watch)
    try:
        yield watch
    finally:
        _WATCH.reset(token)
        watch.latents = None


def _to_image(latents: Any, channels: int | None, max_side: int) -> Image.Image | None:
    import torch
    from PIL import Image

    x = latents[0].float()  # the first of the batch (classifier-free guidance may double it)
    if x.ndim == 4:  # (C, F, H, W) or (F, C, H, W): the channel axis is the one of the denoiser's width
        channel_axis = 1 if channels is not None and x.shape[1] == channels and x.shape[0] != channels else 0
        x = x.movedim(channel_axis, 0)
        x = x[:, x.shape[1] // 2]  # the middle latent frame
    if x.shape[0] < 1:
        return None
    rgb = x[:3] if x.shape[0] >= 3 else x[:1].expand(3, -1, -1)
    low = rgb.amin(dim=(1, 2), keepdim=True)
    high = rgb.amax(dim=(1, 2), keepdim=True)
    rgb = ((rgb - low) / (high - low).clamp_min(1e-6) * 255).to(torch.uint8)
    image = Image.fromarray(rgb.permute(1, 2, 0).cpu().numpy(), "RGB")
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.NEAREST)


class PreviewFeature(Feature):
    """Keeps the denoiser's latest input for a `watch_latents()` block; does nothing outside one."""

    name = "preview"

    def around_call(self, pipe: Any, prepared: Prepared) -> AbstractContextManager[Any]:
        watch = _WATCH.get()
        if watch is None:
            return contextlib.nullcontext()
        return _hooked(pipe, watch)


@contextlib.contextmanager
def _hooked(pipe: Any, watch: LatentWatch) -> Iterator[None]:
    def keep(_module: Any, args: tuple, kwargs: dict) -> None:
        latents = args[0] if args else kwargs.get("hidden_states", kwargs.get("sample"))
        if latents is not None:
            watch.latents = latents

    handles = []
    for name in DENOISERS:
        module = getattr(pipe, name, None)
        if module is not None and hasattr(module, "register_forward_pre_hook"):
            watch.channels = watch.channels or getattr(getattr(module, "config", None), "in_channels", None)
            handles.append(module.register_forward_pre_hook(keep, with_kwargs=True))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
        watch.latents = None
