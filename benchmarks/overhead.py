"""videogen's own overhead on a CPU: import time, warm generate() vs a direct diffusers call, spec rejection.

    python benchmarks/overhead.py [--model tiny-wan] [--repeats 10]

Prints a table and writes benchmarks/out/overhead.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path


def import_time() -> dict:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import videogen, sys; "
                          "print('torch' in sys.modules, 'diffusers' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    total_us = 0
    for line in out.stderr.splitlines():
        if line.rstrip().endswith("| videogen"):
            total_us = int(line.split("|")[1])
    torch_loaded, diffusers_loaded = out.stdout.split()
    return {"import_videogen_ms": total_us / 1000, "torch_imported": torch_loaded == "True",
            "diffusers_imported": diffusers_loaded == "True"}


def rejection_time(repeats: int) -> dict:
    code = ("import time, videogen\nts=[]\n"
            f"for _ in range({repeats}):\n"
            "    t=time.perf_counter()\n"
            "    try: videogen.generate(model='wan2.1-t2v-14b', prompt='a', num_frames=80)\n"
            "    except videogen.SpecError: ts.append(time.perf_counter()-t)\n"
            "print(ts[0], sorted(ts)[len(ts)//2])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return {"bad_spec_first_ms": float(out[0]) * 1000, "bad_spec_median_ms": float(out[1]) * 1000}


def generate_vs_direct(model: str, repeats: int) -> dict:
    import diffusers
    import torch

    import videogen
    from videogen.catalog import resolve
    from videogen.testing import tiny_folder

    diffusers.utils.logging.disable_progress_bar()
    card = resolve(model)
    spec = videogen.VideoSpec(model=model, prompt="a white ferret", seed=1)
    warm = videogen.generate(spec, progress=False)  # built, loaded, cached
    done = warm.spec
    pipe = getattr(diffusers, warm.metadata["model"]["pipeline"]).from_pretrained(tiny_folder(card.family, card.tiny))
    pipe.set_progress_bar_config(disable=True)
    kwargs = dict(prompt=done.prompt, height=done.height, width=done.width, num_frames=done.num_frames,
                  num_inference_steps=done.steps, guidance_scale=done.guidance_scale, output_type="np")

    def direct() -> None:
        torch.manual_seed(1)
        pipe(**kwargs, generator=torch.Generator("cpu").manual_seed(1))

    def wrapped() -> None:
        videogen.generate(spec, progress=False)

    times: dict[str, list[float]] = {"direct": [], "videogen": []}
    for _ in range(repeats):  # interleaved, so drift hits both alike
        for name, fn in (("direct", direct), ("videogen", wrapped)):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    d, v = statistics.median(times["direct"]), statistics.median(times["videogen"])
    return {"model": model, "repeats": repeats, "direct_median_s": d, "videogen_median_s": v,
            "ratio": v / d, "overhead_ms": (v - d) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny-wan")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    report = {"machine": f"{platform.machine()} {platform.processor() or ''} CPU, {platform.python_version()}",
              "date": time.strftime("%Y-%m-%d")}
    report.update(import_time())
    report.update(rejection_time(args.repeats))
    report.update(generate_vs_direct(args.model, args.repeats))
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "overhead.json").write_text(json.dumps(report, indent=2))
    for k, v in report.items():
        print(f"{k:24} {v:.4g}" if isinstance(v, float) else f"{k:24} {v}")


if __name__ == "__main__":
    main()
