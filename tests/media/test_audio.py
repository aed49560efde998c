"""Sound in and out (media/audio.py, media/write.py): fitting to the video's length, .wav, AAC muxed into .mp4
(decoded back by the ffmpeg imageio-ffmpeg ships), formats without sound. No model: synthetic tones."""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

import videogen
from videogen.media.audio import as_audio, fit_to_video, read_wav, save_wav
from videogen.media.write import write_video

RATE = 24000


def tone(seconds: float, hz: float = 440.0, channels: int = 2) -> videogen.media.audio.Audio:
    t = np.arange(round(seconds * RATE)) / RATE
    return as_audio(np.stack([0.5 * np.sin(2 * np.pi * hz * t)] * channels), RATE)


def frames(n: int = 12) -> np.ndarray:
    return np.stack([np.full((32, 32, 3), 20 * i, np.uint8) for i in range(n)])


def decode_audio(path: Path) -> np.ndarray:
    import imageio_ffmpeg

    raw = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "f32le", "-"],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, dtype="<f4").reshape(-1, 2).T


def test_fit_pads_with_silence_or_cuts_to_the_videos_length() -> None:
    short, note = fit_to_video(tone(0.4), num_frames=12, fps=24)  # 0.5 s of video
    assert short.samples == RATE // 2 and note == {"generated_samples": 9600, "padded_samples": 2400}
    assert not short.waveform[:, 9600:].any()
    long, note = fit_to_video(tone(0.6), num_frames=12, fps=24)
    assert long.samples == RATE // 2 and note["cut_samples"] == 2400
    same, note = fit_to_video(tone(0.5), num_frames=12, fps=24)
    assert note == {} and same.samples == RATE // 2


def test_sha256_follows_the_samples() -> None:
    a, b = tone(0.1), tone(0.1)
    assert a.sha256 == b.sha256 and a.sha256 != tone(0.1, hz=220).sha256
    assert a.describe()["duration_s"] == 0.1


def test_wav_round_trip_and_refusals(tmp_path: Path) -> None:
    sound = tone(0.25)
    back = read_wav(save_wav(sound, tmp_path / "a.wav"))
    assert back.sample_rate == RATE and np.abs(back.waveform - sound.waveform).max() <= 1 / 32767 + 1e-6
    with pytest.raises(videogen.OutputExistsError):
        save_wav(sound, tmp_path / "a.wav")
    save_wav(tone(0.1), tmp_path / "a.wav", overwrite=True)
    assert read_wav(tmp_path / "a.wav").samples == RATE // 10
    with pytest.raises(videogen.SpecError, match=r"\.wav"):
        save_wav(sound, tmp_path / "a.mp3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]  # no temp left behind


def test_mp4_carries_the_sound_as_aac(tmp_path: Path) -> None:
    sound = tone(0.5)
    path = write_video(frames(), tmp_path / "clip.mp4", 24, {"note": 1}, audio=sound)
    back = decode_audio(path)
    assert back.shape == sound.waveform.shape  # the player gets exactly the video's length
    # AAC is lossy: the tone comes back (correlation), not the bits
    assert np.corrcoef(back[0, 2400:-2400], sound.waveform[0, 2400:-2400])[0, 1] > 0.99
    saved = json.loads((tmp_path / "clip.mp4.json").read_text())["saved"]
    assert saved["audio"]["codec"] == "aac" and saved["audio"]["sha256"] == sound.sha256


def test_formats_without_sound_warn_and_save_the_frames(tmp_path: Path) -> None:
    with pytest.warns(videogen.SaveWarning, match="no sound"):
        write_video(frames(), tmp_path / "clip.webp", 24, audio=tone(0.5))
    assert json.loads((tmp_path / "clip.webp.json").read_text())["saved"]["audio"] is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # silent frames: no warning
        write_video(frames(), tmp_path / "plain.webp", 24)


def test_bad_waveforms_are_refused() -> None:
    with pytest.raises(videogen.SpecError, match="channels"):
        as_audio(np.zeros((2, 3, 4)), RATE)
    with pytest.raises(videogen.SpecError, match="sample rate"):
        as_audio(np.zeros(10), 0)
    assert as_audio(np.zeros(10), RATE).channels == 1  # mono from a 1-D array
