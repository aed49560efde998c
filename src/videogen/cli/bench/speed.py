"""`videogen bench speed`: seconds per step and total time of the direct diffusers call and of each step cache.

One run, one loaded pipeline: (1) the direct diffusers call (`pipe(**kwargs)` with the arguments videogen
builds, no videogen hooks) and (2) `videogen.generate` with `cache=None` and with each step-cache method the
family takes (`Family.cache_methods`), side by side: a warm-up call first, then `--repeats` rounds, the order
reversed every other round. Each row carries the share of block computations skipped
(`result.metadata["cache"]["skipped"]`). A method the spec refuses is a row with `not_run` and the reason;
MagCache without stored ratios is calibrated first (`videogen.calibrate`, one extra call; `--no-calibrate` keeps
the refusal). Further rows: `--variant JSON` (a cache setting with knobs, e.g. '{"method": "fbc", "threshold":
0.3}'), `--attention a,b` (memory plans with that attention backend), `--compile` (regional compile) and
`--memory PLAN` (a preset such as `fast`, or a JSON plan).

On a CPU the default model is a mid-size random-weight Wan (8 layers, dim 256 = 2 heads × 128, ffn 1024; the
tiny Wan's other components), built once with `save_pretrained` under `$VIDEOGEN_CACHE/bench/` and loaded as a
local folder: big enough that compute, not overhead, sets the time, so the ratios mean something. Random
weights say nothing about quality. `--small` runs the tiny Wan (tests the harness).
Output: a table on stdout, `bench-speed.json` and, when matplotlib is installed, `bench-speed.png`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from .output import aligned, pyplot, write_report

PROMPT = "a white ferret leaps into a mountain stream"
#: the mid-size transformers (dim 256 = 2 heads × 128, 8 blocks): what makes the CPU ratios compute-bound
#: (at tiny sizes the call is overhead-bound: docs/benchmarks.md, Speed); each family's tiny pipeline with its
#: transformer rebuilt at this size
MID: dict[str, dict[str, Any]] = {
    "wan": {"num_layers": 8, "num_attention_heads": 2, "attention_head_dim": 128, "ffn_dim": 1024},
    # the caption projection maps to the inner dim, which cross-attention then reads
    "ltx": {"num_layers": 8, "num_attention_heads": 2, "attention_head_dim": 128, "cross_attention_dim": 256},
    # CogVideoX 1.0's positional embedding is made for one size: the benchmark's (128×128 → 16×16 latents)
    "cogvideox": {
        "num_layers": 8,
        "num_attention_heads": 2,
        "attention_head_dim": 128,
        "sample_height": 16,
        "sample_width": 16,
        "sample_frames": 17,
    },
    # 4 dual-stream + 4 single-stream blocks; the rotary axes split the head dim (16 + 56 + 56 = 128)
    "hunyuanvideo": {
        "num_layers": 4,
        "num_single_layers": 4,
        "num_attention_heads": 2,
        "attention_head_dim": 128,
        "rope_axes_dim": [16, 56, 56],
    },
}
# FramePack has none: its model is three Hub repos (a HunyuanVideo base, a FramePack transformer, an image encoder)
# and its transformer is HunyuanVideo's blocks, which the hunyuanvideo row measures
MID_WAN = MID["wan"]
MID_SIZE = {"height": 128, "width": 128, "num_frames": 17, "steps": 12}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videogen bench speed", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        default=None,
        help="model (catalog name or folder); default: the mid-size Wan (tiny-wan with --small)",
    )
    parser.add_argument("--methods", default=None, help="comma-separated cache methods (default: all the family takes)")
    parser.add_argument("--steps", type=int, default=None, help=f"denoising steps (default {MID_SIZE['steps']})")
    parser.add_argument("--height", type=int)
    parser.add_argument("--width", type=int)
    parser.add_argument("--num-frames", type=int)
    parser.add_argument("--repeats", type=int, default=1, help="measured rounds after the warm-up (order alternates)")
    parser.add_argument("--out", default="bench-speed", help="folder for the JSON file and the PNG chart")
    parser.add_argument("--small", action="store_true", help="the tiny Wan (what the tests run)")
    parser.add_argument(
        "--family", default="wan", choices=sorted(MID), help="the family of the mid-size model (default wan)"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="JSON",
        help='a cache setting with knobs as another row, e.g. \'{"method": "fbc", "threshold": 0.3}\' (repeatable)',
    )
    parser.add_argument(
        "--attention", default="", help="comma-separated attention backends, one row each (e.g. native,auto)"
    )
    parser.add_argument("--compile", action="store_true", help="a row with compile='regional' (slow to warm up)")
    parser.add_argument(
        "--memory",
        action="append",
        default=[],
        metavar="PLAN",
        help="a row with this memory plan: a preset (e.g. fast: regional compile, full graph) or JSON (repeatable)",
    )
    parser.add_argument(
        "--no-calibrate", dest="calibrate", action="store_false", help="don't calibrate MagCache when no ratios exist"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """`videogen bench speed ...`; returns the exit status."""
    args = build_parser().parse_args(list(argv or []))
    if args.repeats < 1:
        print("videogen bench speed: --repeats must be at least 1", file=sys.stderr)
        return 2
    try:
        _variants([], args)  # flags checked before anything loads
    except BenchUsageError as exc:
        print(f"videogen bench speed: {exc}", file=sys.stderr)
        return 2
    return bench_speed(args)


# ---- the benchmark --------------------------------------------------------------------------------
def bench_speed(args: argparse.Namespace) -> int:
    import torch

    from ...catalog.lookup import resolve
    from ...errors import VideoGenError
    from ...runtime.devices import versions

    fields: dict[str, Any] = {"prompt": PROMPT, "seed": 0, "progress": False}
    if args.model is None and not args.small:
        fields["model"] = str(mid_size(args.family))
        fields.update({k: v for k, v in MID_SIZE.items() if k != "steps"})
        fields["steps"] = MID_SIZE["steps"]
        shape = ", ".join(f"{k} {v}" for k, v in MID[args.family].items())
        label = f"mid-size {args.family} ({shape}; random weights)"
    else:
        fields["model"] = args.model or "tiny-wan"
        label = fields["model"]
    for key in ("steps", "height", "width", "num_frames"):
        if getattr(args, key) is not None:
            fields[key] = getattr(args, key)
    card = resolve(fields["model"])
    from ...families import get_family

    family = get_family(card.family)
    methods = args.methods.split(",") if args.methods else list(family.cache_methods)
    variants = _variants(methods, args)

    # warm-up: loads the pipeline (cached), runs every code path once
    warm = _generate(fields, None)
    samples: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    refused: dict[str, str] = {}
    notes: dict[str, str] = {}
    for name, (cache, memory) in variants.items():  # refusals come before any weight runs; one warm-up each
        if name in ("direct", "none"):
            continue
        try:
            _generate(fields, cache, memory)
        except VideoGenError as exc:
            if cache == "magcache" and args.calibrate and "calibrate" in str(exc):
                notes[name] = _calibrate(fields)
                _generate(fields, cache, memory)
            else:
                refused[name] = str(exc)
    for round_ in range(args.repeats):
        order = list(variants) if round_ % 2 == 0 else list(variants)[::-1]
        for name in order:
            if name in refused:
                continue
            cache, memory = variants[name]
            samples[name].append(_direct(fields) if name == "direct" else _generate(fields, cache, memory))
    rows = [_row(v, samples[v], refused.get(v), notes.get(v)) for v in variants]
    base = rows[0]["total_s"]
    for row in rows:
        if row.get("total_s") and base:
            row["ratio_to_direct"] = round(row["total_s"] / base, 3)
    spec = warm["spec"]
    report = {
        "model": label,
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "random_weights": args.model is None,
        "spec": f"{spec['width']}x{spec['height']}, {spec['num_frames']} frames, {spec['steps']} steps",
        "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(),
        "rows": rows,
        "versions": versions(),
    }
    write_report(report, args.out, "bench-speed", format_table, _chart)
    return 0


def _steps(start: float, marks: list[float], end: float) -> dict[str, Any]:
    steps = [b - a for a, b in zip([start, *marks[:-1]], marks)]
    steady = steps[1:] or steps
    return {
        "total_s": end - start,
        "s_per_step": statistics.median(steady) if steady else None,
        "after_steps_s": end - marks[-1] if marks else None,
        "step_s": [round(s, 4) for s in steps],
    }


def _variants(methods: list[str], args: argparse.Namespace) -> dict[str, tuple[Any, Any]]:
    """Row label → (cache, memory plan) for each variant, in the order they are reported."""
    from ...memory import MemoryPlan

    out: dict[str, tuple[Any, Any]] = {"direct": (None, None), "none": (None, None)}
    out.update({m: (m, None) for m in methods})
    for text in args.variant:
        setting = _json_object("--variant", text)
        if not isinstance(setting.get("method"), str):
            raise BenchUsageError(f'--variant {text!r} names no method, e.g. \'{{"method": "fbc", "threshold": 0.3}}\'')
        knobs = ", ".join(f"{k}={v}" for k, v in setting.items() if k != "method")
        out[f"{setting['method']} ({knobs})" if knobs else setting["method"]] = (setting, None)
    for backend in filter(None, args.attention.split(",")):
        out[f"attention={backend}"] = (None, MemoryPlan(attention_backend=backend))
    if args.compile:
        out["compile=regional"] = (None, MemoryPlan(compile="regional"))
    for text in args.memory:
        out[f"memory={text}"] = (None, _json_object("--memory", text) if text.lstrip().startswith("{") else text)
    return out


class BenchUsageError(ValueError):
    """A benchmark flag that can't be used: one line, exit status 2."""


