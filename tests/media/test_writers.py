"""Writing outputs safely: crash-safe replaces, matching sidecars, leftovers cleaned, clear write errors, exact
sizes and rates, mp4 quality and faststart. Tiny frames; crashes simulated in-process or by killing a child."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from videogen.errors import OutputExistsError, SpecError, VideoGenError
from videogen.media import save as saving
from videogen.media import write as writers
from videogen.media.read import read_video
from videogen.media.write import SaveError, SaveWarning, content_sha256, write_video


def frames_of(value: int, n: int = 4, h: int = 16, w: int = 16) -> np.ndarray:
    return np.full((n, h, w, 3), value, dtype=np.uint8)


def noise(n: int = 4, h: int = 16, w: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def sidecar_matches(video: Path) -> bool:
    """The invariant: no sidecar, or one whose sha256 is the video's."""
    sidecar = video.with_name(video.name + ".json")
    if not sidecar.exists():
        return True
    return json.loads(sidecar.read_text())["saved"]["sha256"] == content_sha256(video)


def exchange_supported(folder: Path) -> bool:
    a, b = folder / "probe_a", folder / "probe_b"
    a.mkdir()
    b.mkdir()
    try:
        return saving._renameat2(a, b, saving._RENAME_EXCHANGE)
    finally:
        a.rmdir()
        b.rmdir()


def crash_replace(monkeypatch, when) -> None:
    """os.replace raises (a simulated crash) when `when(src, dst)` is true; other renames happen."""
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if when(Path(src), Path(dst)):
            raise KeyboardInterrupt("simulated crash")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


KILLED_SAVE = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import numpy as np
    from videogen import saving, writers

    target, kind, fallback = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
    real_replace, real_rename2 = os.replace, getattr(saving, "_renameat2", None)

    def touches(kind_, src, dst):
        return Path(dst) == target if kind_ == "video" else Path(dst) == Path(str(target) + ".json")

    def replace(src, dst, *a, **k):  # the process dies right after the rename `kind` names
        real_replace(src, dst, *a, **k)
        if touches(kind, src, dst) or (kind == "video" and Path(src) == target):
            os._exit(9)

    def rename2(src, dst, flags):
        done = real_rename2(src, dst, flags)
        if done and touches(kind, src, dst):
            os._exit(9)
        return done

    os.replace = replace
    saving._renameat2 = (lambda *a: False) if fallback else rename2
    frames = np.full((4, 16, 16, 3), 200, dtype=np.uint8)
    writers.write_video(frames, target, 8, {"gen": "new"}, overwrite=True)
    sys.exit(0)
