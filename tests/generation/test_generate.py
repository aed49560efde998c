"""generate(): callbacks, cancellation, seeds, metadata, the pipeline cache, threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import videogen
from videogen.loading.pipelines import CACHE

PROMPT = "a ferret"


def test_keywords_and_spec_give_the_same_video() -> None:
    spec = videogen.VideoSpec(model="tiny-wan", prompt=PROMPT, seed=5)
    a = videogen.generate(spec, progress=False)
    b = videogen.generate(model="tiny-wan", prompt=PROMPT, seed=5, progress=False)
    c = videogen.generate(spec, seed=6, progress=False)  # keywords override the spec
    assert (a.frames == b.frames).all()
    assert c.seed == 6 and (a.frames != c.frames).any()


def test_result_holds_the_complete_spec_and_metadata() -> None:
    result = videogen.generate(model="tiny-wan", prompt=PROMPT, progress=False)
    spec = result.spec
    assert spec.task == "t2v" and spec.height == 32 and spec.num_frames == 9 and spec.steps == 2
    assert isinstance(spec.seed, int) and result.seed == spec.seed  # drawn and recorded
    again = videogen.generate(spec, progress=False)  # the recorded seed reproduces the video
    assert (again.frames == result.frames).all()
    meta = result.metadata
    assert set(meta["versions"]) >= {"videogen", "diffusers", "torch"}
    assert meta["device"] == "cpu" and meta["model"]["pipeline"] == "WanPipeline"
    assert meta["model"]["revision"].startswith("tiny:")
    assert meta["timings"]["call_s"] > 0 and "peak_rss_bytes" in meta["memory"]
    assert meta["spec"]["seed"] == spec.seed
    # the exact call: what videogen passed to the pipeline, callbacks left out
    assert meta["call"]["prompt"] == PROMPT and meta["call"]["num_inference_steps"] == 2
    assert (meta["call"]["height"], meta["call"]["width"], meta["call"]["num_frames"]) == (32, 32, 9)
    assert "callback_on_step_end" not in meta["call"]


def test_on_step_runs_after_every_step() -> None:
    calls: list[tuple[int, int]] = []
    videogen.generate(
        model="tiny-wan", prompt=PROMPT, steps=3, seed=1, progress=False, on_step=lambda s, t: calls.append((s, t))
    )
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_on_step_returning_false_cancels_and_nothing_is_written(tmp_path) -> None:
    calls = []

    def stop_after_one(step: int, total: int) -> bool:
        calls.append(step)
        return step < 1

    with pytest.raises(videogen.Cancelled, match="after step 1 of 3"):
        videogen.generate(model="tiny-wan", prompt=PROMPT, steps=3, seed=1, progress=False, on_step=stop_after_one)
    assert calls == [1]
    assert list(tmp_path.iterdir()) == []
    # the cached pipeline still works afterwards
    assert videogen.generate(model="tiny-wan", prompt=PROMPT, seed=1, progress=False).num_frames == 9


def test_progress_bar_shows_by_default_and_is_silenced(capfd) -> None:
    videogen.generate(model="tiny-wan", prompt=PROMPT, seed=1, progress=False)
    assert "it/s" not in capfd.readouterr().err
    videogen.generate(model="tiny-wan", prompt=PROMPT, seed=1)
    assert "2/2" in capfd.readouterr().err


def test_cache_loads_once_for_many_calls_and_tasks() -> None:
    videogen.clear_cache()
    before = CACHE.loads
    for seed in range(4):
        videogen.generate(model="tiny-wan", prompt=PROMPT, seed=seed, progress=False)
    # video-to-video on the same weights reuses them (from_pipe), no second load
    video = np.zeros((9, 32, 32, 3), np.uint8)
    videogen.generate(model="tiny-wan", prompt=PROMPT, video=video, seed=1, progress=False)
    assert CACHE.loads - before == 1
    videogen.clear_cache()
    videogen.generate(model="tiny-wan", prompt=PROMPT, seed=1, progress=False)
    assert CACHE.loads - before == 2


def test_cache_is_bounded_least_recently_used() -> None:
    videogen.clear_cache()
    limit = CACHE.max_entries
    models = ["tiny-wan", "tiny-wan2.2", "tiny-wan2.2-ti2v"][: limit + 1]
    for model in models:
        videogen.generate(model=model, prompt=PROMPT, seed=1, progress=False)
    assert len(CACHE) == limit
    assert models[0] not in [key[0] for key in CACHE.keys()]


def test_threads_share_one_pipeline_and_get_the_videos_of_their_seeds() -> None:
    videogen.clear_cache()
    before = CACHE.loads
    serial = {s: videogen.generate(model="tiny-wan", prompt=PROMPT, seed=s, progress=False).frames for s in range(4)}
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda s: videogen.generate(model="tiny-wan", prompt=PROMPT, seed=s, progress=False), range(4))
        )
    for s, result in zip(range(4), results):
        assert (result.frames == serial[s]).all()
    assert CACHE.loads - before == 1


def test_different_models_run_side_by_side() -> None:
    """Calls on two cached models overlap in time (each model has its own lock)."""
    for model in ("tiny-wan", "tiny-wan2.2"):
        videogen.generate(model=model, prompt=PROMPT, seed=1, progress=False)
    inside = threading.Semaphore(0)
    both_inside = threading.Event()
    count = {"n": 0}
    lock = threading.Lock()

    def on_step(step: int, total: int) -> None:
        if step == 1:
            with lock:
                count["n"] += 1
                if count["n"] == 2:
                    both_inside.set()
            both_inside.wait(timeout=10)
        inside.release()

    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(videogen.generate, model=m, prompt=PROMPT, seed=1, progress=False, on_step=on_step)
            for m in ("tiny-wan", "tiny-wan2.2")
        ]
        for f in futures:
            f.result(timeout=60)
    assert both_inside.is_set()


def test_an_error_raised_by_on_step_reaches_the_caller_unchanged() -> None:
    def broken(step: int, total: int) -> None:
        raise ValueError("my callback broke")

    with pytest.raises(ValueError, match="my callback broke"):
        videogen.generate(
            model="tiny-wan", prompt=PROMPT, seed=1, progress=False, on_step=broken, extra={"max_sequence_length": 64}
        )
