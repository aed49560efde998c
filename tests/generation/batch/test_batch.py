"""`videogen.generate_many`: one load per model, a bad spec doesn't stop the batch, the report, resuming (also
after SIGKILL), safe names."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import helpers
import numpy as np
import pytest

import videogen
from videogen.generation.batch.files import LOCK_NAME, output_name, output_path, slug
from videogen.generation.batch.local import read_report
from videogen.loading.pipelines import CACHE
from videogen.media.read import read_video
from videogen.media.save import content_sha256, metadata_path
from videogen.spec.files import spec_hash

SPECS: list = [
    {"model": "tiny-wan", "prompt": "A red fox, in the snow!", "seed": 1},
    videogen.VideoSpec(model="tiny-ltx", prompt="a blue whale", seed=2),
    {"model": "tiny-wan", "prompt": "a green frog", "seed": 3},
    {"model": "tiny-wan", "prompt": "bad frame count", "num_frames": 8, "seed": 4},  # a SpecError at prepare
    {"model": "tiny-ltx", "prompt": "../../etc/passwd", "seed": 5},
    {"model": "tiny-wan", "prompt": "Ünïcödé — no seed"},  # the seed is drawn: the name has none
    {"model": "tiny-ltx", "prompt": "a yellow bird", "seed": 6},
]
NAMES = {
    0: "0000-a-red-fox-in-the-snow-1.mp4",
    1: "0001-a-blue-whale-2.mp4",
    2: "0002-a-green-frog-3.mp4",
    4: "0004-etc-passwd-5.mp4",
    5: "0005-unicode-no-seed.mp4",
    6: "0006-a-yellow-bird-6.mp4",
}


def outputs(folder: Path) -> list[str]:
    """Every name in `folder` but sidecars and the report (hidden temps included)."""
    return sorted(n for n in os.listdir(folder) if not n.endswith(".json"))


def sidecar(path: Path) -> dict:
    return json.loads(metadata_path(path).read_text())


def as_spec(given) -> videogen.VideoSpec:
    return given if isinstance(given, videogen.VideoSpec) else videogen.VideoSpec(**given)


def test_batch_loads_each_model_once_survives_a_bad_spec_reports_and_resumes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(CACHE, "max_entries", 1)  # interleaved specs without grouping would reload every time
    videogen.clear_cache()
    loads = CACHE.loads
    items = list(videogen.generate_many(SPECS, tmp_path, progress=False))
    assert CACHE.loads - loads == 2  # tiny-wan once, tiny-ltx once
    assert [i.index for i in items] == [3, 0, 2, 5, 1, 4, 6]  # refused first, then group by group, in order
    by_index = {i.index: i for i in items}
    bad = by_index[3]
    assert bad.status == "failed" and bad.path is None and "num_frames" in bad.error
    assert isinstance(bad.exception, videogen.SpecError) and bad.spec is SPECS[3]
    for index, name in NAMES.items():
        item = by_index[index]
        assert item.status == "done" and item.error is None and item.path == tmp_path / name, item
        assert item.spec is SPECS[index] and item.seconds > 0 and item.result is not None
        meta = sidecar(item.path)
        assert meta["batch"]["index"] == index
        assert meta["batch"]["spec_hash"] == spec_hash(as_spec(SPECS[index])) == item.spec_hash
        assert meta["batch"]["spec"] == as_spec(SPECS[index]).to_dict()
        assert meta["saved"]["sha256"] == content_sha256(item.path)
        assert item.seed == item.result.seed == meta["spec"]["seed"]
    assert outputs(tmp_path) == sorted(NAMES.values())  # the bad spec wrote nothing, no temp is left

    report = read_report(tmp_path)
    assert report["finished"] and not report["ok"] and report["format"] == "mp4"
    assert report["totals"] | {"seconds": 0} == {
        "specs": 7,
        "pending": 0,
        "running": 0,
        "done": 6,
        "skipped": 0,
        "failed": 1,
        "seconds": 0,
    }
    assert [e["index"] for e in report["items"]] == list(range(7))
    for entry in report["items"]:
        item = by_index[entry["index"]]
        assert entry["status"] == item.status and entry["error"] == item.error
        assert entry["path"] == NAMES.get(entry["index"]) and entry["spec_hash"] == item.spec_hash
        assert entry["seed"] == item.seed and entry["seconds"] == pytest.approx(item.seconds, abs=1e-3)

    # the same batch again: nothing loads, every finished spec is skipped, no file is touched
    stamps = {n: (tmp_path / n).stat().st_mtime_ns for n in NAMES.values()}
    again = list(videogen.generate_many(SPECS, tmp_path, progress=False))
    assert CACHE.loads - loads == 2
    assert {i.index: i.status for i in again} == {**dict.fromkeys(NAMES, "skipped"), 3: "failed"}
    assert {i.index: i.seed for i in again if i.status == "skipped"} == {k: by_index[k].seed for k in NAMES}
    assert {n: (tmp_path / n).stat().st_mtime_ns for n in NAMES.values()} == stamps
    assert read_report(tmp_path)["totals"]["skipped"] == 6

    # changed specs are redone and replace their earlier output: same name (steps), a new name (prompt)
    changed = list(SPECS)
    changed[0] = {**SPECS[0], "steps": 3}
    changed[2] = {**SPECS[2], "prompt": "a purple frog"}
    third = {i.index: i for i in videogen.generate_many(changed, tmp_path, progress=False)}
    assert {k: i.status for k, i in third.items()} == {
        **dict.fromkeys(NAMES, "skipped"),
        0: "done",
        2: "done",
        3: "failed",
    }
    assert CACHE.loads - loads == 3  # tiny-wan again (the cache of one held tiny-ltx)
    assert sidecar(third[0].path)["batch"]["spec_hash"] == spec_hash(as_spec(changed[0])) != by_index[0].spec_hash
    assert third[2].path.name == "0002-a-purple-frog-3.mp4"
    assert outputs(tmp_path) == sorted({*NAMES.values(), "0002-a-purple-frog-3.mp4"} - {NAMES[2]})
    direct = videogen.generate(SPECS[4], progress=False)  # the batch changes no frames
    assert np.array_equal(by_index[4].result.frames, direct.frames)


def test_a_file_in_the_way_needs_overwrite(tmp_path: Path) -> None:
    spec = {"model": "tiny-wan", "prompt": "a fox", "seed": 9}
    (tmp_path / "0000-a-fox-9.mp4").write_bytes(b"mine")  # not this batch's output (no batch sidecar)
    [item] = videogen.generate_many([spec], tmp_path, progress=False)
    assert item.status == "failed" and isinstance(item.exception, videogen.OutputExistsError)
    assert "overwrite=True" in item.error and (tmp_path / "0000-a-fox-9.mp4").read_bytes() == b"mine"
    [item] = videogen.generate_many([spec], tmp_path, progress=False, overwrite=True)
    assert item.status == "done" and sidecar(item.path)["batch"]["index"] == 0


def test_a_spec_failing_while_it_runs_doesnt_stop_the_batch(tmp_path: Path, monkeypatch) -> None:
    import videogen.generation.batch.local

    real_run = videogen.generation.batch.local.run

    def run(prepared, **kw):
        if prepared.spec.prompt == "boom":
            raise RuntimeError("the GPU caught fire")
        return real_run(prepared, **kw)

    monkeypatch.setattr(videogen.generation.batch.local, "run", run)
    specs = [{"model": "tiny-wan", "prompt": p, "seed": 1} for p in ("one", "boom", "three")]
    items = {i.index: i for i in videogen.generate_many(specs, tmp_path, progress=False)}
    assert [items[i].status for i in range(3)] == ["done", "failed", "done"]
    assert items[1].error == "RuntimeError: the GPU caught fire" and items[1].path is None
    assert outputs(tmp_path) == ["0000-one-1.mp4", "0002-three-1.mp4"]
    assert [e["status"] for e in read_report(tmp_path)["items"]] == ["done", "failed", "done"]


def test_a_video_without_its_sidecar_that_the_report_names_is_redone(tmp_path: Path) -> None:
    """A save killed between the video's rename and its sidecar's: the video is the batch's, redone in place."""
    spec = {"model": "tiny-wan", "prompt": "a fox", "seed": 9}
    [first] = videogen.generate_many([spec], tmp_path, progress=False)
    metadata_path(first.path).unlink()
    [again] = videogen.generate_many([spec], tmp_path, progress=False)
    assert again.status == "done" and again.path == first.path
    assert sidecar(again.path)["saved"]["sha256"] == content_sha256(again.path)


