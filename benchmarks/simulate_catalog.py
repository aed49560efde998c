"""Simulated activation memory and estimated peaks for every catalog model at its default size (CPU only).

    python benchmarks/simulate_catalog.py [--models a,b] [--out benchmarks/out/simulated.json]

For each full-size card: the activations the opt-in simulation measures per component (the pipeline's
own call on fake full-size weights, memory/simulate.py) beside the per-kind formula `memory="auto"`
decides with (what `estimate.FORMULA_FIT` is fitted to), and the estimated peak GPU memory of the
lossless presets with simulated activations. Prints a markdown
table (docs/benchmarks.md) and writes the figures as JSON. No GPU, no weights, no network.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

GIB = 1024**3
PRESETS = ("none", "balanced", "low", "minimal")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated catalog names (default: every full-size card)")
    parser.add_argument("--out", default="benchmarks/out/simulated.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import videogen
    from videogen.generation.plan_report import prepare_for_plan
    from videogen.memory.auto import candidates, estimates
    from videogen.memory.context import context, shape_of
    from videogen.memory.estimate import estimate_plan
    from videogen.memory.simulate import simulate_plans, subject_of

    names = args.models.split(",") if args.models else [c.name for c in videogen.list_models(include_tiny=False)]
    rows = []
    for name in names:
        start = time.perf_counter()
        prepared = prepare_for_plan(None, {"model": name, "memory": "none"})
        ctx = context(prepared.card, prepared.class_name, "cuda")
        shape = shape_of(prepared.spec, ctx)
        sims = simulate_plans(subject_of(prepared), list(candidates(ctx, list(PRESETS))[0].values()))
        simulated, _ = estimates(ctx, prepared.card, shape, list(PRESETS), sims)
        formula = {p: estimate_plan(prepared.card, ctx.components, e.plan, shape, "cuda") for p, e in simulated.items()}
        none_sim, none_formula = simulated["none"], formula["none"]
        row = {
            "model": name,
            "size": f"{prepared.spec.width}x{prepared.spec.height}x{prepared.spec.num_frames}",
            "task": prepared.spec.task,
            "activations": {
                c.name: {
                    "simulated": c.activation_bytes if c.activation_source == "simulated" else None,
                    "formula": f.activation_bytes,
                }
                for c, f in zip(none_sim.components, none_formula.components)
            },
            "peaks": {p: e.peak_gpu_bytes for p, e in simulated.items()},
            "unknown": none_sim.unknown,
            "seconds": round(time.perf_counter() - start, 1),
        }
        rows.append(row)
        print(_line(row), flush=True)
        out = Path(args.out)  # after every model: a long run keeps what it has
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"versions": _versions(), "models": rows}, indent=1))
    print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


def _line(row: dict) -> str:
    def g(n: int | None) -> str:
        return "–" if n is None else f"{n / GIB:.2f}"

    acts = "; ".join(f"{k} {g(v['simulated'])} ({g(v['formula'])})" for k, v in row["activations"].items())
    peaks = " / ".join(g(row["peaks"][p]) for p in PRESETS)
    note = " — formulas: " + row["unknown"][0][:60] if row["unknown"] else ""
    return f"| {row['model']} | {row['size']} | {acts} | {peaks} | {row['seconds']} |{note}"


def _versions() -> dict[str, str]:
    from videogen.runtime.devices import versions

    return versions()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
