"""`cache="dbcache"`: cache-dit's DBCache as an optional backend (the `[cachedit]` extra) on the families cache-dit
has adapters for (Wan incl. 2.2's two experts, LTX, CogVideoX, HunyuanVideo). Active (a counted reduction in the
blocks' linear calls), close to the uncached frames on the tiny models, nothing left behind; refusals before load."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from helpers import image

import videogen
from videogen.errors import MissingDependencyError, SpecError
from videogen.loading.pipelines import CACHE

pytest.importorskip("cache_dit")

STEPS = 10
#: one computed block in front, a residual threshold loose enough to reuse on random weights, 2 warm-up steps
DBCACHE = {"method": "dbcache", "Fn": 1, "Bn": 0, "threshold": 0.3, "warmup": 2}
#: the largest frame difference measured on the tiny models at 10 steps was 16 levels (Wan 2.2); headroom
BOUND = 24


def _fields(model: str) -> dict:
    return {"model": model, "prompt": "a ferret", "steps": STEPS, "seed": 3, "progress": False}


def _diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(int) - b.astype(int)).max())


@pytest.fixture(scope="module")
def hunyuan_two_blocks(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The tiny HunyuanVideo with two blocks in each of its block lists (the shipped one has one each, which
    DBCache can't split: cache-dit computes `Fn` blocks of every list)."""
    from diffusers import HunyuanVideoPipeline, HunyuanVideoTransformer3DModel

    pipe = HunyuanVideoPipeline.from_pretrained(videogen.testing.tiny_pipeline("hunyuanvideo"))
    config = {**pipe.transformer.config, "num_layers": 2, "num_single_layers": 2}
    pipe.transformer = HunyuanVideoTransformer3DModel.from_config(config)
    folder = tmp_path_factory.mktemp("hunyuan-2x2")
    pipe.save_pretrained(folder)
    card = videogen.testing.tiny_card("hunyuanvideo")  # a folder outside the catalog: its size is given
    return {"model": str(folder), "height": card.height, "width": card.width, "num_frames": card.num_frames}


@pytest.mark.parametrize("model", ["tiny-wan", "tiny-ltx", "tiny-cogvideox", "tiny-wan2.2", "hunyuan"])
def test_dbcache_skips_stays_close_and_leaves_nothing_behind(model: str, hunyuan_two_blocks: dict) -> None:
    fields = {**_fields(model), **hunyuan_two_blocks} if model == "hunyuan" else _fields(model)
    videogen.clear_cache()
    fresh = videogen.generate(**fields).frames
    loads = CACHE.loads
    result = videogen.generate(**fields, cache=DBCACHE)
    record = result.metadata["cache"]
    assert record["method"] == "dbcache" and record["settings"]["Fn"] == 1
    assert record["skipped"] > 0.04, record
    assert _diff(result.frames, fresh) <= BOUND
    assert np.array_equal(videogen.generate(**fields).frames, fresh), "dbcache left state behind"
    assert CACHE.loads == loads  # the same cached pipeline, cache-dit on and off around one call


def test_defaults_are_cache_dits_own_and_are_completed() -> None:
    prepared = videogen.prepare(model="tiny-wan", prompt="x", steps=20, cache="dbcache")
    assert prepared.spec.cache == {"method": "dbcache", "Fn": 8, "Bn": 0, "threshold": 0.08, "warmup": 8}


def test_combines_with_layerwise_casting() -> None:
    memory = videogen.MemoryPlan(layerwise_casting="float8_e4m3fn")
    plain = videogen.generate(**_fields("tiny-wan"), memory=memory).frames
    cached = videogen.generate(**_fields("tiny-wan"), memory=memory, cache=DBCACHE)
    assert cached.metadata["cache"]["skipped"] > 0
    assert np.array_equal(videogen.generate(**_fields("tiny-wan"), memory=memory).frames, plain)


def test_offload_is_refused_before_load() -> None:
    # cache-dit's patched forward and group offload's hooks: AttributeError deep in cache_adapter.py when tried
    with pytest.raises(SpecError, match="'dbcache' with offload") as err:
        videogen.prepare(
            model="tiny-wan", prompt="x", steps=20, cache=DBCACHE, memory=videogen.MemoryPlan(placement="group")
        )
    assert err.value.field == "cache" and "'taylorseer'" in str(err.value)