def test_in_memory_inputs_count_by_their_pixels(tmp_path: Path) -> None:
    clip = helpers.video(9, 32, 32)
    spec = videogen.VideoSpec(model="tiny-wan", prompt="a clip", video=clip, seed=4)  # v2v from an array
    [item] = videogen.generate_many([spec], tmp_path, progress=False)
    assert item.status == "done", item.error
    assert isinstance(sidecar(item.path)["batch"]["spec"]["video"], str)  # described, not embedded
    [again] = videogen.generate_many([spec.replace(video=clip.copy())], tmp_path, progress=False)
    assert again.status == "skipped"
    [changed] = videogen.generate_many([spec.replace(video=clip[::-1].copy())], tmp_path, progress=False)
    assert changed.status == "done" and changed.path == item.path


def test_bad_options_are_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(videogen.SpecError, match="fmt="):
        videogen.generate_many([], tmp_path, fmt="avi")
    with pytest.raises(videogen.SpecError, match="crf"):
        videogen.generate_many([], tmp_path, fmt="gif", crf=20)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "prompt, expected",
    [
        ("../../etc/passwd", "etc-passwd"),
        ("/absolute/path", "absolute-path"),
        ("..", "video"),
        ("a\\b/c\x00d", "a-b-c-d"),
        ("", "video"),
        (None, "video"),
        ("Crème brûlée, 東京", "creme-brulee"),
        ("x" * 100, "x" * 40),
        ("a " + "-" * 60 + " b", "a-b"),
    ],
)
def test_names_are_safe_and_predictable(tmp_path: Path, prompt, expected: str) -> None:
    assert slug(prompt) == expected
    name = output_name(12, videogen.VideoSpec(model="tiny-wan", prompt=prompt, seed=7), "mp4")
    assert name == f"0012-{expected}-7.mp4" and re.fullmatch(r"\d{4}-[a-z0-9-]{1,40}-7\.mp4", name)
    assert output_path(tmp_path, name).resolve().parent == tmp_path.resolve()
    for hostile in ("../x.mp4", "..", "/etc/passwd", "a/../../b"):
        with pytest.raises(videogen.SpecError, match="would leave the batch folder"):
            output_path(tmp_path, hostile)


