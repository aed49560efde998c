"""LTX-2: video with sound. The tiny model end to end (the mp4's audio stream as ffmpeg decodes it, the sound
against the direct diffusers call, replay of both), and the family's rules before any weights load. Every task
against the direct call's frames: tests/test_matrix.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import direct_pipeline, image

import videogen
from videogen.testing import tiny_folder

PROMPT = "a drummer plays on a rooftop at dusk"
SEED = 5
#: the tiny vocoder's rate (as the real LTX-2's)
RATE = 24000


@pytest.fixture(scope="module")
def result() -> videogen.VideoResult:
    return videogen.generate(model="tiny-ltx2", prompt=PROMPT, seed=SEED, progress=False)


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def decoded(path: Path, stream: str, *args: str) -> bytes:
    """One stream of `path` as ffmpeg decodes it (raw bytes)."""
    return subprocess.run(
        [ffmpeg(), "-v", "error", "-i", str(path), "-map", stream, *args, "-"], check=True, capture_output=True
    ).stdout


def test_result_has_sound_at_the_vocoders_rate_as_long_as_the_video(result: videogen.VideoResult) -> None:
    audio = result.audio
    assert audio is not None and audio.sample_rate == RATE and audio.channels == 2
    assert audio.waveform.dtype == np.float32
    assert abs(audio.duration - result.num_frames / result.fps) < 1 / result.fps
    assert np.abs(audio.waveform).max() > 0  # random weights, but sound
    recorded = result.metadata["audio"]
    assert recorded["sample_rate"] == RATE and recorded["sha256"] == audio.sha256
    # the model's own sound is 4n-3 mel frames long: shorter than the video, padded with silence to its length
    assert recorded["generated_samples"] + recorded["padded_samples"] == audio.samples
    assert not audio.waveform[:, recorded["generated_samples"] :].any()


def test_saved_mp4_has_an_aac_stream_whose_duration_matches_the_video(
    result: videogen.VideoResult, tmp_path: Path
) -> None:
    path = result.save(tmp_path / "clip.mp4")
    info = subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    assert "Audio: aac" in info and f"{RATE} Hz" in info and "stereo" in info
    samples = len(decoded(path, "0:a:0", "-f", "s16le", "-ac", "1")) // 2  # what a player plays
    frames = len(decoded(path, "0:v:0", "-f", "rawvideo", "-pix_fmt", "rgb24")) // (32 * 32 * 3)
    assert frames == result.num_frames
    assert abs(samples / RATE - frames / result.fps) <= 1 / result.fps
    sidecar = json.loads((tmp_path / "clip.mp4.json").read_text())
    assert sidecar["saved"]["audio"]["codec"] == "aac" and sidecar["saved"]["audio"]["sample_rate"] == RATE
    assert sidecar["audio"]["sha256"] == result.audio.sha256


def test_save_audio_writes_the_waveform_as_wav(result: videogen.VideoResult, tmp_path: Path) -> None:
    from videogen.media.audio import read_wav

    back = read_wav(result.save_audio(tmp_path / "sound.wav"))
    assert back.sample_rate == RATE and back.waveform.shape == result.audio.waveform.shape
    assert np.abs(back.waveform - result.audio.waveform).max() <= 1 / 32767 + 1e-6  # 16-bit PCM


#: the stated tolerance of the sound against the direct diffusers call (float32 on a CPU: the same operations)
AUDIO_TOLERANCE = 1e-6


@pytest.mark.parametrize("task", ["t2v", "i2v", "conditioned"])
def test_sound_equals_the_direct_diffusers_call(task: str, result: videogen.VideoResult) -> None:
    import torch
    from diffusers.pipelines.ltx2 import LTX2VideoCondition
    from PIL import Image

    picture = Image.fromarray(image())
    media = {"t2v": {}, "i2v": {"image": picture, "image_crf": 0}}.get(task)
    if media is None:  # the image at frame 0, as videogen places image= for task="conditioned"
        media = {"conditions": [LTX2VideoCondition(frames=picture, index=0, strength=1.0, crf=0)]}
    ours = result
    if task != "t2v":
        ours = videogen.generate(model="tiny-ltx2", task=task, prompt=PROMPT, image=image(), seed=SEED, progress=False)
    pipe = direct_pipeline(ours.metadata["model"]["pipeline"], str(tiny_folder("ltx2", "t2v")))
    torch.manual_seed(SEED)
    out = pipe(
        prompt=PROMPT,
        height=32,
        width=32,
        num_frames=9,
        frame_rate=24.0,
        num_inference_steps=2,
        guidance_scale=3.0,
        spatio_temporal_guidance_blocks=[1],
        max_sequence_length=32,
        generator=torch.Generator("cpu").manual_seed(SEED),
        output_type="np",
        **media,
    )
    direct = out.audio[0].float().numpy()
    generated = ours.metadata["audio"]["generated_samples"]
    assert direct.shape == (2, generated)
    assert np.abs(ours.audio.waveform[:, :generated] - direct).max() <= AUDIO_TOLERANCE


def test_replay_gives_the_same_frames_and_sound(result: videogen.VideoResult, tmp_path: Path) -> None:
    path = result.save(tmp_path / "clip.mp4")
    again = videogen.replay(path, progress=False)
    assert again.frames_sha256 == result.frames_sha256
    assert again.audio.sha256 == result.audio.sha256


def test_batch_saves_each_video_with_its_sound(tmp_path: Path) -> None:
    specs = [{"model": "tiny-ltx2", "prompt": PROMPT, "seed": seed} for seed in (1, 2)]
    items = list(videogen.generate_many(specs, tmp_path, progress=False))
    assert [item.status for item in items] == ["done", "done"]
    hashes = set()
    for item in items:
        sidecar = json.loads(Path(f"{item.path}.json").read_text())
        assert sidecar["saved"]["audio"]["codec"] == "aac" and len(decoded(item.path, "0:a:0", "-f", "s16le")) > 0
        hashes.add(sidecar["audio"]["sha256"])
    assert len(hashes) == 2  # each seed its own sound


def test_notebook_display_plays_with_sound(result: videogen.VideoResult) -> None:
    html = result._repr_html_()
    assert "<video controls loop " in html and "muted" not in html  # sound: played on a click
    assert "24000 Hz" in html


def test_silent_family_has_no_audio_and_save_audio_says_so(tmp_path: Path) -> None:
    silent = videogen.generate(model="tiny-wan", prompt=PROMPT, seed=1, progress=False)
    assert silent.audio is None and "audio" not in silent.metadata
    with pytest.raises(videogen.SpecError, match="makes no sound"):
        silent.save_audio(tmp_path / "x.wav")


def test_audio_false_gives_a_silent_result_and_file(tmp_path: Path) -> None:
    silent = videogen.generate(model="tiny-ltx2", prompt=PROMPT, seed=SEED, audio=False, progress=False)
    assert silent.audio is None and silent.metadata["audio"] is None and silent.spec.audio is False
    path = silent.save(tmp_path / "silent.mp4")
    info = subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    assert "Video: h264" in info and "Audio:" not in info


def test_demo_command_writes_an_mp4_with_sound(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from videogen.cli.command import main

    assert main(["demo", "--model", "tiny-ltx2", "-o", str(tmp_path / "demo.mp4")]) == 0
    assert "sound 24000 Hz" in capsys.readouterr().err
    samples = len(decoded(tmp_path / "demo.mp4", "0:a:0", "-f", "s16le", "-ac", "1")) // 2
    assert abs(samples / RATE - 9 / 24) <= 1 / 24


def test_taylorseer_runs_on_both_streams_and_other_caches_are_refused_before_load() -> None:
    cached = videogen.generate(model="tiny-ltx2", prompt=PROMPT, seed=SEED, steps=6, cache="auto", progress=False)
    record = cached.metadata["cache"]
    assert record["method"] == "taylorseer" and record["skipped"] > 0 and cached.audio is not None
    for method in ("fbc", "magcache", "pab", "fastercache", "dbcache"):
        with pytest.raises(videogen.SpecError, match=method):
            videogen.prepare(model="tiny-ltx2", prompt=PROMPT, cache=method)


def test_a_lora_changes_both_streams(result: videogen.VideoResult) -> None:
    from videogen.testing import tiny_lora

    styled = videogen.generate(model="tiny-ltx2", prompt=PROMPT, seed=SEED, loras=[str(tiny_lora("ltx2"))])
    assert (styled.frames != result.frames).any()
    assert np.abs(styled.audio.waveform - result.audio.waveform).max() > 0


@pytest.mark.parametrize("degrees", ["ulysses=2", "ring=2"])
def test_context_parallel_is_refused_before_load(degrees: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2"}.items():  # as torchrun sets them
        monkeypatch.setenv(name, value)
    with pytest.raises(videogen.SpecError, match="LTX2VideoTransformer3DModel.*one GPU"):
        videogen.prepare(model="tiny-ltx2", prompt=PROMPT, parallel=degrees)


def test_up_to_20_seconds_at_the_specs_fps() -> None:
    assert videogen.prepare(model="tiny-ltx2", prompt=PROMPT, num_frames=593, fps=30).spec.num_frames == 593
    with pytest.warns(videogen.SnapWarning, match="at most 20 s"):
        snapped = videogen.prepare(model="tiny-ltx2", prompt=PROMPT, num_frames=601, fps=30, snap=True)
    assert snapped.spec.num_frames == 593


def test_distilled_card_runs_its_sigmas_and_stg_off_needs_no_blocks() -> None:
    p = videogen.prepare(model="ltx-2.3-distilled", prompt=PROMPT, height=512, width=768, num_frames=121)
    assert p.spec.steps == 8 and p.spec.guidance_scale == 1.0
    with pytest.raises(videogen.SpecError, match="documented sigmas"):
        videogen.prepare(model="ltx-2.3-distilled", prompt=PROMPT, steps=4)
    off = {"stg_scale": 0.0, "audio_stg_scale": 0.0, "spatio_temporal_guidance_blocks": []}
    assert videogen.prepare(model="tiny-ltx2", prompt=PROMPT, extra=off).spec.extra == off


def test_image_condition_needs_pyav_unless_crf_is_zero() -> None:
    import importlib.util

    if importlib.util.find_spec("av") is not None:
        pytest.skip("PyAV is installed here")
    with pytest.raises(videogen.SpecError, match="pip install av"):
        videogen.prepare(model="ltx-2", task="i2v", prompt=PROMPT, image=image(512, 768))
    videogen.prepare(model="ltx-2", task="i2v", prompt=PROMPT, image=image(512, 768), extra={"image_crf": 0})
    with pytest.raises(videogen.SpecError, match=r"pip install av.*'crf': 0") as caught:
        videogen.prepare(model="ltx-2", task="conditioned", prompt=PROMPT, image=image(512, 768))
    assert caught.value.field == "image"
    at_frame = {"conditions": [{"image": image(512, 768), "frame_index": 40, "crf": 0}]}
    videogen.prepare(model="ltx-2", task="conditioned", prompt=PROMPT, extra=at_frame)
