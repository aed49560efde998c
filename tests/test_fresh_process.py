"""Spec errors that need the pipeline's signature (extra, scheduler, LoRAs) come back in a fresh process without
importing torch or diffusers: the signatures are stored (configs/signatures.json), and every pure check runs
before the device and the memory planner are looked at."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: generous, for shared CI machines; on the 2-core machine these take 55-100 ms (docs/benchmarks.md)
LIMIT_S = 1.0

CODE = """
import json, sys, time
t = time.perf_counter()
import videogen
try:
    videogen.generate(progress=False, **json.loads(sys.argv[1]))
    out = {"error": None}
except videogen.SpecError as e:
    out = {"error": type(e).__name__, "field": e.field, "message": str(e)}
out["ms"] = (time.perf_counter() - t) * 1000
out["torch"] = "torch" in sys.modules
out["diffusers"] = "diffusers" in sys.modules
print(json.dumps(out))
"""

CASES = {
    "unknown extra key": ({"extra": {"nonsense": 1}}, "extra", "not a parameter of WanPipeline.__call__"),
    "extra of the wrong type": ({"extra": {"max_sequence_length": "long"}}, "extra", "does not fit WanPipeline"),
    "bad scheduler name": (
        {"scheduler": "UniPCMultistepSchedule"},
        "scheduler",
        "did you mean 'UniPCMultistepScheduler'",
    ),
    "unknown scheduler argument": (
        {"scheduler": {"name": "UniPCMultistepScheduler", "flow_shfit": 3.0}},
        "scheduler",
        "did you mean 'flow_shift'",
    ),
    "scheduler that can't drive the model": ({"scheduler": "DDIMScheduler"}, "scheduler", "flow-matching"),
    "bad LoRA path": ({"loras": "/nonexistent/x.safetensors"}, "loras", "no file or folder"),
}


def run_fresh(fields: dict) -> dict:
    spec = {"model": "wan2.1-t2v-14b", "prompt": "a ferret", **fields}
    out = subprocess.run([sys.executable, "-c", CODE, json.dumps(spec)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", list(CASES))
def test_signature_errors_come_fast_without_torch(case: str) -> None:
    fields, field, words = CASES[case]
    out = run_fresh(fields)
    print(f"\n{case}: {out['ms']:.1f} ms from `import videogen` to the SpecError")
    assert out["error"] == "SpecError", out
    assert out["field"] == field, out
    assert words in out["message"], out
    assert not out["torch"] and not out["diffusers"], out
    assert out["ms"] < LIMIT_S * 1000, out


def test_pure_checks_run_before_the_device_and_the_memory_planner() -> None:
    """A bad extra key with a memory plan only the planner could judge: the extra error comes first, and the
    planner (which imports torch) never ran."""
    out = run_fresh({"extra": {"nonsense": 1}, "memory": "low", "loras": "/nonexistent/x.safetensors"})
    assert out["field"] == "extra" and not out["torch"], out