def test_too_few_blocks_for_fn_plus_bn_is_a_spec_error_naming_the_list() -> None:
    with pytest.raises(SpecError, match=r"Fn\+Bn=2 .*blocks has 2") as err:
        videogen.generate(**_fields("tiny-wan"), cache={**DBCACHE, "Fn": 2})
    assert err.value.field == "cache"
    # and the pipeline is clean afterwards
    videogen.clear_cache()
    fresh = videogen.generate(**_fields("tiny-wan")).frames
    with pytest.raises(SpecError):
        videogen.generate(**_fields("tiny-wan"), cache={**DBCACHE, "Fn": 2})
    assert np.array_equal(videogen.generate(**_fields("tiny-wan")).frames, fresh)


@pytest.mark.parametrize(
    ("model", "more", "words"),
    [
        ("tiny-framepack", {"image": image()}, ["framepack models don't take it", "'taylorseer'"]),
        ("tiny-svd", {"image": image(), "prompt": None}, ["svd models don't take it", "'deepcache'"]),
        ("tiny-wan", {"steps": 4}, ["warm-up (8 full steps) covers all 4 steps"]),
        ("tiny-wan", {"cache": {"method": "dbcache", "Fn": 0}}, ["Fn=0", "between 1"]),
        ("tiny-wan", {"cache": {"method": "dbcache", "Fm": 2}}, ["no knob 'Fm'", "Fn (first blocks"]),
    ],
)
def test_refusals_before_load(model: str, more: dict, words: list[str]) -> None:
    fields = {"model": model, "prompt": "x", "steps": 20, "cache": "dbcache", **more}
    loads = CACHE.loads
    with pytest.raises(SpecError) as err:
        videogen.prepare(**fields)
    assert err.value.field == "cache"
    for word in words:
        assert word in str(err.value)
    assert CACHE.loads == loads


def test_missing_extra_is_a_missing_dependency_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cache_dit" else real(name, *a))
    with pytest.raises(MissingDependencyError, match=r"videogen-diffusers\[cachedit\]"):
        videogen.prepare(model="tiny-wan", prompt="x", steps=20, cache="dbcache")


def test_compile_is_refused() -> None:
    with pytest.raises(SpecError, match="compiled denoiser"):
        videogen.prepare(
            model="tiny-wan", prompt="x", steps=20, cache="dbcache", memory=videogen.MemoryPlan(compile="regional")
        )


def test_not_in_auto() -> None:
    # 'auto' stays on diffusers' built-in hooks: an optional package never changes what 'auto' means
    assert videogen.prepare(model="tiny-wan", prompt="x", steps=20, cache="auto").spec.cache["method"] == "taylorseer"


def test_the_extra_is_declared() -> None:
    text = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert 'cachedit = ["cache-dit' in text


def test_other_caches_run_the_same_after_dbcache(hunyuan_two_blocks: dict) -> None:
    # cache-dit's disable_cache re-registers the block lists it wrapped at the end of the transformer's children
    # (HunyuanVideo's single-stream blocks then come first) and leaves attributes; First Block Cache takes the
    # first and last block in that order and crashed (TypeError in first_block_cache.py) until videogen restored it
    fields = {**_fields("tiny-hunyuanvideo"), **hunyuan_two_blocks}
    fbc = {"method": "fbc", "threshold": 0.3}
    before = videogen.generate(**fields, cache=fbc).frames
    transformer = next(e.base for k, e in CACHE._entries.items() if k[0] == hunyuan_two_blocks["model"]).transformer
    layout = [name for name, _ in transformer.named_children()]
    attributes = set(vars(transformer))
    videogen.generate(**fields, cache=DBCACHE)
    assert [name for name, _ in transformer.named_children()] == layout
    assert set(vars(transformer)) == attributes
    assert np.array_equal(videogen.generate(**fields, cache=fbc).frames, before)


def test_cache_dit_is_quiet_unless_asked(tmp_path: Path) -> None:
    # cache-dit logs every enable/disable on its own handlers, at the level read when it is first imported:
    # videogen sets it to errors unless the user did. A fresh process, so the import is videogen's.
    import subprocess
    import sys

    script = (
        "import videogen; videogen.generate(model='tiny-wan', prompt='a ferret', steps=10, seed=3, progress=False, "
        f"cache={DBCACHE!r})"
    )
    env = {k: v for k, v in os.environ.items() if k != "CACHE_DIT_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[Cache-DiT]" not in done.stdout + done.stderr
