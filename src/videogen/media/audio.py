"""Sound: `Audio` (a waveform and its sample rate), fitted to its video's length, written as .wav, and the
ffmpeg arguments that mux it into an .mp4 (AAC, through the ffmpeg imageio-ffmpeg ships).

A waveform is float32, channels × samples, in [-1, 1] (what diffusers' vocoders return). Its `sha256` is of
those float32 bytes in C order, as `frames_sha256` is of the frames: equal for equal sound whatever the file,
what a replay compares. A .wav holds it as 16-bit PCM (lossless to the ear, not to the bit).
"""

from __future__ import annotations

import hashlib
import os
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from .atomic import move_into_place, remove, temp_name

if TYPE_CHECKING:
    import numpy as np

#: AAC's bit rate in a saved .mp4 (per stream; ffmpeg's native encoder)
AAC_BITRATE = "192k"


@dataclass(frozen=True, eq=False)
class Audio:
    """A waveform (float32, channels × samples, in [-1, 1]) and its sample rate in Hz."""

    waveform: np.ndarray
    sample_rate: int

    @property
    def channels(self) -> int:
        return int(self.waveform.shape[0])

    @property
    def samples(self) -> int:
        return int(self.waveform.shape[1])

    @property
    def duration(self) -> float:
        """Seconds of sound."""
        return self.samples / self.sample_rate

    @property
    def sha256(self) -> str:
        """The SHA-256 of the float32 waveform's bytes (C order)."""
        import numpy as np

        return hashlib.sha256(np.ascontiguousarray(self.waveform, dtype=np.float32).tobytes()).hexdigest()

    def describe(self) -> dict[str, Any]:
        """What a sidecar and the metadata record of it."""
        return {
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "samples": self.samples,
            "duration_s": round(self.duration, 6),
            "sha256": self.sha256,
        }

    def __repr__(self) -> str:
        return (
            f"Audio({self.channels} channels, {self.samples} samples at {self.sample_rate} Hz, {self.duration:.3f} s)"
        )


def as_audio(waveform: Any, sample_rate: int) -> Audio:
    """An `Audio` from a float array (channels × samples, or samples for mono) and a positive sample rate."""
    import numpy as np

    array = np.asarray(waveform, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or 0 in array.shape or array.shape[0] > 8:
        raise SpecError(
            f"audio: need a float waveform shaped channels × samples (at most 8 channels), got {array.shape}",
            field="audio",
        )
    if isinstance(sample_rate, bool) or int(sample_rate) != sample_rate or sample_rate <= 0:
        raise SpecError(f"audio: the sample rate must be a positive whole number of Hz, got {sample_rate!r}")
    return Audio(np.ascontiguousarray(array), int(sample_rate))


def fit_to_video(audio: Audio, num_frames: int, fps: float) -> tuple[Audio, dict[str, Any]]:
    """`audio` cut or padded with silence to the video's length (num_frames / fps, rounded to a sample), and
    what was done ({} when it already fit). LTX-2's audio VAE decodes 4n−3 mel frames for n latents, so its
    sound ends 10–50 ms before the video; fitted, the two streams of a saved file end together."""
    import numpy as np

    want = round(num_frames / fps * audio.sample_rate)
    have = audio.samples
    if want == have:
        return audio, {}
    if want < have:
        fitted = audio.waveform[:, :want]
        note = {"generated_samples": have, "cut_samples": have - want}
    else:
        fitted = np.pad(audio.waveform, ((0, 0), (0, want - have)))
        note = {"generated_samples": have, "padded_samples": want - have}
    return Audio(np.ascontiguousarray(fitted), audio.sample_rate), note


def pcm16(audio: Audio) -> bytes:
    """The waveform as interleaved little-endian 16-bit PCM (clipped to [-1, 1])."""
    import numpy as np

    ints = np.round(np.clip(audio.waveform, -1.0, 1.0) * 32767.0).astype("<i2")
    return np.ascontiguousarray(ints.T).tobytes()


def write_wav_file(audio: Audio, path: Path) -> None:
    """Write `audio` to `path` (a fresh file) as 16-bit PCM .wav."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(audio.channels)
        out.setsampwidth(2)
        out.setframerate(audio.sample_rate)
        out.writeframes(pcm16(audio))


def save_wav(audio: Audio, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write `audio` as a 16-bit PCM .wav at `path`, atomically; refuses to replace a file unless `overwrite`."""
    from ..errors import OutputExistsError, SaveError

    target = Path(path).expanduser()
    if target.suffix.lower() != ".wav":
        raise SpecError(
            f"path: {str(target)!r}: save_audio writes .wav (16-bit PCM), e.g. 'sound.wav'; an .mp4 carries the "
            "sound with the video (save())",
            field="path",
        )
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise OutputExistsError(f"path: {str(target)!r} exists; pass overwrite=True or another path")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(target)
    try:
        write_wav_file(audio, tmp)
        move_into_place(tmp, target)
    except OSError as exc:
        raise SaveError(f"path: could not save {str(target)!r}: {exc.strerror or exc}") from exc
    finally:
        remove(tmp)
    return target


def read_wav(path: str | os.PathLike) -> Audio:
    """A 16-bit PCM .wav as `Audio` (for checks: what `save_audio` wrote)."""
    import numpy as np

    with wave.open(str(path), "rb") as f:
        channels, rate, width = f.getnchannels(), f.getframerate(), f.getsampwidth()
        data = f.readframes(f.getnframes())
    if width != 2:
        raise ValueError(f"{path}: {8 * width}-bit samples; read_wav reads 16-bit PCM")
    ints = np.frombuffer(data, dtype="<i2").reshape(-1, channels).T
    return Audio(np.ascontiguousarray(ints.astype(np.float32) / 32767.0), rate)


def mux_arguments(wav: Path) -> list[str]:
    """ffmpeg input and output arguments adding the sound in `wav` (input 1) to the video from input 0 as AAC."""
    return ["-i", str(wav), "-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", AAC_BITRATE]
