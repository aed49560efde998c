"""LoRA: a tiny adapter made with peft changes the frames; without it the plain model comes back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import videogen
from videogen.pipeline import CACHE

pytest.importorskip("peft")


@pytest.fixture(scope="module")
def tiny_lora() -> Path:
    return videogen.testing.tiny_lora("wan")


def frames(**kw) -> np.ndarray:
    return videogen.generate(model="tiny-wan", prompt="a ferret", seed=2, progress=False, **kw).frames


def test_lora_changes_frames_and_switching_back_restores_the_plain_model(tiny_lora: Path) -> None:
    videogen.clear_cache()
    before = CACHE.loads
    plain = frames()
    with_lora = frames(loras=[(str(tiny_lora), 1.0)])
    half = frames(loras=[(str(tiny_lora), 0.5)])
    plain_again = frames()
    assert np.abs(plain.astype(int) - with_lora).max() > 2
    assert np.abs(with_lora.astype(int) - half).max() > 0
    assert (plain_again == plain).all()
    assert CACHE.loads - before == 1  # switched, not reloaded


def test_lora_errors_before_loading(tmp_path: Path) -> None:
    with pytest.raises(videogen.SpecError, match="no file or folder"):
        frames(loras=[str(tmp_path / "missing.safetensors")])
