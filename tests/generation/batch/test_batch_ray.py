"""The batch runner on Ray (`videogen.generation.batch.on_ray`): a local Ray instance with 2 CPU workers survives a
worker killed mid-batch (every video once, the in-process runner's frames, no partial file, loads per worker) and
leaves no process or file behind; the choices and the missing extra are refused before anything starts."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import videogen
from videogen.generation.batch import on_ray as batch_ray
from videogen.generation.batch import ray_session
from videogen.generation.batch.local import read_report
from videogen.media.read import read_video
from videogen.media.save import clean_stale_temps, content_sha256, host_tag, metadata_path
from videogen.spec.files import spec_hash

NO_RAY = "the ray extra isn't installed: pip install 'videogen-diffusers[ray]'"
SPECS = [
    {"model": model, "prompt": f"{model} clip {i}", "seed": 10 + i, "steps": 2}
    for i, model in enumerate(["tiny-wan", "tiny-ltx"] * 3)
]


def listing(folder: Path) -> list[str]:
    """Every name in `folder` (hidden temps included) but the report."""
    return sorted(n for n in os.listdir(folder) if n != "batch.json")


def ray_processes() -> set[int]:
    """Pids of Ray's daemons and workers on this machine (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            name = (entry / "comm").read_text().strip()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")[0]
        except (OSError, ValueError):
            continue
        if name in ("raylet", "gcs_server") or cmdline.startswith(b"ray::"):
            found.add(int(entry.name))
    return found


def ray_temps() -> set[str]:
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith(ray_session.TEMP_PREFIX)}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts Ray's processes in /proc")
@pytest.mark.exclusive("ray")  # counts every Ray process and temp folder on the machine: no other Ray test at once
def test_a_worker_killed_mid_batch_loses_no_video_and_ray_leaves_nothing_behind(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason=NO_RAY)
    local = {i.index: i for i in videogen.generate_many(SPECS, tmp_path / "local", fmt="png", progress=False)}
    assert all(i.status == "done" for i in local.values())  # the reference (and the tiny models built once)
    processes, temps = ray_processes(), ray_temps()
    token = Path.home() / ".ray" / "auth_token"
    had_token = token.exists()

    out = tmp_path / "ray"
    items, killed = [], None
    for item in batch_ray.generate_many(SPECS, out, ray=True, workers=2, fmt="png", progress=False):
        items.append(item)
        if killed is None:  # this worker is on its next spec already: kill it mid-spec, as a crash would
            killed = item.worker["pid"]
            os.kill(killed, signal.SIGKILL)
            partial = out / f".{item.path.name}.{host_tag()}-{killed}-{'0' * 12}.tmp"
            partial.mkdir()  # what its save would leave if the kill came mid-write
            (partial / "frame_00000.png").write_bytes(b"half")

    # every video exactly once, whole, with the in-process runner's frames and names
    assert sorted(i.index for i in items) == list(range(len(SPECS)))
    assert all(i.status == "done" and i.error is None for i in items), [i.error for i in items]
    assert listing(out) == listing(tmp_path / "local")  # no temp, no partial file, nothing else
    for item in items:
        assert item.path == out / local[item.index].path.name and item.result is None
        meta = metadata_path(item.path).read_text()
        assert spec_hash(videogen.VideoSpec(**SPECS[item.index])) in meta and content_sha256(item.path) in meta
        assert np.array_equal(read_video(item.path)[0], read_video(local[item.index].path)[0]), item.index

    # the report: every spec done; the killed process recorded with the spec it lost, re-run by another
    report = read_report(out)
    assert report["ok"] and report["totals"]["done"] == len(SPECS)
    workers = report["workers"]
    [dead] = [w for w in workers if w["pid"] == killed]
    assert dead["died"] and isinstance(dead["lost"], int) and dead["lost"] not in dead["specs"]
    [rerun] = [i for i in items if i.index == dead["lost"]]
    assert rerun.worker["pid"] != killed
    # loads per worker process: at most one per model it ran
    for w in workers:
        models = {SPECS[i]["model"] for i in w["specs"]}
        assert w["loads"] <= len(models) and (w["loads"] >= 1 or not models), w
    assert sorted(i for w in workers for i in w["specs"]) == list(range(len(SPECS)))

    # a local Ray started by videogen leaves no process, temp folder or token behind
    assert not ray.is_initialized()
    deadline = time.monotonic() + 15
    while ray_processes() - processes and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not ray_processes() - processes
    assert ray_temps() == temps and token.exists() == had_token


