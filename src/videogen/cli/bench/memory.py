"""`videogen bench memory`: peak GPU memory, seconds per step and decode time of each memory preset.

On a GPU it builds the full-size architecture from its stored config (`configs/<arch>.json`) with random
weights, directly on the device in the target dtype (no download, no float32 copy in RAM), and runs a
fixed number of denoising steps plus the VAE decode through `videogen.generate`'s own path (plan checks,
plan application, call). Without a GPU it runs the same harness on a tiny model on the CPU (`--small`).
Output: a table on stdout, a JSON file and a PNG chart (matplotlib, `pip install 'videogen-diffusers[bench]'`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .output import aligned, pyplot, write_report

if TYPE_CHECKING:
    from ...catalog.lookup import ModelCard
    from ...families.base import Family

logger = logging.getLogger("videogen")
GPU_PRESETS = ("none", "fast", "balanced", "low", "low-fp8", "minimal", "int8")
CPU_PRESETS = ("none", "low", "minimal", "low-fp8", "int8")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videogen bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="bench", required=True)
    mem = sub.add_parser("memory", help="peak GPU memory and speed of each memory preset")
    mem.add_argument("--model", default="wan2.1-t2v-14b", help="catalog name with a stored architecture")
    mem.add_argument(
        "--presets",
        default=None,
        help=f"comma-separated presets (default: {','.join(GPU_PRESETS)}; CPU: {','.join(CPU_PRESETS)})",
    )
    mem.add_argument("--height", type=int)
    mem.add_argument("--width", type=int)
    mem.add_argument("--num-frames", type=int)
    mem.add_argument("--steps", type=int, default=4, help="denoising steps (the first is warm-up)")
    mem.add_argument("--out", default="bench-memory", help="folder for the JSON file and the PNG chart")
    mem.add_argument(
        "--small", action="store_true", help="the tiny model of the family on the CPU (what runs without a GPU)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """`videogen bench ...`; returns the exit status."""
    args = build_parser().parse_args(list(argv or []))
    if args.bench == "memory":
        return bench_memory(args)
    return 2  # pragma: no cover


# ---- the benchmark --------------------------------------------------------------------------------
def bench_memory(args: argparse.Namespace) -> int:
    import torch

    from ...catalog.lookup import list_models, resolve
    from ...errors import VideoGenError
    from ...runtime.devices import free_memory, versions

    card = resolve(args.model)
    gpu = torch.cuda.is_available() and not args.small
    if not gpu:
        tiny = [c for c in list_models(card.family) if c.tiny]
        card = card if card.tiny else next((c for c in tiny if "t2v" in c.tasks), tiny[0])
        print(
            f"videogen bench memory: no GPU (or --small): {card.name} on the CPU, to test the harness", file=sys.stderr
        )
    presets = args.presets.split(",") if args.presets else list(GPU_PRESETS if gpu else CPU_PRESETS)
    fields = {
        "model": card.name,
        "prompt": "a white ferret leaps into a mountain stream",
        "seed": 0,
        "steps": args.steps,
        "height": args.height,
        "width": args.width,
        "num_frames": args.num_frames,
    }
    if "t2v" not in card.tasks:
        fields["image"] = _test_image(args.height or card.height, args.width or card.width)
    fields = {k: v for k, v in fields.items() if v is not None}
    rows = []
    with _random_weights(card, gpu):
        for name in presets:
            try:
                rows.append(_measure(name, fields, gpu))
            except VideoGenError as exc:
                rows.append({"preset": name, "skipped": str(exc)})
            except torch.OutOfMemoryError as exc:
                rows.append({"preset": name, "skipped": f"out of memory: {str(exc).splitlines()[0]}"})
            free_memory()
    report = {
        "model": card.name,
        "device": torch.cuda.get_device_name() if gpu else "cpu",
        "random_weights": gpu,
        "steps": args.steps,
        "spec": _spec_summary(fields, card),
        "presets": rows,
        "versions": versions(),
    }
    write_report(report, args.out, "bench-memory", format_table, _chart)
    return 0


def _measure(preset: str, fields: dict[str, Any], gpu: bool) -> dict[str, Any]:
    """One generation with `preset`; step times from the step callback, decode time after the last step."""
    from ...errors import VideoGenError
    from ...generation.flow import prepare, run
    from ...memory.context import context, shape_of
    from ...memory.estimate import activation_parts, estimate_plan
    from ...memory.simulate import simulate_plans, subject_of

    prepared = prepare(**fields, memory=preset)
    ctx = context(prepared.card, prepared.class_name, "cuda")
    shape = shape_of(prepared.spec, ctx)
    estimate = estimate_plan(prepared.card, ctx.components, prepared.plan, shape, "cuda")  # what auto decides with
    try:  # the opt-in precise estimate: activations simulated on fake full-size weights
        sims, failed = simulate_plans(subject_of(prepared), [prepared.plan]), None
    except VideoGenError as exc:
        sims, failed = {}, str(exc)
    simulated = estimate_plan(
        prepared.card, ctx.components, prepared.plan, shape, "cuda", sims.get(activation_parts(prepared.plan))
    )
    marks: list[float] = []
    start = time.perf_counter()
    result = run(prepared, on_step=lambda step, total: marks.append(time.perf_counter()), progress=False)
    end = time.perf_counter()
    steps = [b - a for a, b in zip([start] + marks[:-1], marks)]
    steady = steps[1:] or steps
    row: dict[str, Any] = {
        "preset": preset,
        "plan": result.metadata["memory_plan"],
        "peak_gpu_bytes": result.metadata["memory"].get("peak_gpu_bytes"),
        "estimated_peak_gpu_bytes": estimate.peak_gpu_bytes,
        "simulated_peak_gpu_bytes": None if failed else simulated.peak_gpu_bytes,
        "simulation": f"failed: {failed}" if failed else "ok",
        "first_step_s": round(steps[0], 4) if steps else None,
        "s_per_step": round(statistics.median(steady), 4) if steady else None,
        "decode_s": round(end - marks[-1], 4) if marks else None,
        "call_s": result.metadata["timings"]["call_s"],
        "peak_rss_bytes": result.metadata["memory"].get("peak_rss_bytes"),
        #: the planner's prediction for this GPU (memory/predict.py; None off the GPU table)
        "predicted_s_per_step": result.metadata.get("memory_speed", {}).get("predicted_s_per_step"),
    }
    if row["s_per_step"] and row["predicted_s_per_step"]:
        row["predicted_error"] = round(row["predicted_s_per_step"] / row["s_per_step"] - 1, 4)
    for key, error in (("estimated_peak_gpu_bytes", "estimate_error"), ("simulated_peak_gpu_bytes", "simulated_error")):
        if row["peak_gpu_bytes"] and row[key]:
            row[error] = round(row[key] / row["peak_gpu_bytes"] - 1, 4)
    return row


def format_table(report: dict[str, Any]) -> str:
    def gib(n: Any) -> str:
        return "-" if not n else f"{n / 1024**3:.2f}"

    lines = [f"{report['model']} on {report['device']}: {report['spec']}"]
    rows = [
        (
            "preset",
            "peak GPU GiB",
            "estimate GiB",
            "est. error",
            "simulated GiB",
            "sim. error",
            "s/step",
            "decode s",
            "note",
        )
    ]
    for r in report["presets"]:
        if "skipped" in r:
            rows.append((r["preset"], "-", "-", "-", "-", "-", "-", "-", "skipped: " + r["skipped"][:80]))
            continue
        err, sim_err = r.get("estimate_error"), r.get("simulated_error")
        rows.append(
            (
                r["preset"],
                gib(r["peak_gpu_bytes"]),
                gib(r["estimated_peak_gpu_bytes"]),
                "-" if err is None else f"{err:+.0%}",
                gib(r.get("simulated_peak_gpu_bytes")),
                "-" if sim_err is None else f"{sim_err:+.0%}",
                f"{r['s_per_step']:.3f}",
                f"{r['decode_s']:.3f}",
                "" if r.get("simulation", "ok") == "ok" else r["simulation"][:60],
            )
        )
    lines += aligned(rows)
    return "\n".join(lines)


def _chart(report: dict[str, Any], path: Path) -> Path | None:
    plt = pyplot()
    if plt is None:
        return None
    rows = [r for r in report["presets"] if "skipped" not in r]
    names = [r["preset"] for r in rows]
    fig, (mem_ax, time_ax) = plt.subplots(1, 2, figsize=(11, 4))
    xs = range(len(rows))
    measured = [(r["peak_gpu_bytes"] or 0) / 1024**3 for r in rows]
    estimated = [(r["estimated_peak_gpu_bytes"] or 0) / 1024**3 for r in rows]
    simulated = [(r.get("simulated_peak_gpu_bytes") or 0) / 1024**3 for r in rows]
    mem_ax.bar([x - 0.27 for x in xs], measured, width=0.27, label="measured peak")
    mem_ax.bar(list(xs), estimated, width=0.27, label="planner estimate (formulas)")
    mem_ax.bar([x + 0.27 for x in xs], simulated, width=0.27, label="simulated estimate")
    mem_ax.set_xticks(list(xs), names, rotation=30)
    mem_ax.set_ylabel("GiB")
    mem_ax.set_title("peak GPU memory" + ("" if report["random_weights"] else " (CPU run: no GPU peak)"))
    mem_ax.legend()
    time_ax.bar(list(xs), [r["s_per_step"] or 0 for r in rows], label="s / step")
    time_ax.bar(
        list(xs),
        [r["decode_s"] or 0 for r in rows],
        bottom=[r["s_per_step"] or 0 for r in rows],
        label="decode s",
        alpha=0.6,
    )
    time_ax.set_xticks(list(xs), names, rotation=30)
    time_ax.set_title("seconds")
    time_ax.legend()
    fig.suptitle(f"{report['model']} — {report['device']} — {report['spec']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ---- random full-size weights ---------------------------------------------------------------------
@contextlib.contextmanager
def _random_weights(card: ModelCard, gpu: bool) -> Iterator[None]:
    """While active, loading `card` builds its architecture with random weights instead of downloading."""
    if not gpu:
        yield
        return
    from ...loading import pipelines as pipeline

    real = pipeline.load_pipeline
    random_name = card.name

    def load(
        card: ModelCard, family: Family, cls: Any, load_kwargs: dict[str, Any], progress: bool = True
    ) -> tuple[Any, str | None]:
        if card.name != random_name:
            return real(card, family, cls, load_kwargs, progress)
        return build_random_pipeline(card, cls, load_kwargs), "random-weights"

    pipeline.load_pipeline = load
    try:
        yield
    finally:
        pipeline.load_pipeline = real
        pipeline.CACHE.clear()


@contextlib.contextmanager
def _default_dtype(dtype: Any) -> Iterator[None]:
    import torch

    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def build_random_pipeline(card: ModelCard, cls: Any, load_kwargs: dict[str, Any]) -> Any:
    """`cls` with the full-size components of `card.arch`, random weights built on the GPU in their dtype.

    Tokenizers, scheduler and processors come from the family's tiny model (built offline); image
    processors are resized to the image encoder. Quantization (torchao) is applied after the build.
    """
    import inspect

    import torch

    from ...families import get_family
    from ...loading.pipelines import load_pipeline
    from ...memory.components import component_class, pipeline_components
    from ...memory.estimate import buildable_config
    from ...memory.simulate import fit_image_processors, pipeline_config

    family = get_family(card.family)
    tiny_card = next(
        c
        for c in get_family(card.family).cards
        if c.tiny and any(c.pipeline_class(t, family) == cls.__name__ for t in c.tasks)
    )
    tiny, _ = load_pipeline(tiny_card, family, cls, {"dtype": torch.float32}, False)
    parts = {k: v for k, v in tiny.components.items() if not isinstance(v, torch.nn.Module)}
    dtypes = load_kwargs.get("dtype") or {"default": torch.bfloat16}
    components, _ = pipeline_components(card, cls.__name__)
    for comp in components:
        model_cls = component_class(comp.class_name, comp.library)
        dtype = dtypes.get(comp.name, dtypes.get("default", torch.bfloat16))
        with torch.device("cuda"), _default_dtype(dtype), torch.no_grad():
            if comp.library == "diffusers":
                model = model_cls.from_config(buildable_config(comp))
            else:
                config = {k: v for k, v in (comp.config or {}).items() if k != "model_type"}
                model = model_cls(model_cls.config_class(**config))
        parts[comp.name] = model.eval().to("cpu")
        torch.cuda.empty_cache()
        fit_image_processors(parts, model.config)
    _quantize_random(parts, load_kwargs)
    accepted = set(inspect.signature(cls.__init__).parameters)
    return cls(**{k: v for k, v in parts.items() if k in accepted}, **pipeline_config(card, cls))


def _quantize_random(parts: dict[str, Any], load_kwargs: dict[str, Any]) -> None:
    """What `PipelineQuantizationConfig` does at load, applied to random weights (torchao only)."""
    config = load_kwargs.get("quantization_config")
    if config is None:
        return
    from torchao.quantization import quantize_

    for name, qconfig in config.quant_mapping.items():
        base = getattr(qconfig, "quant_type", None)
        if base is None:
            raise NotImplementedError(f"bench: only torchao quantization runs on random weights ({name})")
        quantize_(parts[name].to("cuda"), base)


# ---- small helpers --------------------------------------------------------------------------------
def _test_image(height: int, width: int) -> Any:
    import numpy as np

    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), np.full_like(x, 128)], -1).astype(
        np.uint8
    )


def _spec_summary(fields: dict[str, Any], card: ModelCard) -> str:
    h, w = fields.get("height", card.height), fields.get("width", card.width)
    return f"{w}x{h}, {fields.get('num_frames', card.num_frames)} frames, {fields['steps']} steps"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
