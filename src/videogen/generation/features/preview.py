"""Live previews: `generate(..., on_preview=fn, preview_every=N)` hands `fn(image, step, total)` a small RGB
picture of the current denoised estimate every N steps (and after the last).

For the call, the pipeline's scheduler `step` is wrapped: after every step it counts, and on a preview step it
takes the denoised estimate — the scheduler's own `pred_original_sample` where it gives one, `sample − σ·v` for
flow-matching schedulers, else the new latents — finds the latent layout ((B, C, F, H, W), (B, F, C, H, W) or
LTX's packed tokens, unpacked with the spec's size), takes the middle latent frame and projects it to RGB with
the VAE's fitted linear projection (loading/latent_rgb.py: fitted once per VAE config, before the call's first
step, and stored in the user cache). Where no projection can be fitted, the VAE decodes that one latent frame
instead. The picture has one pixel per latent pixel (1/8 or 1/16 of the video's side); `fn` resizes it.
`on_preview="display"` shows it in a Jupyter notebook's output, updated in place. The metadata's "preview"
records how often, how many, how (linear or decode) and the seconds spent making them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from ...errors import SpecError
from .base import Feature

if TYPE_CHECKING:
    from PIL import Image

    from ...generation.flow import Prepared

logger = logging.getLogger("videogen")
DISPLAY = "display"


class PreviewFeature(Feature):
    """Hands `on_preview` a picture every `preview_every` steps; does nothing without `on_preview`."""

    name = "preview"

    def check_options(self, prepared: Prepared) -> Prepared:
        options = prepared.options
        fn, every = options.get("on_preview"), options.get("preview_every")
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
            raise SpecError(
                f"preview_every={every!r}: a whole number of steps ≥ 1, e.g. preview_every=5", field="preview_every"
            )
        if fn is None:
            if every is not None:
                raise SpecError(
                    "preview_every needs on_preview: pass on_preview=fn (fn(image, step, total)) or "
                    "on_preview='display' in a notebook",
                    field="on_preview",
                )
            return prepared
        if fn == DISPLAY:
            options["on_preview"] = notebook_display()
        elif not callable(fn):
            raise SpecError(
                f"on_preview={fn!r}: a function fn(image, step, total), or 'display' in a notebook", field="on_preview"
            )
        return prepared

    def around_call(self, pipe: Any, prepared: Prepared) -> AbstractContextManager[Any]:
        fn = prepared.options.get("on_preview")
        if fn is None or getattr(pipe, "scheduler", None) is None:
            return contextlib.nullcontext()
        every = int(prepared.options.get("preview_every") or 1)
        total = prepared.family.total_steps(prepared.spec, {})
        return _previewing(pipe, prepared, fn, every, total)

    def record(self, pipe: Any, prepared: Prepared, during: Any) -> dict[str, Any]:
        return {"preview": during} if isinstance(during, dict) else {}


def notebook_display() -> Callable[[Image.Image, int, int], None]:
    """A preview callback that shows the picture in the notebook cell's output, updated in place."""
    shell = None
    try:
        from IPython import get_ipython
        from IPython.display import display

        shell = get_ipython()
    except ImportError:
        pass
    if shell is None or not hasattr(shell, "kernel"):
        raise SpecError(
            "on_preview='display' shows previews in a Jupyter notebook, and none is running here; pass "
            "on_preview=fn (fn(image, step, total)) instead",
            field="on_preview",
        )
    handle: dict[str, Any] = {}

    def show(image: Image.Image, step: int, total: int) -> None:
        shown = image.resize((image.width * 4, image.height * 4)) if max(image.size) < 128 else image
        if "display" not in handle:
            handle["display"] = display(shown, display_id=True)
        else:
            handle["display"].update(shown)

    return show


@contextlib.contextmanager
def _previewing(pipe: Any, prepared: Prepared, fn: Callable, every: int, total: int) -> Iterator[dict[str, Any]]:
    scheduler = pipe.scheduler
    source = Source(pipe, prepared)
    original = scheduler.step
    counter = {"step": 0}
    record: dict[str, Any] = {"every": every, "shown": 0, "method": source.method, "seconds": 0.0}

    def step(model_output: Any, timestep: Any, sample: Any, *args: Any, **kwargs: Any) -> Any:
        sigma = _sigma(scheduler)
        out = original(model_output, timestep, sample, *args, **kwargs)
        counter["step"] += 1
        n = counter["step"]
        if n % every == 0 or n == total:
            start = time.perf_counter()
            image = source.image(_estimate(out, model_output, sample, sigma))
            record["seconds"] += time.perf_counter() - start  # making the pictures, not the caller's fn
            if image is not None:
                record["shown"] += 1
                fn(image, n, total)
        return out

    scheduler.step = step
    try:
        yield record
    finally:
        scheduler.__dict__.pop("step", None)  # the flow may have unwrapped it already (I2VGen-XL's step count)
        record["seconds"] = round(record["seconds"], 6)


def _sigma(scheduler: Any) -> Any:
    """The noise level of the step about to run, for flow-matching schedulers (None for others)."""
    name = type(scheduler).__name__
    config = getattr(scheduler, "config", {}) or {}
    flow = (
        name.startswith("FlowMatch")
        or config.get("use_flow_sigmas")
        or config.get("prediction_type") == ("flow_prediction")
    )
    sigmas, index = getattr(scheduler, "sigmas", None), getattr(scheduler, "step_index", None)
    if not flow or sigmas is None:
        return None
    if index is None:  # before the first step: where the pipeline begins (video-to-video starts later)
        index = getattr(scheduler, "begin_index", None) or 0
    return sigmas[index] if index < len(sigmas) else None


