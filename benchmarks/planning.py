"""How long `memory="auto"` takes to decide, cold, for every catalog model at its default size (CPU only).

    python benchmarks/planning.py [--models a,b] [--gpus 24,80] [--ram-gib 64] [--out benchmarks/out/planning.json]

For each full-size card and each GPU size, a fresh Python process (nothing of videogen's cached) imports
videogen and times the first `prepare(spec, memory="auto")`: resolve, validate, the plan checks, each
component's counts and each class's capabilities and defaults from the stored planning data
(configs/planning.json, memory/stored.py), every ladder preset estimated with the fitted activation formulas,
the choice; and says whether torch, diffusers or transformers got imported on the way (they should not: the
stored data stands in for the classes). The GPU and the free RAM are told to the planner with
`VIDEOGEN_ASSUME_GPU_GIB` / `VIDEOGEN_ASSUME_RAM_GIB` (for tests and benchmarks only), so the table is the
same on any machine. Prints a markdown table (docs/benchmarks.md) and writes the figures as JSON.
No GPU, no weights, no network.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated catalog names (default: every full-size card)")
    parser.add_argument("--gpus", default="24,80", help="GPU sizes in GiB to plan for (default 24,80)")
    parser.add_argument(
        "--ram-gib",
        type=float,
        default=64.0,
        help="free RAM to plan with, in GiB (default 64: offloaded weights must fit 90 %% of it)",
    )
    parser.add_argument("--out", default="benchmarks/out/planning.json")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "GPU_GIB"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child[0])))
        return 0

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import videogen

    names = args.models.split(",") if args.models else [c.name for c in videogen.list_models(include_tiny=False)]
    gpus = [g.strip() for g in args.gpus.split(",")]
    rows = []
    print(
        f"| model | size (w×h×frames) | {' | '.join(f'{g} GB: choice' for g in gpus)} | "
        f"{' | '.join(f'{g} GB: s' for g in gpus)} | import videogen s | torch/diffusers imported |"
    )
    print("|---|---|" + "---|" * (2 * len(gpus) + 2))
    for name in names:
        runs = {}
        for gpu in gpus:
            env = dict(
                os.environ,
                VIDEOGEN_ASSUME_GPU_GIB=gpu,
                VIDEOGEN_ASSUME_RAM_GIB=str(args.ram_gib),
                OMP_NUM_THREADS="1",
                PYTHONWARNINGS="ignore",
            )
            out = subprocess.run(
                [sys.executable, __file__, "--child", name, gpu], env=env, capture_output=True, text=True
            )
            if out.returncode:
                raise SystemExit(f"{name} at {gpu} GB failed:\n{out.stderr[-3000:]}")
            runs[gpu] = json.loads(out.stdout.strip().splitlines()[-1])
        row = {"model": name, "size": runs[gpus[0]]["size"], "ram_gib": args.ram_gib, "gpus": runs}
        rows.append(row)
        choices = " | ".join(runs[g]["choice"] for g in gpus)
        seconds = " | ".join(f"{runs[g]['seconds']:.2f}" for g in gpus)
        imports = " / ".join(f"{runs[g]['import_s']:.2f}" for g in gpus)
        loaded = ", ".join(sorted({m for g in gpus for m in runs[g]["loaded"]})) or "no"
        print(f"| {name} | {row['size']} | {choices} | {seconds} | {imports} | {loaded} |", flush=True)
        out_path = Path(args.out)  # after every model: a long run keeps what it has
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps({"versions": _versions(), "models": rows}, indent=1))
    slowest = max((r["gpus"][g]["seconds"], r["model"], g) for r in rows for g in gpus)
    print(
        f"\nslowest cold decision: {slowest[0]:.2f} s ({slowest[1]}, {slowest[2]} GB); wrote {args.out}",
        file=sys.stderr,
    )
    return 0


def _child(name: str) -> dict:
    """In a fresh process: `import videogen`, then the first (cold) and a second (warm) `prepare(memory="auto")`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    from videogen.generation.plan_report import prepare_for_plan

    imports = time.perf_counter() - start
    start = time.perf_counter()
    prepared = prepare_for_plan(None, {"model": name, "memory": "auto"})
    cold = time.perf_counter() - start
    start = time.perf_counter()
    prepare_for_plan(None, {"model": name, "memory": "auto"})
    warm = time.perf_counter() - start
    spec = prepared.spec
    return {
        "size": f"{spec.width}x{spec.height}x{spec.num_frames}",
        "choice": prepared.plan.name,
        "seconds": round(cold, 3),
        "warm_s": round(warm, 4),
        "import_s": round(imports, 3),
        "loaded": [m for m in ("torch", "diffusers", "transformers") if m in sys.modules],
        "reason": next((n for n in prepared.plan.notes if n.startswith("chosen by auto")), ""),
    }


def _versions() -> dict[str, str]:
    from videogen.runtime.devices import versions

    return versions()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
