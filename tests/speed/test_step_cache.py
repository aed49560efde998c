"""Step caches (`VideoSpec.cache`, docs/speed.md): every method each DiT family takes is active (a counted
reduction in the transformer blocks' linear calls), keeps frames within a stated bound of the uncached run,
and leaves nothing behind (`cache=None` afterwards equals a fresh load exactly); every refusal is a SpecError
before any weight loads. Random tiny weights: the bounds say the hook ran as configured, not how good it is."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import image

import videogen
from videogen.cli.command import build_parser, spec_fields
from videogen.errors import SpecError
from videogen.loading.pipelines import CACHE
from videogen.speed import settings as caching

STEPS = 10
#: settings aggressive enough to skip on random weights (the defaults are tuned for real models)
METHODS = {
    "fbc": {"method": "fbc", "threshold": 0.5},
    "taylorseer": {"method": "taylorseer", "interval": 3, "warmup": 2},
    "magcache": {"method": "magcache", "threshold": 0.5, "mag_ratios": [1.0] * STEPS},
    "pab": "pab",
    "fastercache": "fastercache",
}
#: the largest frame difference (8-bit levels) from the uncached run, per method: what was measured on the
#: tiny models at 10 steps (docs/speed.md has each family's value), with headroom for other CPUs' rounding
BOUND = {"fbc": 20, "taylorseer": 20, "magcache": 20, "pab": 4, "fastercache": 20}
MODELS = {
    "tiny-wan": {},
    "tiny-ltx": {},
    "tiny-cogvideox": {},
    "tiny-hunyuanvideo": {},
    "tiny-framepack": {"image": image()},
}


def _fields(model: str) -> dict:
    return {"model": model, "prompt": "a ferret", "steps": STEPS, "seed": 3, "progress": False, **MODELS[model]}


def _diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(int) - b.astype(int)).max())


@pytest.fixture(scope="module")
def fresh() -> dict[str, np.ndarray]:
    """Each model's uncached frames from a fresh load."""
    out = {}
    for model in MODELS:
        videogen.clear_cache()
        out[model] = videogen.generate(**_fields(model)).frames
    return out


@pytest.mark.parametrize("model", list(MODELS))
def test_every_method_skips_stays_close_and_leaves_nothing_behind(model: str, fresh: dict) -> None:
    loads = CACHE.loads
    for method, value in METHODS.items():
        result = videogen.generate(**_fields(model), cache=value)
        record = result.metadata["cache"]
        assert record["method"] == method
        assert record["skipped"] > 0.04, (method, record)  # a counted reduction in block computations
        assert _diff(result.frames, fresh[model]) <= BOUND[method], method
        assert result.spec.cache["method"] == method  # the returned spec records the completed setting
        plain = videogen.generate(**_fields(model), cache=None)
        assert plain.metadata["cache"] is None
        assert np.array_equal(plain.frames, fresh[model]), f"{method} left state behind"
    assert CACHE.loads - loads <= 1  # one cached pipeline switched between settings


def test_two_experts_both_get_the_hook() -> None:
    fields = {"model": "tiny-wan2.2", "prompt": "a ferret", "steps": 6, "seed": 1}
    result = videogen.generate(**fields, progress=False, cache={"method": "fbc", "threshold": 0.5})
    assert result.metadata["cache"]["denoisers"] == ["transformer", "transformer_2"]
    assert result.metadata["cache"]["skipped"] > 0
    with pytest.raises(SpecError, match="two experts") as err:
        videogen.prepare(**fields, cache={"method": "magcache", "mag_ratios": [1.0] * 6})
    assert err.value.field == "cache"


def test_defaults_are_completed_and_recorded() -> None:
    prepared = videogen.prepare(model="tiny-wan", prompt="x", steps=STEPS, cache="pab")
    assert prepared.spec.cache == {"method": "pab", "interval": 2, "timestep_range": [100, 800]}
    assert videogen.prepare(model="tiny-wan", prompt="x", cache="none").spec.cache is None
    given = videogen.prepare(model="tiny-wan", prompt="x", steps=STEPS, cache={"method": "fbc", "threshold": 0.2})
    assert given.spec.cache == {"method": "fbc", "threshold": 0.2}


