"""Live previews (`generate(on_preview=fn, preview_every=N)`): a picture of the denoised estimate every N steps
through the VAE's fitted latent→RGB projection (stored per VAE config), the one-frame decode as the fallback,
the notebook display updated in place, errors before load; the video is the same with or without them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import videogen
from videogen.generation.features import preview
from videogen.loading import latent_rgb
from videogen.loading.pipelines import CACHE

SPEC: dict[str, Any] = {"model": "tiny-wan", "prompt": "a ferret", "seed": 4, "steps": 5, "progress": False}


def test_a_preview_every_n_steps_and_after_the_last_and_the_same_video() -> None:
    seen: list[tuple[int, int, Any]] = []
    watched = videogen.generate(
        **SPEC, on_preview=lambda image, step, total: seen.append((step, total, image)), preview_every=2
    )
    assert [(s, t) for s, t, _ in seen] == [(2, 5), (4, 5), (5, 5)]
    image = seen[-1][2]
    assert image.mode == "RGB" and image.size == (4, 4)  # one pixel per latent pixel: 32×32 / 8
    assert not np.array_equal(np.asarray(seen[0][2]), np.asarray(image))  # it follows the denoising
    record = watched.metadata["preview"]
    assert record["every"] == 2 and record["shown"] == 3 and record["method"] == "linear" and record["seconds"] > 0
    plain = videogen.generate(**SPEC)
    assert plain.frames_sha256 == watched.frames_sha256 and "preview" not in plain.metadata
    pipe = next(CACHE.peek(k) for k in CACHE.keys() if k[0] == "tiny-wan").base
    assert "step" not in pipe.scheduler.__dict__  # the wrap came off with the call


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"preview_every": 0, "on_preview": print}, "preview_every", "≥ 1"),
        ({"preview_every": 2}, "on_preview", "needs on_preview"),
        ({"on_preview": 5}, "on_preview", "a function fn(image, step, total)"),
        ({"on_preview": "display"}, "on_preview", "Jupyter notebook"),
    ],
)
def test_preview_options_are_checked_before_load(options: dict, field: str, words: str, monkeypatch) -> None:
    monkeypatch.setattr(CACHE, "get", lambda *a, **k: pytest.fail("reached the pipeline cache"))
    with pytest.raises(videogen.SpecError) as info:
        videogen.generate(**SPEC, **options)
    assert info.value.field == field and words in str(info.value)


class LinearVAE:
    """A stand-in VAE whose latents are a known linear map of the pixels (8×8 average, 4 channels), normalised
    as Wan's config says: the fit must find the inverse."""

    def __init__(self) -> None:
        import torch

        self.mix = torch.tensor([[1.0, 0.2, -0.5], [0.0, 1.0, 0.3], [0.4, -0.2, 1.0], [0.5, 0.5, 0.5]])
        self.config = {"latents_mean": [0.1, -0.2, 0.0, 0.3], "latents_std": [2.0, 1.0, 0.5, 1.0], "z_dim": 4}
        self.weight = torch.zeros(1)

    def parameters(self):
        return iter([self.weight])

    def encode(self, x: Any) -> Any:
        import torch

        pooled = torch.nn.functional.avg_pool2d(((x[:, :, 0] + 1) / 2).float(), 8)  # (N, 3, h, w) in 0–1
        z = torch.einsum("nchw,kc->nkhw", pooled, self.mix)[:, :, None]  # (N, 4, 1, h, w)
        return type("Out", (), {"latent_dist": type("Dist", (), {"mean": z})()})()


def test_the_fit_inverts_a_linear_vae_and_is_stored_per_vae_config() -> None:
    import torch

    vae = LinearVAE()
    path = latent_rgb.fit_path(vae)
    path.unlink(missing_ok=True)
    projection = latent_rgb.projection_for(vae)  # fitted and stored
    assert projection.channels == 4 and projection.rms_error < 1e-3 < projection.rms_baseline
    assert json.loads(path.read_text())["vae"] == "LinearVAE"
    colour = torch.tensor([0.9, 0.3, 0.1])  # a colour through the "VAE" and back through the projection
    latents = latent_rgb.encode(vae, colour.view(1, 3, 1, 1).expand(1, 3, 8, 8))[0]
    rgb = preview._project(latents, projection)[:, 0, 0]
    assert torch.allclose(rgb, colour, atol=1e-3)
    again = LinearVAE()
    again.config = {**again.config, "latents_std": [1.0, 1.0, 1.0, 1.0]}  # another config: its own fit
    assert latent_rgb.fit_path(again) != path


