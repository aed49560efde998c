"""SANA-Video: the card's sizes (the 480p bins the pipelines' own check lets through), image-to-video on the
flow-matching Euler scheduler (put back after the call), LoRA, context parallelism refused before load. Both tasks
against the direct diffusers call: tests/test_matrix.py; the rules: tests/checks/test_spec_errors.py."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import image

import videogen
from videogen.families.sana_video import FAMILY, SIZES_480P
from videogen.loading.pipelines import CACHE

PROMPT = "a white ferret leaps into a stream"


def test_the_cards_sizes_are_the_480p_bins_the_pipelines_run() -> None:
    from diffusers.pipelines.sana_video.pipeline_sana_video import ASPECT_RATIO_480_BIN

    bins = {(int(h), int(w)) for h, w in ASPECT_RATIO_480_BIN.values()}
    runs = {(h, w) for h, w in bins if h % 32 == 0 and w % 32 == 0}  # check_inputs refuses the others
    assert set(SIZES_480P) == runs and len(bins - runs) == 7
    card = videogen.resolve("sana-video-2b-480p")
    assert card.sizes == SIZES_480P and (card.height, card.width, card.num_frames, card.fps) == (480, 832, 81, 16)
    assert card.tasks == ("t2v", "i2v") and card.repo == "Efficient-Large-Model/SANA-Video_2B_480p_diffusers"


def test_image_to_video_runs_on_euler_and_the_scheduler_is_put_back() -> None:
    from diffusers import DPMSolverMultistepScheduler

    dpm = DPMSolverMultistepScheduler(flow_shift=8.0, use_flow_sigmas=True, prediction_type="flow_prediction")
    euler = FAMILY.call_scheduler(dpm, "SanaImageToVideoPipeline")
    assert type(euler).__name__ == "FlowMatchEulerDiscreteScheduler" and euler.config.shift == 8.0
    assert FAMILY.call_scheduler(dpm, "SanaVideoPipeline") is dpm
    videogen.generate(model="tiny-sana_video-i2v", prompt=PROMPT, image=image(), seed=1, progress=False)
    keys = [k for k in CACHE.keys() if k[0] == "tiny-sana_video-i2v"]  # noqa: SIM118 (no __iter__)
    assert type(CACHE.get(keys[-1], lambda: None).base.scheduler).__name__ == "DPMSolverMultistepScheduler"


def test_lora_changes_the_video() -> None:
    lora = videogen.testing.tiny_lora("sana_video")
    fields = {"model": "tiny-sana_video", "prompt": PROMPT, "seed": 3, "progress": False}
    plain = videogen.generate(**fields).frames
    with_lora = videogen.generate(loras=[(str(lora), 1.0)], **fields).frames
    assert np.abs(plain.astype(int) - with_lora.astype(int)).max() > 0


def test_context_parallelism_is_refused_before_load(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    loads = CACHE.loads
    with pytest.raises(videogen.SpecError, match="sana_video model, whose transformer declares no context-parallel"):
        videogen.prepare(model="tiny-sana_video", prompt=PROMPT, parallel="ulysses=2")
    assert CACHE.loads == loads
