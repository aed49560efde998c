"""videogen's own overhead on a CPU: import time, spec rejection in a fresh process (the rules, and the checks
against the pipeline's stored signature: extra, scheduler, LoRAs), warm generate() vs a direct diffusers call.

    python benchmarks/overhead.py [--model tiny-wan] [--repeats 20] [--fresh 7]

Prints a table and writes benchmarks/out/overhead.json. Fresh-process figures run from just before
`import videogen` to the SpecError; they include compiling videogen's modules when no bytecode cache is
written (PYTHONDONTWRITEBYTECODE=1), so the report says which.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def import_time() -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import videogen, sys; print('torch' in sys.modules, 'diffusers' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    total_us = 0
    for line in out.stderr.splitlines():
        if line.rstrip().endswith("| videogen"):
            total_us = int(line.split("|")[1])
    torch_loaded, diffusers_loaded = out.stdout.split()
    return {
        "import_videogen_ms": total_us / 1000,
        "torch_imported": torch_loaded == "True",
        "diffusers_imported": diffusers_loaded == "True",
    }


def rejection_time(repeats: int) -> dict:
    code = (
        "import time, videogen\nts=[]\n"
        f"for _ in range({repeats}):\n"
        "    t=time.perf_counter()\n"
        "    try: videogen.generate(model='wan2.1-t2v-14b', prompt='a', num_frames=80)\n"
        "    except videogen.SpecError: ts.append(time.perf_counter()-t)\n"
        "print(ts[0], sorted(ts)[len(ts)//2])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return {"bad_spec_first_ms": float(out[0]) * 1000, "bad_spec_median_ms": float(out[1]) * 1000}


#: spec errors timed in a fresh process: name → spec fields (on top of a 14B Wan model and a prompt)
FRESH_ERRORS = {
    "rule_num_frames": {"num_frames": 80},
    "extra_unknown_key": {"extra": {"nonsense": 1}},
    "scheduler_bad_name": {"scheduler": "UniPCMultistepSchedule"},
    "scheduler_unknown_argument": {"scheduler": {"name": "UniPCMultistepScheduler", "flow_shfit": 3.0}},
    "lora_bad_path": {"loras": "/nonexistent/x.safetensors"},
}
FRESH_CODE = """
import json, sys, time
t = time.perf_counter()
import videogen
try:
    videogen.generate(progress=False, **json.loads(sys.argv[1]))
except videogen.SpecError as e:
    print(json.dumps({"ms": (time.perf_counter() - t) * 1000, "field": e.field,
                      "heavy": [m for m in ("torch", "diffusers") if m in sys.modules]}))