def test_the_choices_are_checked_before_anything_starts(tmp_path: Path, monkeypatch) -> None:
    spec = {"model": "tiny-wan", "prompt": "a fox", "seed": 1}
    with pytest.raises(videogen.SpecError, match="ray=3") as err:
        batch_ray.generate_many([spec], tmp_path, ray=3)  # type: ignore[arg-type]
    assert err.value.field == "ray"
    for workers in (0, -1, 1.5, True):
        with pytest.raises(videogen.SpecError, match="workers=") as err:
            batch_ray.generate_many([spec], tmp_path, ray=True, workers=workers)  # type: ignore[arg-type]
        assert err.value.field == "workers"
    with pytest.raises(videogen.SpecError, match="ray=True") as err:
        batch_ray.generate_many([spec], tmp_path, workers=2)  # workers without Ray
    with pytest.raises(videogen.SpecError, match="fmt="):
        batch_ray.generate_many([spec], tmp_path, ray=True, fmt="avi")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra weren't installed
    with pytest.raises(videogen.MissingDependencyError, match=r"pip install 'videogen-diffusers\[ray\]'"):
        batch_ray.generate_many([spec], tmp_path, ray=True)
    assert not any(tmp_path.iterdir())


def test_without_ray_it_is_the_in_process_runner(tmp_path: Path, monkeypatch) -> None:
    import videogen.generation.batch.local

    calls = []
    monkeypatch.setattr(
        videogen.generation.batch.local, "generate_many", lambda *a, **kw: calls.append((a, kw)) or iter(())
    )
    for choice in (None, False):
        batch_ray.generate_many(["spec"], tmp_path, ray=choice, fmt="gif", crf=None, resume=False)
    expected = {"fmt": "gif", "overwrite": False, "resume": False, "progress": True, "crf": None}
    assert calls == [((["spec"], tmp_path), expected)] * 2


def test_workers_per_gpu_or_sharing_the_cpus(monkeypatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert ray_session.worker_options({"GPU": 8.0, "CPU": 32.0}, None, True) == (
        8,
        {"num_gpus": 1, "num_cpus": 1},
        None,
    )
    assert ray_session.worker_options({"GPU": 8.0, "CPU": 32.0}, 4, True)[0] == 4
    with pytest.raises(videogen.SpecError, match="8 GPU"):
        ray_session.worker_options({"GPU": 8.0, "CPU": 32.0}, 9, True)
    assert ray_session.worker_options({"GPU": 8.0, "CPU": 32.0}, 9, False)[0] == 9  # a cluster may grow: a warning
    assert ray_session.worker_options({"CPU": 16.0}, None, True) == (1, {"num_cpus": 16}, 16)
    assert ray_session.worker_options({"CPU": 16.0}, 4, True) == (4, {"num_cpus": 4}, 4)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert ray_session.worker_options({"CPU": 16.0}, 4, True) == (4, {"num_cpus": 4}, 1)


def test_a_free_worker_keeps_its_model_else_takes_the_largest_free_group() -> None:
    choose = batch_ray.choose_group
    assert choose({"a": 2, "b": 5, "c": 1}, {}, set()) == "b"  # nobody on any: the largest
    assert choose({"a": 2, "b": 5, "c": 1}, {"b": 1}, set()) == "a"  # the largest nobody is on
    assert choose({"a": 2, "b": 5}, {"a": 1, "b": 1}, set()) == "b"  # all taken: the most waiting per worker
    assert choose({"a": 2, "b": 5}, {"a": 1, "b": 1}, {"b"}) == "a"  # not back to a model it left
    assert choose({"a": 3, "b": 3}, {}, set()) == "a"  # ties: plan order


def test_a_dead_workers_temps_on_another_host_are_removed(tmp_path: Path) -> None:
    other = f".0001-x.mp4.{'f' * 8}-4242-{'0' * 12}.tmp.mp4"  # another host's pid 4242
    (tmp_path / other).write_bytes(b"half")
    assert clean_stale_temps(tmp_path) == [] and (tmp_path / other).exists()  # alive, for all this host knows
    assert clean_stale_temps(tmp_path, dead={("f" * 8, 4242)}) == [tmp_path / other]
    assert not (tmp_path / other).exists()


def test_a_ray_client_address_needs_grpcio(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("ray", reason=NO_RAY)
    monkeypatch.setitem(sys.modules, "grpc", None)  # as if ray[client] weren't installed
    with pytest.raises(videogen.MissingDependencyError, match=r"ray://.*grpcio.*videogen-diffusers\[ray\]"):
        batch_ray.generate_many([{"model": "tiny-wan", "prompt": "a fox"}], tmp_path, ray="ray://head:10001")
