"""The `videogen` command's arguments, without generating: spec flags ↔ VideoSpec fields, --memory plans,
--attention-backend, --spec files under flags, -v/-q anywhere, --version, env, bench --help."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from videogen.cli import command as cli
from videogen.cli.args import FLAGS, SPEC_GROUP, command_specs, option_for, spec_fields, with_attention_backend
from videogen.memory.plans import MemoryPlan
from videogen.memory.presets import preset
from videogen.spec.videospec import SPEC_FIELDS, LoRA, VideoSpec

SPEC_COMMANDS = ("generate", "demo", "plan", "calibrate")

#: field → (flags on the command line, the value spec_fields gives): one sample per VideoSpec field
SAMPLES: dict[str, tuple[list[str], Any]] = {
    "model": (["-m", "tiny-wan"], "tiny-wan"),
    "prompt": (["-p", "a ferret"], "a ferret"),
    "negative_prompt": (["--negative-prompt", "blurry"], "blurry"),
    "image": (["--image", "in.png"], "in.png"),
    "last_image": (["--last-image", "https://x.org/last.png"], "https://x.org/last.png"),
    "video": (["--video", "frames/"], "frames/"),
    "mask": (["--mask", "mask.png"], "mask.png"),
    "reference_images": (["--reference-image", "a.png", "--reference-image", "b.png"], ["a.png", "b.png"]),
    "pose_video": (["--pose-video", "pose.mp4"], "pose.mp4"),
    "face_video": (["--face-video", "face.mp4"], "face.mp4"),
    "height": (["--height", "48"], 48),
    "width": (["--width", "64"], 64),
    "num_frames": (["--num-frames", "9"], 9),
    "fps": (["--fps", "12"], 12),
    "steps": (["--steps", "3"], 3),
    "guidance_scale": (["--guidance-scale", "4.5"], 4.5),
    "seed": (["--seed", "7"], 7),
    "task": (["--task", "v2v"], "v2v"),
    "memory": (["--memory", '{"vae_tiling": true}'], {"vae_tiling": True}),
    "scheduler": (
        ["--scheduler", "UniPCMultistepScheduler", "--scheduler-arg", "flow_shift=3"],
        {"name": "UniPCMultistepScheduler", "flow_shift": 3},
    ),
    "loras": (["--lora", "a.safetensors:0.5", "--lora", "org/repo"], [("a.safetensors", 0.5), ("org/repo", 1.0)]),
    "extra": (["--extra", "max_sequence_length=64", "--extra", "mode=x"], {"max_sequence_length": 64, "mode": "x"}),
    "snap": (["--snap"], True),
    "revision": (["--revision", "v2"], "v2"),
    "cache": (["--cache", '{"method": "fbc", "threshold": 0.1}'], {"method": "fbc", "threshold": 0.1}),
    "parallel": (["--parallel", "ulysses=2"], "ulysses=2"),
    "fit": (["--fit", "pad"], "pad"),
    "audio": (["--no-audio"], False),
}


def subparser(name: str) -> argparse.ArgumentParser:
    action = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def spec_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    group = next(g for g in parser._action_groups if g.title == SPEC_GROUP)
    return list(group._group_actions)


def parse(*argv: str) -> argparse.Namespace:
    args, rest = cli.build_parser().parse_known_args(list(argv))
    assert not rest, rest
    return args


@pytest.mark.parametrize("command", SPEC_COMMANDS)
def test_every_videospec_field_has_a_flag_and_every_spec_flag_is_a_field(command: str) -> None:
    actions = spec_actions(subparser(command))
    assert sorted(a.dest for a in actions) == sorted(SPEC_FIELDS)
    for action in actions:
        assert option_for(action.dest) in action.option_strings, (action.dest, action.option_strings)
        assert action.help, action.dest


def test_the_flag_table_is_written_for_every_field() -> None:
    """A new VideoSpec field works on the command line at once (`--name`, JSON or text), but its help, type
    and option are written here: the table and the fields are the same set."""
    assert set(FLAGS) == set(SPEC_FIELDS)
    assert set(SAMPLES) == set(SPEC_FIELDS), "add a sample for the new field"


def test_each_flag_reaches_its_field() -> None:
    argv = ["generate"] + [word for flags, _ in SAMPLES.values() for word in flags]
    assert spec_fields(parse(*argv)) == {name: value for name, (_, value) in SAMPLES.items()}
    assert spec_fields(parse("generate")) == {}, "unset flags leave the model's defaults"
    assert spec_fields(parse("generate", "--no-snap")) == {"snap": False}


def test_every_sample_makes_a_videospec() -> None:
    spec = VideoSpec(**{name: value for name, (_, value) in SAMPLES.items()})
    assert spec.loras[0] == LoRA("a.safetensors", 0.5) and spec.extra["max_sequence_length"] == 64


def test_today_flag_names_keep_working() -> None:
    names = {s for a in subparser("generate")._actions for s in a.option_strings}
    for flag in ("--model", "-m", "--prompt", "-p", "--num-frames", "--guidance-scale", "--scheduler-arg", "--lora"):
        assert flag in names


def test_memory_takes_a_json_plan_or_a_plan_file(tmp_path: Path) -> None:
    assert spec_fields(parse("plan", "--memory", "low"))["memory"] == "low"
    plan = {"placement": "group", "vae_tiling": True, "components": {"vae": "resident"}}
    assert spec_fields(parse("plan", "--memory", json.dumps(plan)))["memory"] == plan
    (tmp_path / "plan.yaml").write_text("placement: group\nvae_tiling: true\ncomponents:\n  vae: resident\n")
    (tmp_path / "plan.toml").write_text('placement = "group"\nvae_tiling = true\n[components]\nvae = "resident"\n')
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    for name in ("plan.yaml", "plan.toml", "plan.json"):
        assert spec_fields(parse("plan", "--memory", str(tmp_path / name)))["memory"] == plan, name


def test_every_memoryplan_field_is_reachable_from_the_cli(tmp_path: Path) -> None:
    every = {f.name: getattr(MemoryPlan(), f.name) for f in dataclasses.fields(MemoryPlan) if f.name not in ("notes",)}
    every.update(vae_tiling=True, attention_backend="native", decode_chunk_size=2, dtypes={"vae": "float32"})
    memory = spec_fields(parse("plan", "--memory", json.dumps(every, default=list)))["memory"]
    assert MemoryPlan(**memory).replace(name="custom") == MemoryPlan(**{**every, "name": "custom"})


@pytest.mark.parametrize(
    ("value", "message"),
    [('{"vae_tiling": tru}', "not valid JSON"), ("missing.yaml", "no such plan file"), ("[1, 2]", "MemoryPlan fields")],
)
def test_a_bad_memory_value_is_a_usage_error(value: str, message: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["plan", "-m", "tiny-wan", "--memory", value])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_a_bad_plan_field_names_the_field_and_the_valid_ones(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["plan", "-m", "tiny-wan", "--memory", '{"vae_tilling": true}']) == 2
    err = capsys.readouterr().err
    assert "vae_tilling" in err and "did you mean 'vae_tiling'" in err and "Traceback" not in err


def test_attention_backend_goes_into_the_memory_plan() -> None:
    def memory(*argv: str) -> Any:
        (spec,) = command_specs(parse("plan", "-m", "tiny-wan", *argv))
        return spec.memory

    low = memory("--memory", "low", "--attention-backend", "native")
    assert low == preset("low", attention_backend="native") and low.name == "low"
    assert memory("--memory", '{"vae_tiling": true}', "--attention-backend", "native") == {
        "vae_tiling": True,
        "attention_backend": "native",
    }
    # auto: the preset auto picks for this spec (on a CPU: none), with the backend and auto's retry
    chosen = memory("--attention-backend", "native")
    assert (chosen.name, chosen.attention_backend, chosen.oom_retry) == ("none", "native", True)
    # "auto" as the backend passes through untouched (the memory rules decide what it means)
    assert with_attention_backend(VideoSpec(memory="low"), "auto").memory.attention_backend == "auto"
    plan = MemoryPlan(vae_tiling=True)
    assert with_attention_backend(VideoSpec(memory=plan), "native").memory == plan.replace(attention_backend="native")


def test_spec_file_fields_under_the_flags(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(
        "model: tiny-wan\nprompt: from the file\nsteps: 2\nseed: 5\nextra:\n  max_sequence_length: 64\n"
        "memory:\n  vae_tiling: true\n"
    )
    (spec,) = command_specs(parse("generate", "--spec", str(path), "--steps", "3", "--extra", "mode=x"))
    assert (spec.model, spec.prompt, spec.steps, spec.seed) == ("tiny-wan", "from the file", 3, 5)
    assert spec.extra == {"max_sequence_length": 64, "mode": "x"}, "extra merges key by key"
    memory = spec.memory
    assert (memory["vae_tiling"] if isinstance(memory, dict) else memory.vae_tiling) is True
    (spec,) = command_specs(parse("generate", "--spec", str(path), "--memory", "none"))
    assert spec.memory == "none", "a flag replaces the file's field"


def test_seeds_and_prompts_expand_the_spec(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a cat\n\n# a comment\na dog\n")
    specs = command_specs(parse("generate", "-m", "tiny-wan", "--seeds", "1-3", "--prompts-file", str(prompts)))
    assert sorted((s.prompt, s.seed) for s in specs) == sorted((p, s) for p in ("a cat", "a dog") for s in (1, 2, 3))
    assert [s.seed for s in command_specs(parse("generate", "--seeds", "3,7,42"))] == [3, 7, 42]


def test_verbose_and_quiet_before_and_after_the_command() -> None:
    assert parse("generate").verbose is False and parse("generate").quiet is False
    assert parse("-v", "generate").verbose and parse("generate", "-v").verbose
    assert (
        parse("-q", "models").quiet
        and parse("models", "-q").quiet
        and parse("batch", "s.jsonl", "--out", "d", "-q").quiet
    )


def test_verbose_after_the_command_turns_on_logging(capsys: pytest.CaptureFixture) -> None:
    logger = logging.getLogger("videogen")
    level = logger.level
    try:
        assert cli.main(["models", "--no-tiny", "-v"]) == 0
        assert logger.level == logging.INFO
        assert cli.main(["models", "--no-tiny", "-q"]) == 0
        assert logger.level == logging.ERROR
    finally:
        logger.setLevel(level)


def test_version(capsys: pytest.CaptureFixture) -> None:
    import videogen

    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"videogen {videogen.__version__}"


def test_parsing_the_command_line_imports_no_torch() -> None:
    """`videogen --help` / `--version` and every error in the arguments come without torch."""
    code = (
        "import sys\nfrom videogen import cli\n"
        "cli.build_parser().parse_known_args(['generate', '-m', 'tiny-wan', '--memory', '{}', '--seeds', '1-3'])\n"
        "print(sorted(m for m in ('torch', 'diffusers', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_python_dash_m_videogen_runs_the_command() -> None:
    """`python -m videogen` (and so `torchrun -m videogen generate ...`) is the command."""
    out = subprocess.run([sys.executable, "-m", "videogen", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("videogen ")


def test_bench_help_lists_the_benchmarks_and_exits_0(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "memory" in out and "speed" in out
    for name in ("memory", "speed"):  # the rest of the line goes to the benchmark's own parser
        with pytest.raises(SystemExit) as exc:
            cli.main(["bench", name, "--help"])
        assert exc.value.code == 0 and f"videogen bench {name}" in capsys.readouterr().out


def test_unknown_arguments_are_refused(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["models", "--no-such-flag"])
    assert exc.value.code == 2 and "--no-such-flag" in capsys.readouterr().err


def test_env_shows_versions_device_and_caches(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import diffusers

    monkeypatch.setenv("VIDEOGEN_CACHE", "/tmp/vg-cache-here")
    assert cli.main(["env"]) == 0
    text = capsys.readouterr().out
    for line in (f"- diffusers: {diffusers.__version__}", "- videogen cache: /tmp/vg-cache-here", "- CUDA", "- torch:"):
        assert line in text, line
    assert cli.main(["env", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["libraries"]["diffusers"] == diffusers.__version__
    assert info["cache"]["videogen"] == "/tmp/vg-cache-here" and info["cache"]["huggingface"]
    assert info["environment"]["VIDEOGEN_CACHE"] == "/tmp/vg-cache-here"
    assert {"videogen", "python", "platform", "accelerator"} <= set(info)
    assert isinstance(info["accelerator"]["gpus"], list)


def test_docs_cli_documents_every_command_and_flag() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    action = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in action.choices.items():
        assert f"## {name}" in text, f"docs/cli.md has no section for `videogen {name}`"
        for option in {s for a in parser._actions for s in a.option_strings if s.startswith("--")}:
            if option not in ("--help", "--verbose", "--quiet"):
                assert f"`{option}" in text or f"{option} " in text, f"docs/cli.md doesn't mention {name} {option}"