"""


def fresh_rejections(repeats: int) -> dict:
    """Each FRESH_ERRORS spec in `repeats` fresh processes: ms from `import videogen` to the SpecError."""
    import videogen

    cached = (Path(videogen.__file__).parent / "__pycache__").is_dir()
    out: dict = {
        "bytecode_cache": "used (videogen/__pycache__)"
        if cached
        else "none: videogen's modules compiled in every process (PYTHONDONTWRITEBYTECODE)"
    }
    for name, fields in FRESH_ERRORS.items():
        spec = json.dumps({"model": "wan2.1-t2v-14b", "prompt": "a", **fields})
        runs = []
        for _ in range(repeats):
            line = (
                subprocess.run([sys.executable, "-c", FRESH_CODE, spec], capture_output=True, text=True, check=True)
                .stdout.strip()
                .splitlines()[-1]
            )
            runs.append(json.loads(line))
        assert all(not r["heavy"] for r in runs), f"{name}: imported {runs[0]['heavy']}"
        ms = sorted(r["ms"] for r in runs)
        out[f"fresh_{name}_min_ms"] = ms[0]
        out[f"fresh_{name}_median_ms"] = statistics.median(ms)
    return out


def generate_vs_direct(model: str, repeats: int) -> dict:
    import diffusers
    import torch

    import videogen
    from videogen.generation.flow import cache_key, prepare
    from videogen.loading.pipelines import CACHE, pipeline_class

    diffusers.utils.logging.disable_progress_bar()
    spec = videogen.VideoSpec(model=model, prompt="a white ferret", seed=1)
    warm = videogen.generate(spec, progress=False)  # built, loaded, cached
    done = warm.spec

    # the direct call runs on the very pipeline object videogen cached: only videogen's own work differs
    def not_cached() -> tuple:
        raise AssertionError(f"{model} is not in videogen's pipeline cache")

    prepared = prepare(spec)
    entry = CACHE.get(cache_key(prepared), not_cached)
    pipe = entry.pipeline(pipeline_class(prepared.class_name))
    pipe.set_progress_bar_config(disable=True)
    kwargs = dict(
        prompt=done.prompt,
        height=done.height,
        width=done.width,
        num_frames=done.num_frames,
        num_inference_steps=done.steps,
        guidance_scale=done.guidance_scale,
        output_type="np",
    )

    def direct() -> None:
        torch.manual_seed(1)
        pipe(**kwargs, generator=torch.Generator("cpu").manual_seed(1))

    def wrapped() -> None:
        videogen.generate(spec, progress=False)

    times: dict[str, list[float]] = {"direct": [], "videogen": []}
    pair = (("direct", direct), ("videogen", wrapped))
    for i in range(repeats):  # interleaved, each first in turn, so drift and order hit both alike
        for name, fn in pair if i % 2 == 0 else pair[::-1]:
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    d, v = statistics.median(times["direct"]), statistics.median(times["videogen"])
    # each pair ran back to back: the median of the differences is less hit by the machine's drift
    paired = statistics.median(b - a for a, b in zip(times["direct"], times["videogen"]))
    # videogen's own time, measured inside the same calls: generate() minus the pipeline's __call__ it makes
    # (robust to the machine's noise, which on a shared machine is larger than the overhead)
    cls, inner, outer = type(pipe), [], []
    original = cls.__call__

    def timed(self: Any, *a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        try:
            return original(self, *a, **k)
        finally:
            inner.append(time.perf_counter() - t)

    cls.__call__ = timed
    try:
        for _ in range(repeats):
            t = time.perf_counter()
            wrapped()
            outer.append(time.perf_counter() - t)
    finally:
        cls.__call__ = original
    own = statistics.median(o - i for o, i in zip(outer, inner))
    prep = []
    for _ in range(200):  # videogen's own work before the pipeline runs: resolve, rules, signature, plan
        t = time.perf_counter()
        prepare(spec)
        prep.append(time.perf_counter() - t)
    return {
        "model": model,
        "repeats": repeats,
        "direct_median_s": d,
        "videogen_median_s": v,
        "ratio": v / d,
        "overhead_ms": (v - d) * 1000,
        "paired_overhead_median_ms": paired * 1000,
        "direct_min_s": min(times["direct"]),
        "videogen_min_s": min(times["videogen"]),
        "videogen_own_median_ms": own * 1000,
        "videogen_own_share": own / d,
        "prepare_median_ms": statistics.median(prep) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny-wan")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--fresh", type=int, default=7, help="fresh processes per spec error")
    args = parser.parse_args()
    report = {
        "machine": f"{platform.machine()} {platform.processor() or ''} CPU ({os.cpu_count()} cores), "
        f"Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "command": " ".join(["python", *sys.argv]),
    }
    report.update(import_time())
    report.update(rejection_time(args.repeats))
    report.update(fresh_rejections(args.fresh))
    report.update(generate_vs_direct(args.model, args.repeats))
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "overhead.json").write_text(json.dumps(report, indent=2))
    for k, v in report.items():
        print(f"{k:44} {v:.4g}" if isinstance(v, float) else f"{k:44} {v}")


if __name__ == "__main__":
    main()