def test_magcache_reads_stored_ratios_and_auto_prefers_it() -> None:
    fields = _fields("tiny-wan")
    fields.pop("progress")
    assert videogen.prepare(**fields, cache="auto").spec.cache["method"] == "taylorseer"  # nothing calibrated
    prepared = videogen.prepare(**fields)
    key = caching.magcache_key(prepared.spec, prepared.card, prepared.family)
    path = caching.save_ratios(key, [1.0] * STEPS, {"model": "tiny-wan"})
    try:
        assert caching.load_ratios(key) == [1.0] * STEPS
        auto = videogen.prepare(**fields, cache="auto").spec.cache
        assert auto["method"] == "magcache" and auto["mag_ratios"] == [1.0] * STEPS
        result = videogen.generate(**fields, progress=False, cache={"method": "magcache", "threshold": 0.5})
        assert result.metadata["cache"]["skipped"] > 0
    finally:
        path.unlink()


def test_auto_with_too_few_steps_runs_without_a_cache_and_says_why() -> None:
    """cache='auto' never fails: at 2 steps no method can skip anything (TaylorSeer's warm-up covers them, no
    MagCache ratios), so it runs without a cache and the metadata says why; a named method is still refused."""
    fields = {"model": "tiny-wan", "prompt": "a ferret", "steps": 2, "seed": 3}
    result = videogen.generate(**fields, cache="auto", progress=False)
    record = result.metadata["cache"]
    assert record["method"] is None and record["requested"] == "auto"
    assert "taylorseer: its warm-up (3 full steps) covers all 2 steps" in record["reason"]
    assert "magcache: it needs ratios calibrated" in record["reason"]
    assert result.spec.cache is None  # the returned (and replayed) spec runs without a cache
    assert np.array_equal(result.frames, videogen.generate(**fields, progress=False).frames)
    for named, message in (("taylorseer", "skip nothing"), ("magcache", "calibrate")):
        with pytest.raises(SpecError, match=message) as err:
            videogen.prepare(**fields, cache=named)
        assert err.value.field == "cache"


def test_auto_records_its_choice_and_what_it_passed_over() -> None:
    result = videogen.generate(model="tiny-wan", prompt="a ferret", steps=4, seed=3, cache="auto", progress=False)
    record = result.metadata["cache"]
    assert record["method"] == "taylorseer" and record["requested"] == "auto"
    assert list(record["passed_over"]) == ["magcache"]  # nothing calibrated
    assert result.spec.cache["method"] == "taylorseer"
    assert videogen.generate(model="tiny-wan", prompt="a", steps=2, progress=False).metadata["cache"] is None


def test_auto_with_a_plan_or_parallelism_that_rules_methods_out() -> None:
    fields = {"model": "tiny-wan", "prompt": "x", "steps": STEPS, "cache": "auto"}
    compiled = videogen.prepare(**fields, memory=videogen.MemoryPlan(compile="regional"))
    assert compiled.spec.cache is None
    assert "compiled denoiser" in compiled.notes["cache"]["reason"]
    prepared = videogen.prepare(model="tiny-wan", prompt="x", steps=STEPS)
    path = caching.save_ratios(caching.magcache_key(prepared.spec, prepared.card, prepared.family), [1.0] * STEPS)
    try:
        assert videogen.prepare(**fields).spec.cache["method"] == "magcache"
        split = videogen.prepare(**fields, parallel="ulysses=2")  # MagCache can't run split over GPUs
        assert split.spec.cache["method"] == "taylorseer"
        assert "split output" in split.notes["cache"]["passed_over"]["magcache"]
    finally:
        path.unlink()


def test_group_offload_and_layerwise_casting_combine() -> None:
    for memory in (videogen.MemoryPlan(placement="group"), videogen.MemoryPlan(layerwise_casting="float8_e4m3fn")):
        plain = videogen.generate(**_fields("tiny-wan"), memory=memory).frames
        cached = videogen.generate(**_fields("tiny-wan"), memory=memory, cache=METHODS["fbc"])
        assert cached.metadata["cache"]["skipped"] > 0
        assert np.array_equal(videogen.generate(**_fields("tiny-wan"), memory=memory).frames, plain)


def test_lora_combines() -> None:
    pytest.importorskip("peft")
    lora = [(str(videogen.testing.tiny_lora("wan")), 1.0)]
    plain = videogen.generate(**_fields("tiny-wan"), loras=lora).frames
    cached = videogen.generate(**_fields("tiny-wan"), loras=lora, cache=METHODS["taylorseer"])
    assert cached.metadata["cache"]["skipped"] > 0
    assert np.array_equal(videogen.generate(**_fields("tiny-wan"), loras=lora).frames, plain)


