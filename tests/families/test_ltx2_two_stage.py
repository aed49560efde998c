"""LTX-2's two stages (`extra["two_stage"]`) against diffusers' documented two-stage call on the tiny model, the
rules checked before load, and the enhanced prompt recorded when prompt enhancement runs."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import direct_pipeline

import videogen
from videogen.errors import SpecError
from videogen.families import ltx2
from videogen.testing import tiny_folder

PROMPT = "a drummer plays on a rooftop at dusk"
SEED = 5


@pytest.fixture(scope="module")
def two_stage() -> videogen.VideoResult:
    return videogen.generate(
        model="tiny-ltx2", prompt=PROMPT, seed=SEED, height=64, width=64, extra={"two_stage": True}, progress=False
    )


def test_two_stages_equal_the_documented_direct_call(two_stage: videogen.VideoResult) -> None:
    import torch
    from diffusers.pipelines.ltx2 import LTX2LatentUpsamplePipeline, LTX2LatentUpsamplerModel
    from diffusers.pipelines.ltx2.utils import STAGE_2_DISTILLED_SIGMA_VALUES

    folder = tiny_folder("ltx2", "t2v")
    pipe = direct_pipeline("LTX2Pipeline", str(folder))
    common = dict(
        prompt=PROMPT, num_frames=9, frame_rate=24.0, spatio_temporal_guidance_blocks=[1], max_sequence_length=32
    )
    generator = torch.Generator("cpu").manual_seed(SEED)
    torch.manual_seed(SEED)
    video_latents, audio_latents = pipe(
        **common,
        height=32,
        width=32,
        num_inference_steps=2,
        guidance_scale=3.0,
        generator=generator,
        output_type="latent",
        return_dict=False,
    )
    upsampler = LTX2LatentUpsamplerModel.from_pretrained(folder / "latent_upsampler")
    upsampled = LTX2LatentUpsamplePipeline(vae=pipe.vae, latent_upsampler=upsampler)(
        latents=video_latents, output_type="latent", return_dict=False
    )[0]
    video, audio = pipe(
        **common,
        height=64,
        width=64,
        latents=upsampled,
        audio_latents=audio_latents,
        num_inference_steps=3,
        noise_scale=STAGE_2_DISTILLED_SIGMA_VALUES[0],
        sigmas=STAGE_2_DISTILLED_SIGMA_VALUES,
        guidance_scale=1.0,
        generator=generator,
        output_type="np",
        return_dict=False,
    )
    direct = (video[0] * 255).round().astype(np.int16)
    assert two_stage.frames.shape == (9, 64, 64, 3)
    assert np.abs(two_stage.frames.astype(np.int16) - direct).max() <= 1
    generated = two_stage.metadata["audio"]["generated_samples"]
    assert np.abs(two_stage.audio.waveform[:, :generated] - audio[0].float().numpy()).max() <= 1e-6
    recorded = two_stage.metadata["two_stage"]
    assert recorded["stage_1"] == {"height": 32, "width": 32, "steps": 2}
    assert recorded["stage_2"]["sigmas"] == list(STAGE_2_DISTILLED_SIGMA_VALUES) == ltx2.STAGE_2_SIGMAS


def test_two_stage_steps_reach_on_step_and_replay_repeats_them(two_stage: videogen.VideoResult, tmp_path) -> None:
    seen: list[tuple[int, int]] = []
    videogen.generate(two_stage.spec, on_step=lambda s, t: seen.append((s, t)), progress=False)
    assert seen == [(i, 5) for i in range(1, 6)]  # 2 steps of stage 1, 3 of stage 2
    again = videogen.replay(two_stage.save(tmp_path / "clip.mp4"), progress=False)
    assert again.frames_sha256 == two_stage.frames_sha256 and again.audio.sha256 == two_stage.audio.sha256


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"model": "ltx-2", "extra": {"two_stage": True}}, "distilled LoRA"),
        ({"model": "ltx-2.3-distilled", "extra": {"two_stage": True}}, "ships no latent upsampler"),
        ({"model": "ltx-2.3-distilled", "extra": {"two_stage": "no such folder"}}, "neither a folder"),
        ({"model": "tiny-ltx2", "extra": {"two_stage": 2}}, "must be True"),
        ({"model": "tiny-ltx2", "task": "i2v", "image": "x.png", "extra": {"two_stage": True}}, "text-to-video only"),
        ({"model": "tiny-ltx2", "height": 96, "snap": False, "extra": {"two_stage": True}}, "a multiple of 64"),
        (
            {"model": "tiny-ltx2", "height": 64, "width": 64, "cache": "taylorseer", "extra": {"two_stage": True}},
            "from stage 1's steps",
        ),
    ],
)
def test_two_stage_rules_are_checked_before_load(fields: dict, words: str, tmp_path, monkeypatch) -> None:
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (64, 64)).save("x.png")
    with pytest.raises(SpecError, match=words):
        videogen.prepare(prompt=PROMPT, **fields)


def test_a_hub_id_or_a_folder_names_the_upsampler() -> None:
    spec = videogen.prepare(model="ltx-2.3-distilled", prompt=PROMPT, extra={"two_stage": "org/ltx-upsampler"}).spec
    assert spec.extra["two_stage"] == "org/ltx-upsampler"  # kept for replay; the call reads it, not the pipeline
    assert ltx2._upsampler_location(str(tiny_folder("ltx2", "t2v"))) == (
        str(tiny_folder("ltx2", "t2v")),
        "latent_upsampler",
    )


def test_the_enhanced_prompt_is_recorded_and_made_the_video(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny model has no processor to enhance with: the pipeline's own `enhance_prompt` is replaced by a stub,
    called by the real pipeline's `__call__`, and the card's refusal lifted."""
    import diffusers

    asked: list[dict] = []

    def enhance(self, prompt: str, system_prompt: str, **kw: object) -> list[str]:
        asked.append({"prompt": prompt, "system_prompt": system_prompt})
        return [f"{prompt}, in slow motion"]

    monkeypatch.setattr(diffusers.LTX2Pipeline, "enhance_prompt", enhance)
    monkeypatch.setattr(ltx2, "_check_enhancement", lambda spec, card: None)
    extra = {"enable_prompt_enhancement": True, "system_prompt": "Rewrite it", "two_stage": True}
    result = videogen.generate(model="tiny-ltx2", prompt=PROMPT, seed=SEED, height=64, width=64, extra=extra)
    recorded = result.metadata["prompt_enhancement"]
    assert recorded["enhanced_prompt"] == f"{PROMPT}, in slow motion" and recorded["system_prompt"] == "Rewrite it"
    assert len(asked) == 1  # stage 2 reuses stage 1's enhanced prompt
    plain = videogen.generate(
        model="tiny-ltx2", prompt=recorded["enhanced_prompt"], seed=SEED, height=64, width=64, extra={"two_stage": True}
    )
    assert plain.frames_sha256 == result.frames_sha256  # the video was made from the enhanced prompt
    assert "prompt_enhancement" not in plain.metadata
