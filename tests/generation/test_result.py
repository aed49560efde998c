"""Saving results: every format read back, metadata beside and inside, atomic, no overwrite."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import videogen
from videogen.media.read import read_video
from videogen.media.write import write_video


@pytest.fixture(scope="module")
def result() -> videogen.VideoResult:
    return videogen.generate(model="tiny-wan", prompt="a ferret", seed=3, fps=8, progress=False)


@pytest.mark.parametrize("name", ["clip.mp4", "clip.gif", "clip.webp", "frames"])
def test_save_and_read_back(result: videogen.VideoResult, tmp_path: Path, name: str) -> None:
    path = result.save(tmp_path / name)
    assert path == tmp_path / name and path.exists()
    frames, fps = read_video(path)
    assert frames.shape == result.frames.shape  # frame count and size
    if name != "frames":  # GIF stores delays in 1/100 s: 125 ms becomes 120 or 130
        assert fps == pytest.approx(8, rel=0.05 if name == "clip.gif" else 0.01)
    if name in ("frames", "clip.webp"):  # lossless formats give the exact frames back
        assert (frames == result.frames).all()
    elif name == "clip.gif":  # palette quantisation
        assert np.abs(frames.astype(int) - result.frames).mean() < 12
    else:  # H.264 at high quality
        assert np.abs(frames.astype(int) - result.frames).mean() < 12
    sidecar = json.loads((tmp_path / (name + ".json")).read_text())  # clip.mp4 → clip.mp4.json, frames → frames.json
    assert sidecar["spec"]["seed"] == 3 and sidecar["model"]["name"] == "tiny-wan"
    assert sidecar["saved"]["format"] == (Path(name).suffix[1:] or "png")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_mp4_is_h264_with_metadata_in_its_comment(result: videogen.VideoResult, tmp_path: Path) -> None:
    import imageio_ffmpeg

    path = result.save(tmp_path / "clip.mp4")
    probe = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-i", str(path), "-f", "ffmetadata", "-"], capture_output=True, text=True
    )
    assert "h264" in probe.stderr
    assert "comment=" in probe.stdout and '"seed": 3' in probe.stdout.replace("\\", "")


def test_no_overwrite_unless_asked(result: videogen.VideoResult, tmp_path: Path) -> None:
    path = tmp_path / "clip.gif"
    result.save(path)
    before = path.read_bytes()
    with pytest.raises(videogen.OutputExistsError, match="overwrite=True"):
        result.save(path)
    assert path.read_bytes() == before
    other = videogen.generate(model="tiny-wan", prompt="other", seed=4, progress=False)
    other.save(path, overwrite=True)
    assert path.read_bytes() != before
    frames_dir = tmp_path / "frames"
    result.save(frames_dir)
    with pytest.raises(videogen.OutputExistsError):
        result.save(frames_dir)
    other.save(frames_dir, overwrite=True)
    assert (read_video(frames_dir)[0] == other.frames).all()


def test_a_failed_write_leaves_nothing(result: videogen.VideoResult, tmp_path: Path, monkeypatch) -> None:
    from videogen.media import write as writers

    def broken(frames, path, saved, embedded):
        Path(path).write_bytes(b"half a video")
        raise OSError("disk full")

    monkeypatch.setitem(writers._WRITERS, "mp4", broken)
    with pytest.raises(videogen.VideoGenError, match="could not save '.*clip.mp4': disk full") as caught:
        result.save(tmp_path / "clip.mp4")
    assert isinstance(caught.value, OSError)
    assert list(tmp_path.iterdir()) == []


def test_unknown_suffix_is_a_spec_error(result: videogen.VideoResult, tmp_path: Path) -> None:
    with pytest.raises(videogen.SpecError, match=r"\.mp4, \.gif, \.webp"):
        result.save(tmp_path / "clip.avi")


def test_notebook_display_is_an_inline_video_with_settings(result: videogen.VideoResult) -> None:
    html = result._repr_html_()
    assert "<video" in html and "data:video/mp4;base64," in html
    assert "a ferret" in html and "tiny-wan" in html and "32x32" in html


def test_save_passes_crf_through(result: videogen.VideoResult, tmp_path: Path) -> None:
    small = result.save(tmp_path / "small.mp4", crf=45)
    big = result.save(tmp_path / "big.mp4", crf=5)
    assert json.loads((tmp_path / "small.mp4.json").read_text())["saved"]["crf"] == 45
    assert big.stat().st_size > small.stat().st_size
    with pytest.raises(videogen.SpecError, match="crf"):
        result.save(tmp_path / "bad.mp4", crf=60)


def test_notebook_display_of_an_odd_size_does_not_warn(result: videogen.VideoResult) -> None:
    import dataclasses
    import warnings

    from videogen.media.write import SaveWarning

    odd = dataclasses.replace(result, frames=result.frames[:, :31, :31])
    with warnings.catch_warnings():
        warnings.simplefilter("error", SaveWarning)
        assert "data:video/mp4;base64," in odd._repr_html_()


def test_write_video_accepts_plain_arrays(tmp_path: Path) -> None:
    frames = np.random.default_rng(0).integers(0, 255, (4, 16, 24, 3), dtype=np.uint8)
    write_video(frames, tmp_path / "a.webp", fps=4)
    back, fps = read_video(tmp_path / "a.webp")
    assert back.shape == (4, 16, 24, 3) and fps == pytest.approx(4, rel=0.01)


def test_saved_files_get_the_usual_permissions(result: videogen.VideoResult, tmp_path: Path) -> None:
    import os

    umask = os.umask(0)
    os.umask(umask)
    for name in ("a.mp4", "b.gif"):
        path = result.save(tmp_path / name)
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask
        assert (tmp_path / (path.name + ".json")).stat().st_mode & 0o777 == 0o666 & ~umask
    folder = result.save(tmp_path / "frames")
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask


def _display_clip(html: str, tmp_path: Path) -> tuple[np.ndarray, int]:
    """The clip inside a display's data URL, decoded: its frames and its size in bytes."""
    import base64
    import re

    data = base64.b64decode(re.search(r"data:video/mp4;base64,([A-Za-z0-9+/=]+)", html).group(1))
    path = tmp_path / "display.mp4"
    path.write_bytes(data)
    return read_video(path)[0], len(data)