""")


def killed_save(target: Path, kill_after: str, fallback: bool = False) -> None:
    """Overwrite `target` in a child process killed (os._exit) right after the rename of the video or sidecar."""
    out = subprocess.run(
        [sys.executable, "-c", KILLED_SAVE, str(target), kill_after, "1" if fallback else "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 9, out.stderr


# ---- (a) replacing a png folder


def test_png_overwrite_failing_between_renames_keeps_the_old_folder(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "frames"
    write_video(frames_of(10), target, 8)
    monkeypatch.setattr(saving, "_renameat2", lambda *a: False, raising=False)  # the two-rename fallback
    crash_replace(monkeypatch, lambda src, dst: dst == target and src.name.endswith(".tmp"))  # new in
    with pytest.raises(KeyboardInterrupt):
        write_video(frames_of(200), target, 8, overwrite=True)
    back, _ = read_video(target)
    assert back.shape == (4, 16, 16, 3) and (back == 10).all()  # complete old frames, in place
    assert hidden(tmp_path) == [] and sidecar_matches(target)


def test_png_overwrite_killed_mid_swap_leaves_a_complete_folder(tmp_path: Path) -> None:
    if not exchange_supported(tmp_path):
        pytest.skip("no renameat2(RENAME_EXCHANGE) here: the fallback is tested below")
    target = tmp_path / "frames"
    write_video(frames_of(10), target, 8, {"gen": "old"})
    killed_save(target, "video")
    back, _ = read_video(target)
    assert back.shape == (4, 16, 16, 3) and (back == 200).all()  # the complete new folder
    assert sidecar_matches(target)
    write_video(frames_of(1), tmp_path / "next.gif", 10)  # the next save cleans the killed one's leftovers
    assert hidden(tmp_path) == []


def test_png_overwrite_killed_between_fallback_renames_is_restored_by_the_next_save(tmp_path: Path) -> None:
    target = tmp_path / "frames"
    write_video(frames_of(10), target, 8, {"gen": "old"})
    killed_save(target, "video", fallback=True)
    assert not target.exists() and any(name.endswith(".old") for name in hidden(tmp_path))
    with pytest.raises(OutputExistsError):  # the next save into the folder puts the old folder back first
        write_video(frames_of(1), target, 8)
    back, _ = read_video(target)
    assert back.shape == (4, 16, 16, 3) and (back == 10).all()
    assert hidden(tmp_path) == [] and sidecar_matches(target)


def test_overwrite_refuses_a_folder_holding_other_files(tmp_path: Path) -> None:
    target = tmp_path / "frames"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="notes.txt"):
        write_video(frames_of(1), target, 8, overwrite=True)
    assert (target / "notes.txt").read_text() == "mine"


# ---- (b) the sidecar always matches the video beside it


@pytest.mark.parametrize("name", ["clip.mp4", "frames"])
def test_crash_between_video_and_sidecar_leaves_no_stale_sidecar(tmp_path: Path, monkeypatch, name: str) -> None:
    target = tmp_path / name
    sidecar = tmp_path / (name + ".json")
    write_video(frames_of(10), target, 8, {"gen": "old"})
    crash_replace(monkeypatch, lambda src, dst: dst == sidecar and src.name.startswith("."))
    with pytest.raises(KeyboardInterrupt):
        write_video(noise(), target, 8, {"gen": "new"}, overwrite=True)
    assert (read_video(target)[0] == noise()).all() if name == "frames" else read_video(target)[0].std() > 20
    assert not sidecar.exists()  # not the previous generation's
    assert sidecar_matches(target) and hidden(tmp_path) == []


def test_crash_before_the_video_moves_keeps_the_old_pair(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "clip.gif"
    write_video(frames_of(10), target, 10, {"gen": "old"})
    before = target.read_bytes()
    crash_replace(monkeypatch, lambda src, dst: dst == target)
    with pytest.raises(KeyboardInterrupt):
        write_video(noise(), target, 10, {"gen": "new"}, overwrite=True)
    assert target.read_bytes() == before
    assert json.loads((tmp_path / "clip.gif.json").read_text())["gen"] == "old" and sidecar_matches(target)
    assert hidden(tmp_path) == []


@pytest.mark.parametrize("kill_after", ["video", "sidecar"])
def test_killed_overwrite_never_pairs_a_video_with_another_sidecar(tmp_path: Path, kill_after: str) -> None:
    target = tmp_path / "clip.mp4"
    write_video(frames_of(10), target, 8, {"gen": "old"})
    killed_save(target, kill_after)
    sidecar = tmp_path / "clip.mp4.json"
    assert read_video(target)[0].mean() > 150  # the new video is in place
    assert sidecar.exists() == (kill_after == "sidecar")
    for meta in (p for p in tmp_path.glob("*.json") if not p.name.startswith(".")):  # any sidecar describes it
        assert json.loads(meta.read_text())["saved"]["sha256"] == content_sha256(target)
        assert json.loads(meta.read_text())["gen"] == "new"


def test_sidecar_records_the_save_and_a_checkable_hash(tmp_path: Path) -> None:
    import hashlib

    folder = write_video(noise(), tmp_path / "frames", 8, {"gen": 1})
    saved = json.loads((tmp_path / "frames.json").read_text())["saved"]
    lines = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in sorted(folder.iterdir()))
    assert saved["sha256"] == hashlib.sha256(lines.encode()).hexdigest()  # `sha256sum frame_*.png | sha256sum`
    assert saved["format"] == "png" and saved["frames"] == 4 and saved["fps"] == 8
    clip = write_video(noise(), tmp_path / "a.webp", 8)
    saved = json.loads((tmp_path / "a.webp.json").read_text())["saved"]
    assert saved["sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest() and saved["bytes"] == clip.stat().st_size


# ---- (c) leftovers of killed saves


def test_leftovers_of_dead_saves_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    host = saving.host_tag()
    dead_proc = subprocess.Popen(["true"])
    dead_proc.wait()
    dead = dead_proc.pid
    live = subprocess.Popen(["sleep", "60"])
    try:
        day_ago = time.time() - 2 * 86400
        stale = [
            f".clip.mp4.{host}-{dead}-0123456789ab.tmp.mp4",  # a killed save's video
            f".clip.mp4.json.{host}-{dead}-0123456789ac.tmp.json",  # its sidecar
            f".frames.{host}-{dead}-0123456789ad.tmp",  # a killed png folder (a directory)
            f".clip.mp4.ffffffff-{live.pid}-0123456789ae.tmp.mp4",  # another host's, untouched for days
            ".clip.0123456789af.tmp.mp4",
        ]  # older videogen's name, untouched for days
        kept = [
            f".clip.mp4.{host}-{live.pid}-0123456789b0.tmp.mp4",  # a live process is writing it
            f".clip.mp4.ffffffff-{dead}-0123456789b1.tmp.mp4",  # another host's pid means nothing here
            ".clip.0123456789b2.tmp.mp4",  # older videogen's, fresh
            ".hidden",
            "notes.tmp",
            ".clip.mp4.tmp",
            ".x.0123456789b3.tmp.txt",
            "keep.mp4",
        ]
        for name in stale + kept:
            if name.startswith(".frames."):
                (tmp_path / name).mkdir()
                (tmp_path / name / "frame_00000.png").write_bytes(b"x" * 100)
            else:
                (tmp_path / name).write_bytes(b"x" * 1000)
        for name in (stale[3], stale[4]):
            os.utime(tmp_path / name, (day_ago, day_ago))
        write_video(frames_of(5), tmp_path / "out.gif", 10)
        left = {p.name for p in tmp_path.iterdir()}
        assert not left & set(stale)
        assert set(kept) <= left and {"out.gif", "out.gif.json"} <= left
    finally:
        live.kill()
        live.wait()


# ---- (d) sidecar naming


def test_mp4_and_gif_of_one_name_coexist(tmp_path: Path) -> None:
    write_video(frames_of(10), tmp_path / "clip.mp4", 8, {"gen": "mp4"})
    write_video(frames_of(10), tmp_path / "clip.gif", 10, {"gen": "gif"})
    write_video(frames_of(10), tmp_path / "clip", 8, {"gen": "png"})
    for name, gen in (("clip.mp4.json", "mp4"), ("clip.gif.json", "gif"), ("clip.json", "png")):
        meta = json.loads((tmp_path / name).read_text())
        assert meta["gen"] == gen and meta["saved"]["format"] == ("png" if gen == "png" else gen)
    assert writers.metadata_path(tmp_path / "clip.mp4") == tmp_path / "clip.mp4.json"


# ---- (e) write errors name the real cause


def test_a_folder_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(VideoGenError, match=r"'.*afile' is a file, not a folder") as caught:
        write_video(frames_of(1), tmp_path / "afile" / "sub" / "clip.mp4", 8)
    assert isinstance(caught.value, OSError)


def test_an_unwritable_folder_is_named(tmp_path: Path, monkeypatch) -> None:
    """As root chmod does not stop writes, so the refusal is simulated where the temp file is created."""
    real_open = os.open

    def refusing_open(path, *args, **kwargs):
        if Path(path).parent == tmp_path / "ro":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(os, "open", refusing_open)
    with pytest.raises(SaveError, match=r"cannot write into the folder '.*ro' \(Permission denied\)"):
        write_video(frames_of(1), tmp_path / "ro" / "clip.mp4", 8)
    assert list((tmp_path / "ro").iterdir()) == []


def test_a_read_only_folder_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        try:
            (folder / "probe").touch()
        except PermissionError:
            pass
        else:
            pytest.skip("chmod does not stop writes here (root); the refusal is simulated above")
        with pytest.raises(SaveError, match=r"cannot write into the folder '.*ro' \(Permission denied\)"):
            write_video(frames_of(1), folder / "clip.mp4", 8)
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize(
    "script, message",
    [
        (
            "cat >/dev/null; echo 'out.mp4: Permission denied' >&2; exit 1",
            r"exit status 1\): out.mp4: Permission denied",
        ),
        ("cat >/dev/null; exit 0", r"exit status 0\): it wrote nothing"),
    ],
)
def test_an_ffmpeg_failure_surfaces(tmp_path: Path, monkeypatch, script: str, message: str) -> None:
    import imageio_ffmpeg

    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: str(fake))
    with pytest.raises(SaveError, match=f"could not save '.*clip.mp4': ffmpeg failed \\({message}"):
        write_video(frames_of(1), tmp_path / "out" / "clip.mp4", 8)
    assert list((tmp_path / "out").iterdir()) == []


# ---- (f) odd mp4 sizes


def test_an_odd_mp4_size_is_padded_not_scaled(tmp_path: Path) -> None:
    stripes = np.where((np.arange(33) // 3) % 2 == 0, 230, 20).astype(np.uint8)  # sharp gray columns, 33 wide
    rows = np.linspace(40, 200, 35).astype(np.uint8)[:, None]  # a vertical ramp, 35 high
    image = np.minimum(np.broadcast_to(stripes, (35, 33)), np.broadcast_to(rows, (35, 33)) + 30)
    frames = np.repeat(np.stack([image] * 3, axis=-1)[None], 4, axis=0)
    with pytest.warns(SaveWarning, match="33x35 was padded to 34x36"):
        path = write_video(frames, tmp_path / "odd.mp4", 8)
    back, _ = read_video(path)
    assert back.shape == (4, 36, 34, 3)
    assert np.abs(back[:, :35, :33].astype(int) - frames).mean() < 4  # the content at its own size
    assert np.abs(back[:, :35, 33].astype(int) - frames[:, :, 32]).mean() < 8  # the edge column repeated
    saved = json.loads((tmp_path / "odd.mp4.json").read_text())["saved"]
    assert saved["padded"]["from"] == {"width": 33, "height": 35}
    assert saved["padded"]["to"] == {"width": 34, "height": 36} and (saved["width"], saved["height"]) == (34, 36)


# ---- (g) GIF frame rates


def test_gif_rates_round_to_hundredths_with_a_warning(tmp_path: Path) -> None:
    with pytest.warns(SaveWarning, match=r"60 fps cannot be kept; wrote 20 ms per frame \(50 fps\)"):
        fast = write_video(noise(), tmp_path / "fast.gif", 60)
    with Image.open(fast) as img:
        assert img.info["duration"] == 20
    assert read_video(fast)[1] == pytest.approx(50)
    assert json.loads((tmp_path / "fast.gif.json").read_text())["saved"]["fps"] == pytest.approx(50)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SaveWarning)
        exact = write_video(noise(), tmp_path / "exact.gif", 10)
    assert read_video(exact)[1] == pytest.approx(10)
    with Image.open(exact) as img:
        assert img.info["duration"] == 100


# ---- (h) mp4 quality and faststart


def test_mp4_puts_the_index_first(tmp_path: Path) -> None:
    data = write_video(noise(), tmp_path / "a.mp4", 8).read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")
    saved = json.loads((tmp_path / "a.mp4.json").read_text())["saved"]
    assert saved["crf"] == writers.DEFAULT_CRF == 18 and saved["faststart"] and saved["codec"] == "libx264"


def test_a_lower_crf_makes_a_bigger_file(tmp_path: Path) -> None:
    frames = noise(h=32, w=32)
    fine = write_video(frames, tmp_path / "fine.mp4", 8, crf=5).stat().st_size
    coarse = write_video(frames, tmp_path / "coarse.mp4", 8, crf=45).stat().st_size
    assert fine > 2 * coarse
    assert json.loads((tmp_path / "coarse.mp4.json").read_text())["saved"]["crf"] == 45


@pytest.mark.parametrize("crf", [-1, 52, 18.5, True, "18"])
def test_an_invalid_crf_is_a_spec_error(tmp_path: Path, crf: object) -> None:
    with pytest.raises(SpecError, match=r"crf: must be a whole number from 0 \(lossless\) to 51") as caught:
        write_video(frames_of(1), tmp_path / "a.mp4", 8, crf=crf)
    assert caught.value.field == "crf" and list(tmp_path.iterdir()) == []


def test_crf_is_for_mp4_only(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"crf: only \.mp4") as caught:
        write_video(frames_of(1), tmp_path / "a.gif", 8, crf=20)
    assert caught.value.field == "crf"