def _estimate(out: Any, model_output: Any, sample: Any, sigma: Any) -> Any:
    """The denoised estimate (x0) after a step, as well as the scheduler lets us see it."""
    predicted = getattr(out, "pred_original_sample", None)
    if predicted is None and isinstance(out, dict):
        predicted = out.get("pred_original_sample")
    if predicted is not None:
        return predicted
    if sigma is not None and getattr(model_output, "shape", None) == getattr(sample, "shape", None):
        return sample - sigma.to(sample.device, sample.dtype) * model_output
    return out[0] if isinstance(out, tuple) else getattr(out, "prev_sample", out)


class Source:
    """Turns denoiser-space latents into a small picture with the VAE's projection, or its decoder."""

    def __init__(self, pipe: Any, prepared: Prepared):
        self.pipe, self.prepared = pipe, prepared
        self.vae = getattr(pipe, "vae", None)
        self.projection = None
        self.channels: int | None = None
        self.method = "none"
        self.tensors: dict[Any, tuple[Any, Any]] = {}  # the projection as tensors, per device and dtype
        if self.vae is None:
            return
        from ...loading.latent_rgb import projection_for

        try:
            self.projection = projection_for(self.vae)
            self.method = "linear"
        except Exception as exc:  # a VAE the fit can't run on: decode one latent frame instead
            logger.info("preview: no linear projection for %s (%s); decoding one frame", type(self.vae).__name__, exc)
            self.method = "decode"
        self.channels = self.projection.channels if self.projection else _latent_channels(self.vae)

    def image(self, latents: Any) -> Image.Image | None:
        if self.method == "none" or latents is None:
            return None
        import torch

        with torch.no_grad():
            frame = _middle_frame(latents, self.channels, self.pipe, self.prepared)  # (C, h, w), float32
            if frame is None:
                return None
            if self.projection is not None:
                rgb = _project(frame, self.projection, self.tensors)
            else:
                rgb = _decode(self.vae, frame)
        return _to_pil(rgb) if rgb is not None else None


def _latent_channels(vae: Any) -> int | None:
    config = getattr(vae, "config", {}) or {}
    return config.get("latent_channels") or config.get("z_dim")


def _middle_frame(latents: Any, channels: int | None, pipe: Any, prepared: Prepared) -> Any:
    """The middle latent frame of the first video in the batch, as (C, h, w); None for an unknown layout."""
    x = latents[0].detach().float()
    if x.ndim == 2 and channels and x.shape[-1] == channels:  # packed tokens (F·h·w, C): LTX
        ratio = getattr(pipe, "vae_spatial_compression_ratio", None) or getattr(pipe, "vae_scale_factor", None)
        spec = prepared.spec
        if not ratio or not spec.height or not spec.width:
            return None
        h, w = int(spec.height) // int(ratio), int(spec.width) // int(ratio)
        if h * w == 0 or x.shape[0] % (h * w):
            return None
        x = x.reshape(x.shape[0] // (h * w), h, w, channels).permute(3, 0, 1, 2)  # (C, F, h, w)
    if x.ndim == 4:  # (C, F, h, w) or (F, C, h, w)
        if channels is not None and x.shape[0] != channels and x.shape[1] == channels:
            x = x.movedim(1, 0)
        x = x[:, x.shape[1] // 2]
    if x.ndim != 3 or (channels is not None and x.shape[0] != channels):
        return None
    return x


def _project(frame: Any, projection: Any, made: dict[Any, tuple[Any, Any]] | None = None) -> Any:
    """(C, h, w) latents → (3, h, w) colours; `made` keeps the projection's tensors between calls."""
    import torch

    made = {} if made is None else made
    key = (frame.device, frame.dtype)
    if key not in made:
        weights = torch.tensor(projection.weights, dtype=frame.dtype, device=frame.device)  # (C, 3)
        made[key] = (weights.T.contiguous(), torch.tensor(projection.bias, dtype=frame.dtype, device=frame.device))
    weights_t, bias = made[key]
    channels, h, w = frame.shape
    return torch.addmm(bias.view(3, 1), weights_t, frame.reshape(channels, h * w)).view(3, h, w)


def _decode(vae: Any, frame: Any) -> Any:
    """One latent frame through the VAE's decoder (the fallback), as colours in 0–1, (3, H, W)."""
    from ...loading.latent_rgb import normalisation

    shift, scale = normalisation(vae, frame.shape[0])
    z = frame / scale.view(-1, 1, 1) + shift.view(-1, 1, 1)
    param = next(vae.parameters())
    z = z.to(param.device, param.dtype)[None]
    try:
        out = vae.decode(z[:, :, None]).sample  # video VAEs: (1, C, 1, h, w)
    except (RuntimeError, ValueError, TypeError):
        try:
            out = vae.decode(z).sample  # image VAEs
        except Exception as exc:
            logger.info("preview: the VAE can't decode one frame (%s)", exc)
            return None
    out = out[0].float()
    if out.ndim == 4:
        out = out[:, out.shape[1] // 2] if out.shape[0] == 3 else out[out.shape[0] // 2]
    return (out + 1) / 2


def _to_pil(rgb: Any) -> Image.Image:
    import torch
    from PIL import Image

    pixels = (rgb.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(pixels, "RGB")