def test_a_stored_fit_is_reused_and_the_tiny_vae_s_fit_beats_the_mean_colour(monkeypatch) -> None:
    videogen.preload(**SPEC)
    vae = next(CACHE.peek(k) for k in CACHE.keys() if k[0] == "tiny-wan").base.vae
    first = latent_rgb.projection_for(vae)
    assert first.rms_error <= first.rms_baseline  # random weights: little to find, but never worse than nothing
    monkeypatch.setattr(latent_rgb, "fit", lambda *a, **k: pytest.fail("refitted a stored projection"))
    assert latent_rgb.projection_for(vae) == first


def test_without_a_projection_one_latent_frame_is_decoded(monkeypatch) -> None:
    def no_fit(vae: Any) -> Any:
        raise RuntimeError("no encoder")

    monkeypatch.setattr(latent_rgb, "projection_for", no_fit)
    seen = []
    result = videogen.generate(**SPEC, on_preview=lambda image, step, total: seen.append(image), preview_every=5)
    assert result.metadata["preview"]["method"] == "decode"
    assert len(seen) == 1 and seen[0].size == (32, 32) and np.asarray(seen[0]).std() > 0  # the VAE's own pixels


def test_the_notebook_display_updates_in_place(monkeypatch) -> None:
    import sys
    import types

    calls: list[str] = []

    class Handle:
        def update(self, image: Any) -> None:
            calls.append(f"update {image.size}")

    def display(image: Any, display_id: bool = False) -> Handle:
        assert display_id is True
        calls.append(f"display {image.size}")
        return Handle()

    ipython = types.ModuleType("IPython")  # a notebook's kernel, as IPython shows it
    ipython.get_ipython = lambda: types.SimpleNamespace(kernel=object())  # type: ignore[attr-defined]
    shown = types.ModuleType("IPython.display")
    shown.display = display  # type: ignore[attr-defined]
    ipython.display = shown  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", shown)
    videogen.generate(**{**SPEC, "steps": 3}, on_preview="display")
    assert calls == ["display (16, 16)", "update (16, 16)", "update (16, 16)"]  # 4×4 latents shown ×4


def test_latent_layouts() -> None:
    import torch

    class Pipe:
        vae_spatial_compression_ratio = 8

    prepared = videogen.prepare(model="tiny-wan", prompt="a", height=32, width=48)
    wan = torch.randn(2, 16, 3, 4, 6)  # (B, C, F, h, w): Wan, HunyuanVideo
    assert torch.equal(preview._middle_frame(wan, 16, Pipe(), prepared), wan[0, :, 1])
    cog = torch.randn(1, 3, 16, 4, 6)  # (B, F, C, h, w): CogVideoX
    assert torch.equal(preview._middle_frame(cog, 16, Pipe(), prepared), cog[0, 1])
    packed = wan[:1].permute(0, 2, 3, 4, 1).reshape(1, 3 * 4 * 6, 16)  # (B, F·h·w, C): LTX
    assert torch.equal(preview._middle_frame(packed, 16, Pipe(), prepared), wan[0, :, 1])
    assert preview._middle_frame(torch.randn(1, 70, 16), 16, Pipe(), prepared) is None  # not a whole frame


def test_preview_fit_command_fits_again(tmp_path: Path, capsys) -> None:
    from videogen.cli.command import main

    assert main(["preview-fit", "-m", "tiny-wan", "-q"]) == 0
    out = capsys.readouterr().out
    assert "AutoencoderKLWan-" in out and "rms colour error" in out
    assert Path(out.split(" (")[0]).is_file()