#: run a batch of png folders in a fresh process; the third save stalls after writing its temp folder (the
#: parent kills the process there: a partial output is on disk)
KILLED = textwrap.dedent("""
    import json, sys, time
    import videogen, videogen.media.write as writers

    out, marker, specs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    write_png, saves = writers._WRITERS["png"], []

    def stalling(*args):
        write_png(*args)
        saves.append(1)
        if len(saves) == 3:
            open(marker, "w").close()
            time.sleep(600)

    writers._WRITERS["png"] = stalling
    for item in videogen.generate_many(specs, out, fmt="png", progress=False):
        assert item.status == "done", item
""")


def test_a_batch_killed_mid_save_resumes_delivering_every_video_exactly_once(tmp_path: Path) -> None:
    out, marker = tmp_path / "out", tmp_path / "stalled"
    specs = [
        {"model": model, "prompt": f"{model} clip {i}", "seed": 10 + i}
        for i, model in enumerate(["tiny-wan", "tiny-ltx"] * 3)
    ]
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(out), str(marker), json.dumps(specs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    while not marker.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"the batch never reached its third save: {child.communicate()[1][-3000:]}")
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL

    # killed during the third save (wan group: specs 0, 2, then 4): two outputs whole, one partial temp folder
    names = {i: f"{i:04d}-tiny-{s['model'][5:]}-clip-{i}-{s['seed']}" for i, s in enumerate(specs)}
    left = outputs(out)
    assert [n for n in left if not n.startswith(".")] == [names[0], names[2]]
    assert LOCK_NAME in left  # the killed run's lock file stays behind, no longer locked: the resume takes it
    temps = [n for n in left if n.startswith(".") and n != LOCK_NAME]
    assert temps and all(".tmp" in n for n in temps)
    report = read_report(out)  # valid JSON: what finished, what was in flight
    assert [e["status"] for e in report["items"]] == ["done", "pending", "done", "pending", "running", "pending"]
    stamps = {i: (out / names[i]).stat().st_ino for i in (0, 2)}

    items = {i.index: i for i in videogen.generate_many(specs, out, fmt="png", progress=False)}
    assert {k: i.status for k, i in items.items()} == {
        0: "skipped",
        1: "done",
        2: "skipped",
        3: "done",
        4: "done",
        5: "done",
    }
    assert outputs(out) == sorted(names.values())  # one output per spec, the partial temp folder gone
    assert {i: (out / names[i]).stat().st_ino for i in (0, 2)} == stamps  # finished ones not redone
    for index, spec in enumerate(specs):
        path = out / names[index]
        meta = sidecar(path)
        assert meta["batch"]["spec_hash"] == spec_hash(videogen.VideoSpec(**spec)) and meta["batch"]["index"] == index
        assert meta["saved"]["sha256"] == content_sha256(path)
        frames, _ = read_video(path)
        assert np.array_equal(frames, videogen.generate(spec, progress=False).frames), index
    report = read_report(out)
    assert report["ok"] and report["totals"]["done"] == 4 and report["totals"]["skipped"] == 2