def _json_object(flag: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BenchUsageError(f"{flag} {text!r} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BenchUsageError(f'{flag} {text!r} must be a JSON object, e.g. \'{{"method": "fbc"}}\'')
    return value


def _calibrate(fields: dict[str, Any]) -> str:
    """MagCache ratios for the benchmark's model, scheduler and steps (stored like `videogen calibrate`'s)."""
    from ...generation.calibrate import calibrate

    stored = calibrate(**{k: v for k, v in fields.items() if k != "progress"})
    return f"ratios calibrated in this run ({stored['path']})"


def _generate(fields: dict[str, Any], cache: Any, memory: Any = None) -> dict[str, Any]:
    """One `videogen.generate` call with `cache=` (and a memory plan): wall time, step times, share skipped."""
    from ...generation.flow import generate

    marks: list[float] = []
    start = time.perf_counter()
    more = {"memory": memory} if memory is not None else {}
    result = generate(**fields, **more, cache=cache, on_step=lambda step, total: marks.append(time.perf_counter()))
    end = time.perf_counter()
    cache = result.metadata["cache"] or {}
    return {
        **_steps(start, marks, end),
        "call_s": result.metadata["timings"]["call_s"],
        "skipped": cache.get("skipped", 0.0),
        "spec": {k: getattr(result.spec, k) for k in ("width", "height", "num_frames", "steps")},
    }


def _direct(fields: dict[str, Any]) -> dict[str, Any]:
    """The direct diffusers call on the pipeline videogen loaded (the same cache entry, the same arguments
    `generate` builds), without videogen's step cache, scheduler swap or RNG bookkeeping."""
    import torch

    from ...generation.flow import cache_key, check_before_load, prepare
    from ...loading.pipelines import CACHE, load_pipeline
    from ...memory.apply import plan_call_kwargs
    from ...memory.quantize import load_kwargs

    p = prepare(**{k: v for k, v in fields.items() if k != "progress"})
    cls, params = check_before_load(p)
    entry = CACHE.get(
        cache_key(p), lambda: load_pipeline(p.card, p.family, cls, load_kwargs(p.plan, p.card, p.device), False)
    )
    with entry.lock:
        pipe = entry.pipeline(cls)
        kwargs = p.family.call_kwargs(p.spec, p.card, dict(p.media), params)
        kwargs.update(plan_call_kwargs(p.plan, params))
        marks: list[float] = []

        def on_step_end(_pipe: Any, _i: int, _t: Any, _kw: dict) -> dict:
            marks.append(time.perf_counter())
            return {}

        kwargs["callback_on_step_end"] = on_step_end
        generator = torch.Generator(device="cpu").manual_seed(p.spec.seed)
        pipe.set_progress_bar_config(disable=True)
        start = time.perf_counter()
        pipe(**kwargs, generator=generator, output_type="np", return_dict=True)
        end = time.perf_counter()
    return {**_steps(start, marks, end), "call_s": end - start, "skipped": 0.0}


def _row(variant: str, samples: list[dict[str, Any]], refused: str | None, note: str | None = None) -> dict[str, Any]:
    what = "direct diffusers call" if variant == "direct" else f"generate({variant})"
    if refused is not None:
        return {"method": variant, "call": what, "not_run": refused}

    def median(key: str) -> float | None:
        values = [s[key] for s in samples if s.get(key) is not None]
        return round(statistics.median(values), 4) if values else None

    return {
        "method": variant,
        "call": what,
        "total_s": median("total_s"),
        "s_per_step": median("s_per_step"),
        "call_s": median("call_s"),
        "after_steps_s": median("after_steps_s"),
        "skipped": median("skipped"),
        "samples_total_s": [round(s["total_s"], 4) for s in samples],
        "samples_step_s": [s["step_s"] for s in samples],
        **({"note": note} if note else {}),
    }


# ---- the mid-size Wan -----------------------------------------------------------------------------
def mid_size(family: str) -> Path:
    """The mid-size random-weight pipeline folder of `family` (built once, atomically): a copy of its tiny pipeline
    with the transformer rebuilt at the `MID` size, seeded, saved with `save_pretrained`; the name says the shape."""
    import shutil

    from ...families.tiny import cache_root, tiny_pipeline
    from ...media.atomic import build_folder_atomically

    tiny = tiny_pipeline(family, "t2v")
    shape = "-".join(f"{k}{v}" for k, v in MID[family].items()).replace(" ", "").replace(",", "_")
    target = cache_root() / "bench" / f"{family}-mid-{shape}-{tiny.name}"
    if (target / "model_index.json").exists():
        return target
    import diffusers
    import torch

    config = json.loads((tiny / "transformer" / "config.json").read_text())
    transformer_cls = getattr(diffusers, config["_class_name"])
    torch.manual_seed(0)
    transformer = transformer_cls(**{**{k: v for k, v in config.items() if not k.startswith("_")}, **MID[family]})

    def build(folder: Path) -> None:
        shutil.copytree(tiny, folder, dirs_exist_ok=True)
        shutil.rmtree(folder / "transformer")
        transformer.save_pretrained(folder / "transformer")

    return build_folder_atomically(target, build, done="model_index.json")  # another process may finish first


# ---- output ---------------------------------------------------------------------------------------
def format_table(report: dict[str, Any]) -> str:
    lines = [f"{report['model']} on {report['device']}: {report['spec']}, repeats {report['repeats']}"]
    rows = [("method", "total s", "s/step", "ratio to direct", "skipped", "note")]
    for r in report["rows"]:
        if "not_run" in r:
            rows.append((r["method"], "-", "-", "-", "-", "not run: " + r["not_run"][:90]))
            continue
        rows.append(
            (
                r["method"],
                f"{r['total_s']:.3f}",
                "-" if r["s_per_step"] is None else f"{r['s_per_step']:.3f}",
                f"{r.get('ratio_to_direct', 0):.2f}",
                f"{r['skipped']:.2f}",
                r.get("note", "")[:60],
            )
        )
    lines += aligned(rows)
    return "\n".join(lines)


def _chart(report: dict[str, Any], path: Path) -> Path | None:
    plt = pyplot()
    if plt is None:
        return None
    rows = [r for r in report["rows"] if "not_run" not in r]
    xs = list(range(len(rows)))
    fig, (time_ax, skip_ax) = plt.subplots(1, 2, figsize=(11, 4))
    time_ax.bar(xs, [r["total_s"] for r in rows])
    time_ax.set_xticks(xs, [r["method"] for r in rows], rotation=30)
    time_ax.set_title("total seconds")
    skip_ax.bar(xs, [r["skipped"] for r in rows])
    skip_ax.set_xticks(xs, [r["method"] for r in rows], rotation=30)
    skip_ax.set_ylim(0, 1)
    skip_ax.set_title("share of block computations skipped")
    fig.suptitle(f"{report['model']} — {report['device']} — {report['spec']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
