"""Out-of-memory recovery, simulated on a CPU: the pipeline call raises torch.OutOfMemoryError once."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import torch
from helpers import in_place
from memtools import cached_pipeline, fields_for, plain_frames

import videogen
import videogen.generation.flow as gen
from videogen.catalog.lookup import resolve
from videogen.memory import preset

CARD = resolve("tiny-wan")


def flaky_call(monkeypatch: pytest.MonkeyPatch, failures: int = 1, error: Exception | None = None) -> list[Any]:
    calls: list[Any] = []
    real = gen._call

    def call(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        if len(calls) <= failures:
            raise error or torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real(*args, **kwargs)

    monkeypatch.setattr(gen, "_call", call)
    return calls


def test_auto_retries_once_with_the_next_plan_and_records_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    base = plain_frames(CARD)
    calls = flaky_call(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="videogen"):
        result = videogen.generate(**fields_for(CARD))  # memory="auto"
    assert len(calls) == 2
    plan = result.metadata["memory_plan"]
    assert plan["name"] == "low"  # balanced (model offload) needs a GPU: the next plan that runs here
    assert any("retried after out of memory under 'none'" in note for note in plan["notes"])
    assert "retrying once with low" in caplog.text
    assert in_place(cached_pipeline(CARD))["transformer"]["group_offload"]
    assert (result.frames == base).all()


def test_a_preset_retries_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = flaky_call(monkeypatch)
    with pytest.raises(torch.OutOfMemoryError):
        videogen.generate(**fields_for(CARD, memory="none"))
    assert len(calls) == 1
    calls = flaky_call(monkeypatch)
    result = videogen.generate(**fields_for(CARD, memory=preset("none", oom_retry=True)))
    assert len(calls) == 2 and result.metadata["memory_plan"]["name"] == "low"


def test_the_runtime_error_of_an_mps_out_of_memory_is_retried_too(monkeypatch: pytest.MonkeyPatch) -> None:
    mps = RuntimeError(
        "MPS backend out of memory (MPS allocated: 20.48 GiB, other allocations: 1.00 GiB, max allowed: 20.40 GiB). "
        "Tried to allocate 1.00 GiB on private pool."
    )
    calls = flaky_call(monkeypatch, error=mps)
    result = videogen.generate(**fields_for(CARD))
    assert len(calls) == 2 and result.metadata["memory_plan"]["name"] == "low"


def test_only_one_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = flaky_call(monkeypatch, failures=2)
    with pytest.raises(torch.OutOfMemoryError):
        videogen.generate(**fields_for(CARD))
    assert len(calls) == 2


def test_other_errors_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("something else")

    monkeypatch.setattr(gen, "_call", broken)
    with pytest.raises(RuntimeError, match="something else"):
        videogen.generate(**fields_for(CARD))


def test_the_cli_writes_nothing_when_the_retry_fails_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from videogen.cli.command import main

    flaky_call(monkeypatch, failures=2)
    out = tmp_path / "out.mp4"
    with pytest.raises(torch.OutOfMemoryError):
        main(["generate", "--model", "tiny-wan", "--prompt", "a cat", "--seed", "1", "-q", "-o", str(out)])
    assert not out.exists() and not list(tmp_path.iterdir())


def test_the_next_plan_is_a_pure_function_of_the_plan_and_the_context() -> None:
    """memory.oom only says which plan comes next; freeing and retrying is generation's."""
    from videogen.memory.context import context
    from videogen.memory.oom import retry_plan

    ctx = context(CARD, "WanPipeline", "cpu")
    oom = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
    auto = preset("none", oom_retry=True)
    retry = retry_plan(oom, auto, ctx)
    assert retry is not None and retry.name == "low" and not retry.oom_retry  # balanced: GPU only; one retry
    assert retry.notes[-1] == f"retried after out of memory under 'none': {oom}"
    assert retry_plan(oom, preset("none"), ctx) is None  # not asked to retry
    assert retry_plan(RuntimeError("other"), auto, ctx) is None
    assert retry_plan(oom, preset("minimal", oom_retry=True), ctx) is None  # nothing more frugal