class Killed(BaseException):
    """Stands for SIGKILL at one point of a run: nothing after it runs (not even `except Exception`)."""


@pytest.mark.parametrize("resume_with", ["changed", "original"])
def test_a_kill_between_saving_a_changed_spec_and_removing_the_old_output_resumes_to_one_output(
    tmp_path: Path, monkeypatch, resume_with: str
) -> None:
    import videogen.generation.batch.local

    original = {"model": "tiny-wan", "prompt": "a red fox", "seed": 1}
    changed = {**original, "prompt": "a blue fox"}  # another name: the old output is removed once the new is saved
    [first] = videogen.generate_many([original], tmp_path, progress=False)

    def killed(paths, index) -> None:
        raise Killed

    monkeypatch.setattr(videogen.generation.batch.local, "remove_replaced", killed)
    with pytest.raises(Killed):
        list(videogen.generate_many([changed], tmp_path, progress=False))
    monkeypatch.undo()
    new = tmp_path / "0000-a-blue-fox-1.mp4"
    assert outputs(tmp_path) == sorted([first.path.name, new.name])  # two outputs of spec 0: the state the kill leaves

    current = changed if resume_with == "changed" else original
    kept, stale = (new, first.path) if resume_with == "changed" else (first.path, new)
    stamp = kept.stat().st_mtime_ns
    [item] = videogen.generate_many([current], tmp_path, progress=False)
    assert item.status == "skipped" and item.path == kept  # the one matching the spec stays, untouched
    assert outputs(tmp_path) == [kept.name] and not metadata_path(stale).exists()
    assert kept.stat().st_mtime_ns == stamp and sidecar(kept)["batch"]["spec_hash"] == spec_hash(as_spec(current))
    [again] = videogen.generate_many([current], tmp_path, progress=False)
    assert again.status == "skipped" and outputs(tmp_path) == [kept.name]


def test_a_second_batch_into_the_same_folder_is_refused_while_the_first_runs(tmp_path: Path, capsys) -> None:
    from videogen.cli import command as cli

    specs = [{"model": "tiny-wan", "prompt": p, "seed": 1} for p in ("one", "two")]
    running = videogen.generate_many(specs, tmp_path, progress=False)
    first = next(running)  # the first run holds the folder now
    report = (tmp_path / "batch.json").read_text()
    second = videogen.generate_many(specs, tmp_path, progress=False)
    with pytest.raises(videogen.SpecError, match="another videogen batch .* is running in") as err:
        next(second)
    assert err.value.field == "out_dir" and f"pid {os.getpid()} on " in str(err.value)
    assert (tmp_path / "batch.json").read_text() == report  # the second wrote nothing, made nothing
    spec_file = tmp_path.parent / f"{tmp_path.name}-specs.json"
    spec_file.write_text(json.dumps(specs))
    assert cli.main(["batch", str(spec_file), "--out", str(tmp_path), "-q"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("videogen: error: out_dir: another videogen batch (pid ")

    rest = list(running)  # the first run finishes as if alone, and lets go of the folder
    assert [i.status for i in [first, *rest]] == ["done", "done"] and read_report(tmp_path)["ok"]
    assert LOCK_NAME not in os.listdir(tmp_path)
    assert [i.status for i in videogen.generate_many(specs, tmp_path, progress=False)] == ["skipped", "skipped"]


HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from videogen.generation.batch.files import batch_lock

    with batch_lock(Path(sys.argv[1])):
        print("locked", flush=True)
        time.sleep(600)
""")


def test_the_lock_of_a_killed_batch_is_free(tmp_path: Path) -> None:
    from videogen.generation.batch.files import batch_lock

    child = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "locked\n"
        with pytest.raises(videogen.SpecError, match=f"pid {child.pid} on "):
            with batch_lock(tmp_path):
                pass
    finally:
        child.kill()  # SIGKILL: no clean-up runs in the child
        child.wait()
    assert LOCK_NAME in os.listdir(tmp_path)  # left behind, but no process holds it
    with batch_lock(tmp_path):
        assert f"pid {os.getpid()} on " in (tmp_path / LOCK_NAME).read_text()
    assert LOCK_NAME not in os.listdir(tmp_path)


def test_the_renamed_batch_names_still_work() -> None:
    import videogen.generation.batch
    from videogen.generation.batch.local import BatchWork, batch_work

    with pytest.warns(DeprecationWarning, match="now batch_work"):
        assert videogen.generation.batch.plan_batch is batch_work
    with pytest.warns(DeprecationWarning, match="now BatchWork"):
        assert videogen.generation.batch.BatchPlan is BatchWork
