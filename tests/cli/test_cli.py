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
        [sys.executable, "-m", "videogen.cli.command", *args],
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
    from videogen.cli.command import main

    assert main(["demo", "--model", model, "-q", "-o", str(tmp_path / "demo.mp4")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "demo.mp4")
    assert (tmp_path / "demo.mp4").stat().st_size > 0


def test_scheduler_and_lora_flags_reach_the_spec(tmp_path: Path, capsys) -> None:
    import videogen
    from videogen.cli.command import main

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
    from videogen.media.read import read_video

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


#: what third-party libraries print about themselves when imported (torchao's extensions and tensor classes,
#: torch's pytree registrations, transformers' torchvision fallback): never about the user's video
NOISE = ("torchao", "_pytree", "torchvision", "register_constant")


def test_commands_print_no_third_party_noise(tmp_path: Path) -> None:
    """-q: nothing on stderr at all (a tiny model's first build included); without it, no import noise."""
    fresh = {"VIDEOGEN_CACHE": str(tmp_path / "cache")}  # the tiny model built in the run (progress bars)
    env = {**os.environ, **fresh}
    for name in ("TORCH_LOGS", "DIFFUSERS_VERBOSITY", "TRANSFORMERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS"):
        env.pop(name, None)
    args = ["demo", "-m", "tiny-wan-i2v", "--num-frames", "5", "--steps", "1", "--seed", "1"]
    quiet = subprocess.run(
        [sys.executable, "-m", "videogen.cli.command", *args, "-q", "-o", "q.mp4"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "" and quiet.stdout.strip() == "q.mp4"
    plain = subprocess.run(
        [sys.executable, "-m", "videogen.cli.command", *args, "-o", "p.mp4"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert plain.returncode == 0, plain.stderr
    noisy = [line for line in plain.stderr.splitlines() if any(word in line for word in NOISE)]
    assert noisy == [] and "seed 1" in plain.stderr


def test_cli_warnings_and_long_library_lines(tmp_path: Path) -> None:
    """A snap is one `videogen:` line (not generation.py:NNN); diffusers' notice of a truncated prompt,
    which quotes everything it cut, is shortened."""
    prompt = " ".join(["a ferret leaps into a mountain stream"] * 500)  # 19,000 characters, over 128 tokens
    out = run(
        "generate", "-m", "tiny-ltx", "-p", prompt, "--num-frames", "10", "--snap", "--steps", "2",
        "--height", "32", "--width", "32", "--seed", "3", "-o", "v.mp4", cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stderr.splitlines()
    assert "videogen: snap: num_frames=10 → 9 (num_frames must be 8k+1)" in lines
    assert ".py:" not in out.stderr and "SnapWarning" not in out.stderr
    (notice,) = [line for line in lines if "was truncated" in line]
    assert len(notice) < 400 and notice.endswith("more characters]")
    assert max(len(line) for line in lines) < 600


def test_models_unknown_family_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    out = run("models", "--family", "Wan2", cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    from videogen.families import FAMILY_MODULES

    assert out.stderr.strip() == (
        "videogen: error: --family 'Wan2' is not a model family (did you mean 'wan'?); families: "
        + ", ".join(sorted(FAMILY_MODULES))
    )
    assert "cogvideox, " in out.stderr and ", wan" in out.stderr  # the registry's names, sorted
    out = run("models", "--family", "ltx", "--no-tiny", cwd=tmp_path)
    assert out.returncode == 0 and {line.split()[1] for line in out.stdout.splitlines()[1:]} == {"ltx"}


def test_cli_hints_name_flags_not_python_arguments(tmp_path: Path) -> None:
    out = run("generate", "-m", "tiny-wan", "-p", "x", "--num-frames", "8", "-o", "a.mp4", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().endswith("nearest valid value: num_frames=9 (or pass --snap to round automatically)")
    assert "snap=True" not in out.stderr
    (tmp_path / "taken.mp4").write_bytes(b"")
    out = run("generate", "-m", "tiny-wan", "-p", "x", "-o", "taken.mp4", cwd=tmp_path)
    assert out.returncode == 2 and "exists; pass --overwrite or another path" in out.stderr
    assert "overwrite=True" not in out.stderr


def test_cli_message_rewrites_only_settings_that_are_flags() -> None:
    from videogen.cli.command import _command_parser, build_parser, cli_message

    generate = _command_parser(build_parser(), "generate")
    assert cli_message("x (or pass snap=True to round)", generate) == "x (or pass --snap to round)"
    assert cli_message("set snap=False", generate) == "set --no-snap"
    assert cli_message("use memory='none' or cache='fbc'.", generate) == "use --memory none or --cache fbc."
    assert cli_message("use prompt='a cat'", generate) == "use --prompt 'a cat'"
    assert cli_message("nearest valid value: num_frames=9", generate) == "nearest valid value: num_frames=9"
    assert cli_message("set use_stream=False; or compile=None", generate) == "set use_stream=False; or compile=None"
    assert cli_message("pass ray=True (CLI: --ray) to use them", generate) == "pass --ray to use them"
    batch = _command_parser(build_parser(), "batch")
    assert cli_message("workers: pass ray=True to use them", batch) == "workers: pass --ray to use them"
