"""The `videogen` command making videos, in-process (`cli.main`): --json documents, stdout kept to paths,
--spec files, --seeds into a folder, `batch` exit status, `replay`, and only rank 0 writing under torchrun."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from videogen.cli.command import main

TINY = ["-m", "tiny-wan", "--steps", "2", "--num-frames", "5"]


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def frames(path: Path) -> np.ndarray:
    from videogen.media.read import read_video

    return np.asarray(read_video(path)[0])


def sidecar(path: Path | str) -> dict[str, Any]:
    return json.loads(Path(f"{path}.json").read_text())


def test_generate_prints_the_path_alone_and_the_seed_on_stderr(tmp_path: Path, capsys) -> None:
    out = tmp_path / "a.mp4"
    code, stdout, stderr = run(capsys, "generate", *TINY, "-p", "a ferret", "--seed", "1234", "-o", str(out))
    assert code == 0 and stdout == f"{out}\n"
    assert "seed 1234" in stderr.splitlines()


def test_generate_json_is_one_document_with_the_figures(tmp_path: Path, capsys) -> None:
    out = tmp_path / "a.mp4"
    code, stdout, _ = run(capsys, "generate", *TINY, "-p", "a ferret", "--seed", "3", "-o", str(out), "--json")
    doc = json.loads(stdout)
    assert code == 0 and doc["path"] == str(out) and out.exists()
    assert (doc["seed"], doc["frames"], doc["width"], doc["height"], doc["fps"]) == (3, 5, 32, 32, 8)
    assert doc["timings"]["total_s"] > 0 and doc["model"]["name"] == "tiny-wan"
    assert doc["spec"]["steps"] == 2 and doc["memory_plan"]["name"] == "none"


def test_generate_with_a_spec_file_and_a_plan_file(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "run.yaml"
    spec.write_text("model: tiny-wan\nprompt: from the file\nsteps: 2\nnum_frames: 5\nseed: 11\n")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"vae_tiling": True}))
    out = tmp_path / "b.mp4"
    argv = ["generate", "--spec", str(spec), "--seed", "12", "--memory", str(plan), "-o", str(out), "-q"]
    code, stdout, _ = run(capsys, *argv)
    meta = sidecar(out)
    assert code == 0 and stdout.strip() == str(out)
    assert meta["spec"]["prompt"] == "from the file" and meta["spec"]["seed"] == 12, "the flag wins over the file"
    assert meta["memory_plan"]["vae_tiling"] is True


def test_seeds_write_one_video_per_seed_into_the_folder(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "sweep"
    code, stdout, _ = run(capsys, "generate", *TINY, "-p", "a cat", "--seeds", "1-3", "-o", str(folder), "-q")
    paths = [Path(line) for line in stdout.splitlines()]
    assert code == 0 and len(paths) == 3 and all(p.parent == folder and p.exists() for p in paths)
    assert sorted(sidecar(p)["spec"]["seed"] for p in paths) == [1, 2, 3]
    code, _, stderr = run(capsys, "generate", *TINY, "-p", "a cat", "--seeds", "1-3")
    assert code == 2 and "-o DIR" in stderr, "several videos need a folder"
    code, _, stderr = run(capsys, "generate", *TINY, "-p", "a cat", "--seeds", "1-3", "-o", str(tmp_path / "x.mp4"))
    assert code == 2 and "not a file" in stderr and not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("command", ["generate", "batch"])
def test_empty_seeds_are_an_error_not_one_random_video(tmp_path: Path, capsys, command: str) -> None:
    out = tmp_path / "out"
    if command == "generate":
        args = ["generate", *TINY, "-p", "a cat", "--seeds", "", "-o", str(out)]
    else:
        specs = tmp_path / "specs.json"
        specs.write_text(json.dumps({"model": "tiny-wan", "prompt": "a cat", "steps": 2, "num_frames": 5}))
        args = ["batch", str(specs), "--seeds", "", "--out", str(out)]
    code, stdout, stderr = run(capsys, *args, "-q")
    assert code == 2 and stdout == "" and not out.exists()
    assert stderr.splitlines() == [
        "videogen: error: seeds: '' names no seed; write seeds as '1-8' (a range), '3,7,42' (a list) or both, "
        "e.g. '1-3,9'"
    ]


def test_batch_exit_status_says_whether_every_spec_succeeded(tmp_path: Path, capsys) -> None:
    good = {"model": "tiny-wan", "prompt": "a cat", "steps": 2, "num_frames": 5, "seed": 1}
    specs = tmp_path / "specs.jsonl"
    specs.write_text("\n".join(json.dumps(s) for s in (good, {**good, "num_frames": 8}, {**good, "seed": 2})) + "\n")
    out = tmp_path / "out"
    code, stdout, stderr = run(capsys, "batch", str(specs), "--out", str(out), "-q")
    assert code == 1, "one spec failed"
    assert len(stdout.splitlines()) == 2 and all(Path(p).exists() for p in stdout.splitlines())
    assert "num_frames=8" in stderr and "1 failed" in stderr
    # a rerun skips the finished ones and reports them all in one JSON document
    code, stdout, _ = run(capsys, "batch", str(specs), "--out", str(out), "--json", "-q")
    doc = json.loads(stdout)
    assert code == 1 and (doc["done"], doc["skipped"], doc["failed"]) == (0, 2, 1)
    assert [i["status"] for i in doc["items"]] == ["skipped", "failed", "skipped"]
    assert doc["items"][1]["path"] is None and "num_frames" in doc["items"][1]["error"]
    assert json.loads((out / "batch.json").read_text())  # the runner's own report is there too
    specs.write_text(json.dumps(good) + "\n")
    assert run(capsys, "batch", str(specs), "--out", str(out), "--seeds", "1,2", "-q")[0] == 0


def test_replay_makes_the_same_video_beside_the_original(tmp_path: Path, capsys) -> None:
    original = tmp_path / "a.mp4"
    assert run(capsys, "generate", *TINY, "-p", "a ferret", "-o", str(original), "-q")[0] == 0
    code, stdout, _ = run(capsys, "replay", str(original), "-q")
    again = Path(stdout.strip())
    assert code == 0 and again == tmp_path / "a-replay.mp4"
    assert np.array_equal(frames(again), frames(original))
    assert sidecar(again)["spec"]["seed"] == sidecar(original)["spec"]["seed"]
    code, stdout, _ = run(capsys, "replay", str(original), "--set", "steps=3", "--json")
    doc = json.loads(stdout)
    assert code == 0 and doc["path"] == str(tmp_path / "a-replay-1.mp4") and doc["spec"]["steps"] == 3
    before = original.read_bytes()
    code, _, stderr = run(capsys, "replay", str(original), "-o", str(original), "--overwrite")
    assert code == 2 and "never replaced" in stderr and original.read_bytes() == before


def test_replay_takes_a_new_image(tmp_path: Path, capsys) -> None:
    from videogen.testing import sample_image

    image = tmp_path / "in.png"
    sample_image(32, 32).save(image)
    original = tmp_path / "i2v.mp4"
    argv = ["-m", "tiny-wan-i2v", "--steps", "2", "--num-frames", "5", "-p", "x", "--image", str(image)]
    assert run(capsys, "generate", *argv, "-o", str(original), "-q")[0] == 0
    image.unlink()
    code, _, stderr = run(capsys, "replay", str(original), "-q")
    assert code == 2 and "--image" in stderr, "a missing input is refused, naming the flag that replaces it"
    other = tmp_path / "other.png"
    sample_image(32, 32).save(other)
    code, stdout, _ = run(capsys, "replay", str(original), "--image", str(other), "-q")
    assert code == 0 and sidecar(stdout.strip())["spec"]["image"] == str(other)


def test_only_rank_0_writes_and_prints(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    out = tmp_path / "rank1.mp4"
    code, stdout, stderr = run(capsys, "generate", *TINY, "-p", "x", "-o", str(out), "-q")
    assert code == 0 and stdout == "" and not out.exists()


def test_models_json(capsys) -> None:
    import videogen

    code, stdout, _ = run(capsys, "models", "--json")
    models = json.loads(stdout)
    assert code == 0 and [m["name"] for m in models] == [c.name for c in videogen.list_models()]
    wan = next(m for m in models if m["name"] == "tiny-wan")
    assert wan["family"] == "wan" and wan["tiny"] is True and "t2v" in wan["tasks"]


def test_plan_json(capsys) -> None:
    code, stdout, _ = run(capsys, "plan", "-m", "wan2.1-t2v-1.3b", "--memory", "low", "--json")
    doc = json.loads(stdout)
    assert code == 0 and doc["model"] == "wan2.1-t2v-1.3b" and doc["plan"]["name"] == "low"
    assert {row["name"] for row in doc["presets"]} >= {"none", "low"}
    assert any(c["name"] == "transformer" for c in doc["components"])
    plan = '{"placement": "group", "vae_tiling": true}'
    code, stdout, _ = run(capsys, "plan", "-m", "tiny-wan", "--memory", plan, "--attention-backend", "native", "--json")
    chosen = json.loads(stdout)["plan"]
    assert code == 0 and (chosen["placement"], chosen["vae_tiling"], chosen["attention_backend"]) == (
        "group",
        True,
        "native",
    )


def test_batch_ray_flags_reach_the_ray_runner(tmp_path: Path, capsys, monkeypatch) -> None:
    from videogen.generation.batch import on_ray as batch_ray

    seen: dict = {}

    def runner(specs, out_dir, **options):  # the Ray runner itself is tested in test_batch_ray.py
        seen.update(options, count=len(specs))
        return iter(())

    monkeypatch.setattr(batch_ray, "generate_many", runner)
    specs = tmp_path / "specs.jsonl"
    specs.write_text(json.dumps({"model": "tiny-wan", "prompt": "a cat", "steps": 2}) + "\n")
    code, _, _ = run(capsys, "batch", str(specs), "--out", str(tmp_path / "o"), "--ray", "--workers", "2", "-q")
    assert code == 0 and seen["ray"] is True and seen["workers"] == 2 and seen["count"] == 1
    run(capsys, "batch", str(specs), "--out", str(tmp_path / "o"), "--ray=ray://head:10001", "-q")
    assert seen["ray"] == "ray://head:10001" and seen["workers"] is None


def test_workers_without_ray_is_refused(tmp_path: Path, capsys) -> None:
    specs = tmp_path / "specs.jsonl"
    specs.write_text(json.dumps({"model": "tiny-wan", "prompt": "a cat", "steps": 2}) + "\n")
    code, _, stderr = run(capsys, "batch", str(specs), "--out", str(tmp_path / "o"), "--workers", "2")
    assert code == 2 and "workers=2" in stderr and "--ray" in stderr
