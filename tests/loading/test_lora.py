"""LoRA: a tiny adapter made with peft changes the frames; without it the plain model comes back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import videogen
from videogen.loading.pipelines import CACHE

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


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("/etc/passwd", ["is not a LoRA weight file", ".safetensors or .bin"]),
        ("x", ["not a Hub repo id (org/name)"]),
        ("org/name/extra", ["not a Hub repo id (org/name)"]),
        ("org/../name", ["not a Hub repo id"]),
        ("missing.safetensors", ["no file or folder at 'missing.safetensors'"]),
    ],
)
def test_a_source_that_is_no_lora_is_refused_before_loading(source: str, words: list[str]) -> None:
    """It passed planning and failed at load as a generic error ("x" first tried the network)."""
    with pytest.raises(videogen.SpecError) as info:
        videogen.prepare(model="tiny-wan", prompt="a", loras=[source])
    assert info.value.field == "loras"
    for word in words:
        assert word in str(info.value), str(info.value)


def test_a_folder_must_hold_a_lora_file(tmp_path: Path, tiny_lora: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.md").write_text("no weights here")
    with pytest.raises(videogen.SpecError, match="holds no LoRA weight file"):
        videogen.prepare(model="tiny-wan", prompt="a", loras=[str(empty)])
    with pytest.raises(videogen.SpecError, match="has no 'other.safetensors'"):
        videogen.prepare(
            model="tiny-wan", prompt="a", loras=[videogen.LoRA(str(empty), weight_name="other.safetensors")]
        )


def test_a_folder_holding_the_lora_and_a_hub_id_pass(tmp_path: Path, tiny_lora: Path) -> None:
    folder = tmp_path / "style"
    folder.mkdir()
    (folder / tiny_lora.name).write_bytes(tiny_lora.read_bytes())
    assert (frames(loras=[str(folder)]) == frames(loras=[str(tiny_lora)])).all()
    videogen.prepare(model="tiny-wan", prompt="a", loras=["org/style-lora.v2"])  # fetched at load, not before
