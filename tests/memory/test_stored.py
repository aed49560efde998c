"""The stored planning data (configs/planning.json, memory/stored.py) is what the installed libraries say, every
catalog model's plan from it is the plan read live from the classes, and planning a catalog model in a fresh
process on a machine without a GPU imports neither torch nor diffusers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import videogen
from videogen.memory import stored
from videogen.memory.activations import live_defaults
from videogen.memory.components import live_annotated_components, live_batches_guidance, probe_capabilities
from videogen.memory.estimate import counted_stats
from videogen.memory.regenerate import dumps, generate
from videogen.runtime.devices import gpu_driver_files

MODELS = [c.name for c in videogen.list_models(include_tiny=False)]
HINT = f"the installed libraries or a configs/<arch>.json changed: regenerate with `{stored.REGENERATE}`"


def test_stored_planning_data_matches_the_installed_libraries() -> None:
    fresh_text = dumps(generate())
    fresh = json.loads(fresh_text)
    text = stored.FILE.read_text(encoding="utf-8")
    saved = json.loads(text)
    assert saved["versions"] == fresh["versions"], HINT
    for section in ("stats", "classes", "pipelines"):
        assert sorted(saved[section]) == sorted(fresh[section]), f"{section}: {HINT}"
        for name, entry in fresh[section].items():
            assert saved[section][name] == entry, f"{section} {name}: {HINT}"
    assert text == fresh_text, f"formatting: {HINT}"


def test_the_stored_data_is_used_here() -> None:
    assert stored.data() is not None, HINT  # else the comparison below compares the live path with itself


@pytest.mark.parametrize("gpu", [None, "24"])
@pytest.mark.parametrize("model", MODELS)
def test_a_plan_from_stored_data_is_the_live_one(model: str, gpu: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEOGEN_ASSUME_RAM_GIB", "64")
    monkeypatch.setenv("VIDEOGEN_DEVICE", "cpu")
    if gpu is None:
        monkeypatch.delenv("VIDEOGEN_ASSUME_GPU_GIB", raising=False)
    else:
        monkeypatch.setenv("VIDEOGEN_ASSUME_GPU_GIB", gpu)
    before = _live_calls()
    from_stored = videogen.plan(model=model)
    assert _live_calls() == before, "a catalog model's plan read a class live"
    with monkeypatch.context() as m:
        m.setattr(stored, "sources", lambda: [])  # every lookup misses: the classes are read live
        live = videogen.plan(model=model)
    called = [after > was for after, was in zip(_live_calls(), before)]
    assert all(called[:4]), f"the live path was not taken: {called}"  # (guidance may not be asked: scale 1)
    assert str(from_stored) == str(live)
    assert from_stored == live


def _live_calls() -> tuple[int, ...]:
    """How often each live reader was called (its cache's hits + misses)."""
    readers = (counted_stats, probe_capabilities, live_defaults, live_annotated_components, live_batches_guidance)
    return tuple(f.cache_info().hits + f.cache_info().misses for f in readers)


CODE = """
import json, sys, time
t = time.perf_counter()
import videogen
report = videogen.plan(model="wan2.1-t2v-14b")
print(json.dumps({"s": time.perf_counter() - t, "plan": report.plan.name,
                  "loaded": [m for m in ("torch", "diffusers", "transformers") if m in sys.modules]}))
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or gpu_driver_files(), reason="a GPU may be here: pick_device asks torch"
)
def test_planning_a_catalog_model_imports_no_torch_on_a_machine_without_a_gpu() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOGEN_")}
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True, env=env)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\nvideogen.plan cold, from `import videogen`: {result['s']:.2f} s")
    assert result["loaded"] == [], result


def test_pick_device_asks_torch_only_where_a_gpu_may_be(monkeypatch: pytest.MonkeyPatch) -> None:
    from videogen.runtime import devices as runtime

    monkeypatch.delenv("VIDEOGEN_DEVICE", raising=False)
    monkeypatch.setattr(runtime, "gpu_evident", lambda: False)
    assert runtime.pick_device() == "cpu"
    monkeypatch.setenv("VIDEOGEN_DEVICE", "cuda:1")
    assert runtime.pick_device() == "cuda:1"
    import torch  # noqa: F401 - once torch is imported, asking it is cheap

    monkeypatch.undo()
    assert runtime.gpu_evident() is True


BUMPED = """
import json, sys, time
t = time.perf_counter()
from videogen.memory import stored
installed = stored.installed_versions()
stored.installed_versions = lambda: {**installed, "transformers": "99.0.0"}  # a release after the stored data
import videogen
report = videogen.plan(model="hunyuanvideo")
print(json.dumps({"s": time.perf_counter() - t, "text": str(report), "file": str(stored.learned_file()),
                  "loaded": [m for m in ("torch", "diffusers", "transformers") if m in sys.modules]}))
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or gpu_driver_files(), reason="a GPU may be here: pick_device asks torch"
)
def test_planning_heals_itself_after_a_library_release(tmp_path: Path) -> None:
    """On versions the packaged data isn't for, the first plan reads the classes live and saves what it read in
    the user cache; the next process plans from that, without torch, in well under a second: the same report."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOGEN_")}
    env.update(VIDEOGEN_CACHE=str(tmp_path / "cache"), VIDEOGEN_ASSUME_RAM_GIB="64")
    packaged = stored.FILE.stat().st_mtime_ns

    def run() -> dict:
        out = subprocess.run([sys.executable, "-c", BUMPED], capture_output=True, text=True, check=True, env=env)
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))

    first, second = run(), run()
    print(f"\nafter a simulated release: first plan {first['s']:.2f} s (live), second {second['s']:.2f} s")
    assert "torch" in first["loaded"], "the first plan should read the classes live"
    assert Path(first["file"]).is_relative_to(tmp_path / "cache") and Path(first["file"]).is_file()
    assert "transformers99.0.0" in Path(first["file"]).name
    assert second["loaded"] == [], "the second process should plan from the user cache"
    assert second["s"] < 1.0
    assert second["text"] == first["text"]
    assert stored.FILE.stat().st_mtime_ns == packaged, "the installed package is never written"


def test_an_unreadable_or_foreign_planning_cache_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEOGEN_CACHE", str(tmp_path))
    file = stored.learned_file()
    file.parent.mkdir(parents=True)
    for text in ("{not json", json.dumps({"versions": {"torch": "0.1"}, "stats": {"x": None}}), "[]"):
        file.write_text(text, encoding="utf-8")
        assert stored._read_learned(file) is None
    good = {"versions": stored.installed_versions(), "stats": {"k": {"params": 1}}, "classes": {}, "pipelines": {}}
    file.write_text(json.dumps(good), encoding="utf-8")
    assert stored._read_learned(file) == good


def test_what_is_read_live_is_saved_and_merged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEOGEN_CACHE", str(tmp_path))
    stored._learned_source.cache_clear()
    monkeypatch.setattr(stored, "_dirty", False)
    try:
        stored.save_learned()
        assert not stored.learned_file().exists(), "nothing read live: nothing written"
        stored.remember("pipelines", "SomePipeline", True, "batches_guidance")
        stored.save_learned()
        stored._learned_source.cache_clear()
        assert stored.pipeline_field("SomePipeline", "batches_guidance") is True
        on_disk = json.loads(stored.learned_file().read_text(encoding="utf-8"))
        on_disk["stats"]["other-process"] = None  # another process saved meanwhile: kept
        stored.learned_file().write_text(json.dumps(on_disk), encoding="utf-8")
        stored.remember("classes", "SomeModel", {"tiling": True}, "capabilities", "diffusers")
        stored.save_learned()
        merged = json.loads(stored.learned_file().read_text(encoding="utf-8"))
        assert "other-process" in merged["stats"] and merged["classes"]["SomeModel"]["library"] == "diffusers"
    finally:
        stored._learned_source.cache_clear()
