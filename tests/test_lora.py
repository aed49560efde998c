"""LoRA: a tiny adapter made with peft changes the frames; without it the plain model comes back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import videogen
from videogen.pipeline import CACHE

pytest.importorskip("peft")


@pytest.fixture(scope="module")
def tiny_lora(tmp_path_factory) -> Path:
    import diffusers
    import torch
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    folder = videogen.testing.tiny_pipeline("wan")
    transformer = diffusers.WanTransformer3DModel.from_pretrained(folder, subfolder="transformer")
    torch.manual_seed(0)
    transformer.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                       target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    out = tmp_path_factory.mktemp("lora")
    diffusers.WanPipeline.save_lora_weights(out, transformer_lora_layers=get_peft_model_state_dict(transformer))
    return out / "pytorch_lora_weights.safetensors"


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
