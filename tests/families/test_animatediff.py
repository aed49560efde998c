"""AnimateDiff: a card names a base SD 1.5 repo and a motion adapter, which `load` puts together with the docs'
scheduler; FreeNoise is on for its call only. Every task against the direct diffusers call (FreeNoise included):
tests/test_matrix.py; the rules (the adapter's frame window, FreeNoise's settings): tests/checks/test_spec_errors.py."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import videogen
from videogen.families.animatediff import FAMILY, SCHEDULER
from videogen.loading.pipelines import CACHE
from videogen.testing import tiny_folder


def test_catalog_cards_name_the_base_model_and_the_adapter() -> None:
    cards = {c.name: c for c in videogen.list_models("animatediff")}
    card = cards["animatediff-v1-5-2"]
    assert card.repo == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert card.components == {"motion_adapter": ("guoyww/animatediff-motion-adapter-v1-5-2", None)}
    assert card.pipeline_class("v2v", FAMILY) == "AnimateDiffVideoToVideoPipeline"
    assert (card.height, card.width, card.num_frames, card.fps) == (512, 512, 16, 8)
    plan = videogen.plan(model="animatediff-v1-5-2", prompt="a cat")  # the stored architecture, no download
    weights = {c.name: c.bytes or 0 for c in plan.components}
    assert plan.source.startswith("stored architecture") and not plan.unknown
    assert 2.5e9 < weights["unet"] < 2.8e9  # UNetMotionModel, 1.31B parameters in float16


def test_load_puts_the_adapter_into_the_base_model_with_the_docs_scheduler(tmp_path: Path) -> None:
    """A base folder shipping another scheduler (SD 1.5 ships PNDM) and the adapter from `components`."""
    from diffusers import AnimateDiffPipeline

    base = tmp_path / "base"
    shutil.copytree(tiny_folder("animatediff", "t2v"), base)
    (base / "scheduler" / "scheduler_config.json").write_text(
        json.dumps({"_class_name": "PNDMScheduler", "beta_schedule": "scaled_linear", "skip_prk_steps": True})
    )
    adapter = base / "motion_adapter"
    tiny = next(c for c in FAMILY.cards if c.tiny)
    card = replace(tiny, tiny=None, path=str(base), components={"motion_adapter": (str(tmp_path), "adapter")})
    shutil.move(adapter, tmp_path / "adapter")  # the adapter lives in its own repo
    index = json.loads((base / "model_index.json").read_text())
    index["motion_adapter"] = [None, None]
    (base / "model_index.json").write_text(json.dumps(index))
    pipe = FAMILY.load(card, AnimateDiffPipeline, {})
    assert type(pipe.motion_adapter).__name__ == "MotionAdapter"
    assert type(pipe.unet).__name__ == "UNetMotionModel"
    assert type(pipe.scheduler).__name__ == "DDIMScheduler"
    assert all(pipe.scheduler.config[k] == v for k, v in SCHEDULER.items() if not k.startswith("_"))


def test_free_noise_is_on_for_its_call_only() -> None:
    fields = {"model": "tiny-animatediff", "prompt": "a cat", "seed": 1, "progress": False}
    long = videogen.generate(num_frames=12, extra={"free_noise": {"context_length": 8, "context_stride": 4}}, **fields)
    assert long.frames.shape[0] == 12
    keys = [k for k in CACHE.keys() if k[0] == "tiny-animatediff"]  # noqa: SIM118 (no __iter__)
    assert not CACHE.get(keys[-1], lambda: None).base.free_noise_enabled
    plain = videogen.generate(num_frames=12, **fields)
    assert (plain.frames != long.frames).any()  # FreeNoise's windows changed the video
