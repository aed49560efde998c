"""What a server embedding videogen needs (docs/embedding.md): `agenerate`, a cancel token honoured while
loading, between steps and between VAE decode chunks, the pipeline cache bounded by memory, LoRA adapters
unloaded when unused, `preload`."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import videogen
from videogen.loading.pipelines import CACHE, PipelineCache, cache_memory_bytes

SPEC: dict[str, Any] = {"model": "tiny-wan", "prompt": "a ferret", "seed": 3, "steps": 3, "progress": False}


def cached_pipe(model: str = "tiny-wan"):
    return next(CACHE.peek(k) for k in CACHE.keys() if k[0] == model).base


def test_agenerate_gives_generate_s_video_without_blocking_the_loop() -> None:
    direct = videogen.generate(**SPEC)
    ticks = []

    async def main() -> videogen.VideoResult:
        async def ticker() -> None:
            while True:
                ticks.append(1)
                await asyncio.sleep(0.001)

        beat = asyncio.create_task(ticker())
        result = await videogen.agenerate(**{**SPEC, "steps": 3})
        beat.cancel()
        return result

    result = asyncio.run(main())
    assert result.frames_sha256 == direct.frames_sha256
    assert len(ticks) > 1  # the loop ran while the thread generated


def test_cancelling_the_task_cancels_the_job_in_its_thread() -> None:
    videogen.preload(**SPEC)
    reached, steps, errors = threading.Event(), [], []

    def on_step(step: int, total: int) -> None:
        steps.append(step)
        reached.set()
        threading.Event().wait(0.2)  # a slow step: the task is cancelled during it

    async def main() -> None:
        task = asyncio.create_task(videogen.agenerate(**{**SPEC, "steps": 8}, on_step=on_step))
        await asyncio.get_running_loop().run_in_executor(None, reached.wait)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            errors.append("task cancelled")

    asyncio.run(main())
    assert errors == ["task cancelled"]
    done = list(steps)
    assert done and len(done) < 8  # stopped at the next checkpoint, not at the end
    threading.Event().wait(0.3)
    assert steps == done  # and the thread had stopped when the cancellation completed


def test_a_token_stops_between_steps_and_its_error_says_where() -> None:
    token = videogen.CancelToken()
    steps = []

    def on_step(step: int, total: int) -> None:
        steps.append(step)
        if step == 2:
            token.cancel()

    with pytest.raises(videogen.Cancelled, match="after step 2 of 5"):
        videogen.generate(**{**SPEC, "steps": 5}, on_step=on_step, cancel=token)
    assert steps == [1, 2] and token.cancelled
    event = threading.Event()  # a threading.Event is a token too
    event.set()
    with pytest.raises(videogen.Cancelled):
        videogen.generate(**SPEC, cancel=event)
    with pytest.raises(videogen.SpecError, match="is_set"):
        videogen.generate(**SPEC, cancel=True)


class SetAfter:
    """A flag that turns set after `n` checks (a cancel arriving at a chosen checkpoint)."""

    def __init__(self, n: int):
        self.n, self.checks = n, 0

    def is_set(self) -> bool:
        self.checks += 1
        return self.checks > self.n


def test_a_token_stops_a_load_between_components_and_nothing_is_cached() -> None:
    videogen.clear_cache()
    before = CACHE.loads
    with pytest.raises(videogen.Cancelled, match="before loading tiny-wan"):
        videogen.generate(**SPEC, cancel=SetAfter(0))
    with pytest.raises(videogen.Cancelled, match=r"while loading \(before \w+\)") as info:
        videogen.generate(**SPEC, cancel=SetAfter(3))  # before the load, then two components load
    assert len(CACHE) == 0 and CACHE.loads == before, info.value
    from diffusers.pipelines import pipeline_utils
    from diffusers.pipelines.pipeline_loading_utils import load_sub_model

    assert pipeline_utils.load_sub_model is load_sub_model  # diffusers' loader is its own again

    class Loaded:  # set once the pipeline is in the cache: the load is kept, the call doesn't start
        def is_set(self) -> bool:
            return len(CACHE) > 0

    with pytest.raises(videogen.Cancelled, match="after the load, before the call"):
        videogen.generate(**SPEC, cancel=Loaded())
    assert CACHE.loads == before + 1 and len(CACHE) == 1
    assert videogen.generate(**SPEC).metadata["timings"]["cached"] is True


def test_a_token_stops_the_vae_decode_between_chunks() -> None:
    videogen.preload(**SPEC)
    pipe = cached_pipe()
    token, chunks = videogen.CancelToken(), []

    def second_chunk_cancels(_module, _args) -> None:
        chunks.append(1)
        if len(chunks) == 2:
            token.cancel()

    handle = pipe.vae.decoder.register_forward_pre_hook(second_chunk_cancels)
    try:
        with pytest.raises(videogen.Cancelled, match="before VAE decode chunk 2"):
            videogen.generate(**SPEC, cancel=token)
    finally:
        handle.remove()
    assert len(chunks) == 2  # Wan decodes frame by frame: it stopped before the second
    assert not pipe.vae.decoder._forward_pre_hooks  # the check came off with the call


def test_the_cache_is_bounded_by_the_weights_it_holds(monkeypatch) -> None:
    freed = []
    monkeypatch.setattr("videogen.runtime.devices.free_memory", lambda: freed.append(1))
    cache = PipelineCache(max_entries=10, max_bytes=1000)
    for name, size in (("a", 600), ("b", 300)):
        cache.get(name, lambda: (object(), None), weight_bytes=size)
    assert cache.keys() == ["a", "b"] and cache.held_bytes() == 900
    cache.get("a", lambda: (object(), None))  # a hit: "a" is now the most recently used
    cache.get("c", lambda: (object(), None), weight_bytes=400)  # room is made before the load: "b" goes
    assert cache.keys() == ["a", "c"] and cache.held_bytes() == 1000
    cache.get("d", lambda: (object(), None), weight_bytes=2000)  # bigger than the budget: loaded, alone
    assert cache.keys() == ["d"] and cache.evictions == 3
    assert len(freed) == 2  # what the dropped entries held is freed before each load that needed the room
    counted = PipelineCache(max_entries=2, max_bytes=10**9)  # the count bound still holds
    for name in "xyz":
        counted.get(name, lambda: (object(), None), weight_bytes=1)
    assert counted.keys() == ["y", "z"]


def test_the_memory_bound_reads_the_environment_and_uses_the_planner_s_figures(monkeypatch) -> None:
    assert cache_memory_bytes("2") == cache_memory_bytes("2GiB") == 2 * 2**30
    assert 0 < cache_memory_bytes("10%") < cache_memory_bytes("20%")
    with pytest.raises(videogen.VideoGenError, match="VIDEOGEN_CACHE_MEMORY"):
        cache_memory_bytes("lots")
    videogen.clear_cache()
    first = videogen.preload(**SPEC)
    assert first["weight_bytes"] and CACHE.held_bytes() == first["weight_bytes"]
    # a budget of one tiny model: loading another evicts the first
    monkeypatch.setenv("VIDEOGEN_CACHE_MEMORY", f"{first['weight_bytes'] * 1.05 / 2**30:.9f}")
    videogen.preload(**{**SPEC, "model": "tiny-wan2.2-ti2v"})
    assert [k[0] for k in CACHE.keys()] == ["tiny-wan2.2-ti2v"]


def test_loras_are_unloaded_when_no_call_uses_them() -> None:
    pytest.importorskip("peft")
    lora = str(videogen.testing.tiny_lora("wan"))
    videogen.clear_cache()
    plain = videogen.generate(**SPEC)
    pipe = cached_pipe()

    def adapters() -> set[str]:
        return {name for names in pipe.get_list_adapters().values() for name in names}

    one = videogen.generate(**SPEC, loras=[videogen.LoRA(lora, 1.0, name="one")])
    assert adapters() == {"one"}
    two = videogen.generate(**SPEC, loras=[videogen.LoRA(lora, 1.0, name="two")])
    assert adapters() == {"two"}  # "one" unloaded, not kept disabled
    assert one.frames_sha256 == two.frames_sha256 != plain.frames_sha256
    again = videogen.generate(**SPEC)
    assert adapters() == set()
    assert again.frames_sha256 == plain.frames_sha256
    assert CACHE.loads and len([k for k in CACHE.keys() if k[0] == "tiny-wan"]) == 1  # never reloaded


def test_preload_loads_once_and_the_next_generate_finds_it(tmp_path: Path) -> None:
    videogen.clear_cache()
    before = CACHE.loads
    with pytest.raises(videogen.SpecError):
        videogen.preload(**{**SPEC, "steps": 0})
    assert CACHE.loads == before  # a bad spec loads nothing
    first = videogen.preload(**SPEC)
    assert first["loaded"] and first["load_s"] > 0 and first["model"] == "tiny-wan"
    assert videogen.preload(**SPEC)["loaded"] is False
    result = videogen.generate(**SPEC)
    assert result.metadata["timings"]["cached"] is True and CACHE.loads == before + 1
    assert np.asarray(result.frames).shape[0] > 0


def test_the_fastapi_app_of_docs_embedding_runs_and_cancels(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("fastapi")
    text = (Path(__file__).resolve().parents[2] / "docs" / "embedding.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0].replace("wan2.1-t2v-1.3b", "tiny-wan")
    assert "agenerate" in code and len(code.splitlines()) <= 60
    monkeypatch.chdir(tmp_path)
    ns: dict[str, Any] = {}
    exec(compile(code, "docs/embedding.md", "exec"), ns)

    async def main() -> tuple[Any, Any, Any]:
        async with ns["warm_up"](ns["app"]):
            done = (await ns["create"](prompt="a ferret"))["id"]
            while isinstance(answer := await ns["fetch"](done), dict):
                assert answer["status"] == "running"
                await asyncio.sleep(0.02)
            stopped = (await ns["create"](prompt="a heron"))["id"]
            task = ns["jobs"][stopped]
            await asyncio.sleep(0)
            deleted = await ns["cancel"](stopped)
            with pytest.raises(asyncio.CancelledError):
                await task
            return answer, deleted, task

    response, deleted, task = asyncio.run(main())
    assert Path(response.path).is_file() and response.media_type == "video/mp4"
    assert deleted["deleted"] is True and task.cancelled()
    video = Path(response.path).name  # the cancelled job wrote nothing: only the first video and its sidecar
    assert sorted(p.name for p in tmp_path.iterdir()) == [video, video + ".json"]
