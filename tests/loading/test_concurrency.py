"""Loads of different models at the same time (issue: accelerate patches torch process-wide while loading)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

#: models whose loads overlap: different families, classes imported for the first time in the process
MODELS = ("tiny-wan", "tiny-cogvideox", "tiny-ltx", "tiny-modelscope")

SCRIPT = textwrap.dedent("""
    import hashlib, json, sys, threading
    import videogen
    from videogen.loading.pipelines import CACHE

    models, threads_per_model = sys.argv[1].split(","), int(sys.argv[2])
    kwargs = dict(prompt="a fox", seed=7, steps=2, progress=False)
    for m in models:  # the tiny folders exist before the race (building them is not what is raced)
        videogen.testing.tiny_pipeline(videogen.resolve(m).family, videogen.resolve(m).tiny)

    barrier = threading.Barrier(len(models) * threads_per_model)
    results, errors = {}, []

    def work(model, i):
        try:
            barrier.wait()
            r = videogen.generate(model=model, **kwargs)
            results[f"{model}#{i}"] = hashlib.sha256(r.frames.tobytes()).hexdigest()
        except BaseException as exc:
            errors.append(f"{model}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=work, args=(m, i)) for m in models for i in range(threads_per_model)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    loads = CACHE.loads
    import torch
    device_after = str(torch.nn.Linear(2, 2).weight.device)
    videogen.clear_cache()
    sequential = {m: hashlib.sha256(videogen.generate(model=m, **kwargs).frames.tobytes()).hexdigest()
                  for m in models}
    print(json.dumps({"results": results, "errors": errors, "loads": loads, "device_after": device_after,
                      "sequential": sequential}))
""")


def run_race(models: tuple[str, ...], threads_per_model: int) -> dict:
    env = {**os.environ, "VIDEOGEN_CACHE_SIZE": str(len(models))}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, ",".join(models), str(threads_per_model)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_models_loading_at_once_in_a_fresh_process_equal_sequential_runs() -> None:
    """N threads × M models on a cold cache in a fresh process (first imports race too): every call
    succeeds, each model loads once, frames equal sequential runs, and torch still builds real modules."""
    report = run_race(MODELS, threads_per_model=2)
    assert report["errors"] == []
    assert report["device_after"] == "cpu"
    assert report["loads"] == len(MODELS)
    for key, digest in report["results"].items():
        assert digest == report["sequential"][key.split("#")[0]], key
    assert len(report["results"]) == 2 * len(MODELS)