REFUSED = [
    ("tiny-wan", "fbcc", "did you mean 'fbc'"),
    ("tiny-wan", {"method": "fbc", "treshold": 0.1}, "did you mean 'threshold'"),
    ("tiny-wan", {"method": "fbc", "threshold": float("nan")}, "finite"),
    ("tiny-wan", {"method": "fbc", "threshold": 0}, "between"),
    ("tiny-wan", {"method": "fbc", "threshold": 2}, "between"),
    ("tiny-wan", {"method": "fbc", "threshold": True}, "finite number"),
    ("tiny-wan", {"method": "taylorseer", "interval": 1}, "between"),
    ("tiny-wan", {"method": "taylorseer", "interval": 2.5}, "whole number"),
    ("tiny-wan", {"method": "taylorseer", "warmup": 10}, "skip nothing"),
    ("tiny-wan", {"method": "pab", "timestep_range": [800, 100]}, "low < high"),
    ("tiny-wan", {"method": "magcache", "mag_ratios": [1.0, -1.0]}, "positive"),
    ("tiny-wan", {"method": "auto", "threshold": 0.1}, "no knobs"),
    ("tiny-wan", {"threshold": 0.1}, "no 'method'"),
    ("tiny-wan", "magcache", "calibrate"),
    ("tiny-svd", "fbc", "use 'deepcache'"),
    ("tiny-wan", "deepcache", "wan models don't take it"),
    ("tiny-framepack", "taylorseer", "windows"),
]


@pytest.mark.parametrize(("model", "cache", "message"), REFUSED)
def test_refused_before_loading(model: str, cache, message: str, monkeypatch) -> None:
    import videogen.loading.pipelines

    def no_load(*_a, **_k):
        raise AssertionError("weights loaded")

    monkeypatch.setattr(videogen.loading.pipelines, "load_pipeline", no_load)
    fields = {"model": model, "prompt": "a ferret", "steps": STEPS, "progress": False}
    if model == "tiny-svd":
        fields = {"model": model, "image": image(), "progress": False}
    if model == "tiny-framepack":
        fields.update(image=image(), num_frames=25)  # two windows
    with pytest.raises(SpecError, match=message) as err:
        videogen.generate(**fields, cache=cache)
    assert err.value.field == "cache"


def test_fastercache_without_guidance_is_refused_where_its_first_step_would_reuse_nothing(monkeypatch) -> None:
    """diffusers' FasterCache with no unconditional batch reuses attention on the first call inside its timestep
    range, before anything is cached (a TypeError mid-call, found by the edge property test): refused before
    load where the schedule starts inside the range; text-to-video's schedule starts above it and runs."""
    import videogen.loading.pipelines

    video = [np.full((32, 32, 3), 20 * i, np.uint8) for i in range(9)]
    fields = {"model": "tiny-cogvideox", "prompt": "a ferret", "guidance_scale": 1.0}
    real_load = videogen.loading.pipelines.load_pipeline

    def no_load(*_a, **_k):
        raise AssertionError("weights loaded")

    monkeypatch.setattr(videogen.loading.pipelines, "load_pipeline", no_load)
    for more in (
        {"video": video, "cache": "fastercache"},
        {"cache": {"method": "fastercache", "timestep_range": [-1, 1000]}},
    ):
        with pytest.raises(SpecError, match="before anything is cached") as err:
            videogen.generate(**fields, **more, progress=False)
        assert err.value.field == "cache"
    monkeypatch.setattr(videogen.loading.pipelines, "load_pipeline", real_load)
    result = videogen.generate(**fields, cache="fastercache", steps=STEPS, progress=False)
    assert result.metadata["cache"]["method"] == "fastercache" and result.metadata["cache"]["skipped"] > 0


def test_compile_and_bad_types_are_refused() -> None:
    with pytest.raises(SpecError, match="compiled") as err:
        videogen.prepare(model="tiny-wan", prompt="x", cache="pab", memory=videogen.MemoryPlan(compile="regional"))
    assert err.value.field == "cache"
    with pytest.raises(SpecError, match="method name"):
        videogen.VideoSpec(cache=5)


def test_cli_flag() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["generate", "-m", "tiny-wan", "-p", "x", "--cache", '{"method": "fbc", "threshold": 0.2}']
    )
    assert spec_fields(args)["cache"] == {"method": "fbc", "threshold": 0.2}
    args = parser.parse_args(["generate", "-m", "tiny-wan", "-p", "x", "--cache", "auto"])
    assert spec_fields(args)["cache"] == "auto"