def _moving_gradient(frames: int, height: int, width: int) -> np.ndarray:
    x = np.linspace(0, 255, width)[None, None, :, None]
    y = np.linspace(0, 255, height)[None, :, None, None]
    t = np.arange(frames)[:, None, None, None]
    return np.broadcast_to(((x + y + 3 * t) % 256).astype(np.uint8), (frames, height, width, 3)).copy()


def test_notebook_display_is_encoded_once_at_display_quality(
    result: videogen.VideoResult, tmp_path: Path, monkeypatch
) -> None:
    """Every render used to re-encode at the saved quality (CRF 18, full size): now once per result, CRF 28,
    at most 640 px wide."""
    import dataclasses

    import imageio_ffmpeg

    encodes = []
    real = imageio_ffmpeg.get_ffmpeg_exe
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: encodes.append(1) or real())
    big = dataclasses.replace(result, frames=_moving_gradient(81, 480, 832), fps=16)
    first = big._repr_html_()
    assert big._repr_html_() == first and len(encodes) == 1
    frames, size = _display_clip(first, tmp_path)
    assert frames.shape == (81, 370, 640, 3)  # 832x480 scaled to 640 wide, even height
    write_video(big.frames, tmp_path / "saved.mp4", 16)  # what save() writes: CRF 18, full size
    assert size < (tmp_path / "saved.mp4").stat().st_size / 3
    assert "width='640'" in first and "save()" not in first  # the whole clip: no note


def test_notebook_display_over_the_size_cap_shows_fewer_frames_then_a_still(
    result: videogen.VideoResult, tmp_path: Path, monkeypatch
) -> None:
    import dataclasses

    from videogen import result as result_module

    noise = np.random.default_rng(0).integers(0, 255, (40, 64, 96, 3), dtype=np.uint8)  # incompressible
    whole = len(result_module.display_mp4(noise, 8))
    monkeypatch.setattr(result_module, "DISPLAY_MAX_BYTES", whole // 2)
    html = dataclasses.replace(result, frames=noise)._repr_html_()
    frames, size = _display_clip(html, tmp_path)
    assert 2 <= len(frames) < 40 and size <= whole // 2
    assert f"Shown: the first {len(frames)} of 40 frames" in html and "save() writes the whole video" in html
    monkeypatch.setattr(result_module, "DISPLAY_MAX_BYTES", 100)
    html = dataclasses.replace(result, frames=noise)._repr_html_()
    assert "<video" not in html and "data:image/jpeg;base64," in html
    assert "Shown: a still of the first frame" in html


def test_notebook_display_keeps_a_long_prompt_short(result: videogen.VideoResult) -> None:
    import dataclasses

    long = dataclasses.replace(result, spec=result.spec.replace(prompt="a ferret " * 2000))
    html = long._repr_html_()
    assert len(html) < len(result._repr_html_()) + 1000 and "(18000 characters)" in html


def test_saving_again_says_how_to_overwrite(result: videogen.VideoResult, tmp_path: Path) -> None:
    """Rerunning a notebook cell that saves: the error names overwrite=True (and --overwrite for the CLI)."""
    result.save(tmp_path / "clip.mp4")
    with pytest.raises(videogen.OutputExistsError) as caught:
        result.save(tmp_path / "clip.mp4")
    assert "overwrite=True" in str(caught.value) and "--overwrite" in str(caught.value)


@pytest.mark.parametrize("name", ["clip.mp4", "clip.gif", "frames"])
def test_sidecar_records_the_frames_hash_and_the_files_hash(
    result: videogen.VideoResult, tmp_path: Path, name: str
) -> None:
    """`saved.frames_sha256`: the generated frames (what a replay reproduces, whatever the format);
    `saved.sha256`: the file's bytes (what an integrity check reads)."""
    import hashlib

    from videogen.media.save import content_sha256

    path = result.save(tmp_path / name)
    saved = json.loads((tmp_path / f"{name}.json").read_text())["saved"]
    assert saved["frames_sha256"] == hashlib.sha256(result.frames.tobytes()).hexdigest() == result.frames_sha256
    assert saved["sha256"] == content_sha256(path) != saved["frames_sha256"]
    again = videogen.generate(model="tiny-wan", prompt="a ferret", seed=3, fps=8, progress=False)
    assert again.frames_sha256 == saved["frames_sha256"]  # the same spec and seed: the same frames
    if name == "clip.mp4":  # inside the file too (the comment tag), where the file's own hash can't be
        comment = subprocess.run(
            [__import__("imageio_ffmpeg").get_ffmpeg_exe(), "-i", str(path), "-f", "ffmetadata", "-"],
            capture_output=True,
            text=True,
        ).stdout
        assert saved["frames_sha256"] in comment


def test_odd_size_mp4_hashes_the_frames_given_not_the_padded_ones(tmp_path: Path) -> None:
    import hashlib
    import warnings

    frames = np.random.default_rng(1).integers(0, 255, (3, 15, 17, 3), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", videogen.SaveWarning)
        write_video(frames, tmp_path / "odd.mp4", fps=8)
    saved = json.loads((tmp_path / "odd.mp4.json").read_text())["saved"]
    assert saved["frames_sha256"] == hashlib.sha256(frames.tobytes()).hexdigest()
