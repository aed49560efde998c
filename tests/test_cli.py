"""The `videogen` command, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "videogen.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ},
        timeout=300,
    )


def test_generate_writes_the_video_and_prints_its_path(tmp_path: Path) -> None:
    out = run(
        "generate",
        "--model",
        "tiny-wan",
        "--prompt",
        "a ferret",
        "--num-frames",
        "5",
        "--guidance-scale",
        "4.5",
        "--seed",
        "7",
        "--extra",
        "max_sequence_length=64",
        "-o",
        "ferret.mp4",
        "-q",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ferret.mp4"
    meta = json.loads((tmp_path / "ferret.mp4.json").read_text())
    assert meta["spec"]["num_frames"] == 5 and meta["spec"]["guidance_scale"] == 4.5
    assert meta["spec"]["extra"] == {"max_sequence_length": 64} and meta["spec"]["seed"] == 7


def test_models_lists_the_catalog(tmp_path: Path) -> None:
    out = run("models", cwd=tmp_path)
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["name", "family", "tasks"]
    import videogen

    for card in videogen.list_models():
        assert any(line.split()[0] == card.name for line in lines[1:]), card.name


def test_demo_runs_offline_and_prints_the_path(tmp_path: Path) -> None:
    out = run("demo", "-q", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    path = tmp_path / out.stdout.strip()
    assert path.suffix == ".mp4" and path.stat().st_size > 0


def test_user_errors_print_one_line_and_exit_2(tmp_path: Path) -> None:
    out = run("generate", "--model", "tiny-wan", "--prompt", "x", "--num-frames", "8", cwd=tmp_path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("videogen: error: num_frames=8")
    assert "num_frames=9" in out.stderr
    out = run("generate", "--model", "no-such-model", "--prompt", "x", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "videogen models" in out.stderr
    (tmp_path / "taken.mp4").write_bytes(b"")
    out = run("generate", "--model", "tiny-wan", "--prompt", "x", "-o", "taken.mp4", cwd=tmp_path)
    assert out.returncode == 2 and "--overwrite" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "model",
    [
        "tiny-svd",
        "tiny-ltx",
        "tiny-framepack",
        "tiny-i2vgen-xl",
        "tiny-cogvideox",
        "tiny-hunyuanvideo-i2v",
        "tiny-modelscope",
    ],
)
def test_demo_works_for_other_tiny_models(model: str, tmp_path: Path, capsys) -> None:
    from videogen.cli import main

    assert main(["demo", "--model", model, "-q", "-o", str(tmp_path / "demo.mp4")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "demo.mp4")
    assert (tmp_path / "demo.mp4").stat().st_size > 0


def test_scheduler_and_lora_flags_reach_the_spec(tmp_path: Path, capsys) -> None:
    import videogen
    from videogen.cli import main

    lora = videogen.testing.tiny_lora("wan")
    out = tmp_path / "a.mp4"
    assert (
        main(
            [
                "generate",
                "-m",
                "tiny-wan",
                "-p",
                "x",
                "--seed",
                "1",
                "-q",
                "-o",
                str(out),
                "--scheduler",
                "UniPCMultistepScheduler",
                "--scheduler-arg",
                "flow_shift=5.0",
                "--lora",
                f"{lora}:0.5",
            ]
        )
        == 0
    )
    meta = json.loads((tmp_path / "a.mp4.json").read_text())
    assert meta["spec"]["scheduler"] == {"name": "UniPCMultistepScheduler", "flow_shift": 5.0}
    assert meta["spec"]["loras"][0]["source"] == str(lora) and meta["spec"]["loras"][0]["weight"] == 0.5
    plain = videogen.generate(
        model="tiny-wan",
        prompt="x",
        seed=1,
        progress=False,
        scheduler={"name": "UniPCMultistepScheduler", "flow_shift": 5.0},
    )
    from videogen.media import read_video

    assert read_video(out)[0].shape == plain.frames.shape
    assert (
        main(
            [
                "generate",
                "-m",
                "tiny-wan",
                "-p",
                "x",
                "--scheduler",
                "DDIMScheduler",
                "-q",
                "-o",
                str(tmp_path / "b.mp4"),
            ]
        )
        == 2
    )
    assert "can't drive tiny-wan" in capsys.readouterr().err
