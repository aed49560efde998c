"""The cost of live previews (`generate(on_preview=fn, preview_every=1)`) against one denoising step, on the
mid-size random-weight architectures of `videogen bench speed` (8 blocks, dim 256; 128×128, 17 frames).

    python benchmarks/preview.py [--families wan,ltx,cogvideox,hunyuanvideo] [--steps 8] [--repeats 2]

Per family: a warm-up call with previews (it fits the VAE's projection once, stored in the user cache), then
`--repeats` rounds of a call without previews and one with a preview after every step, in alternating order.
The preview's own cost is what the library records making the pictures (`metadata["preview"]["seconds"]`, the
caller's callback excluded); the step is the median interval between step callbacks without previews. Also
reported: the one-frame VAE decode (the fallback) per preview, forced by failing the projection. Prints a table
and writes benchmarks/out/preview.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import videogen
from videogen.cli.bench.speed import MID, MID_SIZE, mid_size


def run(model: str, steps: int, previews: bool) -> tuple[float, dict[str, Any] | None]:
    """(median seconds per step, the preview record) of one call."""
    marks: list[float] = []
    kwargs: dict[str, Any] = {"on_preview": lambda image, step, total: None, "preview_every": 1} if previews else {}
    result = videogen.generate(
        model=model,
        prompt="a white ferret leaps into a mountain stream",
        seed=1,
        steps=steps,
        height=MID_SIZE["height"],
        width=MID_SIZE["width"],
        num_frames=MID_SIZE["num_frames"],
        progress=False,
        on_step=lambda step, total: marks.append(time.perf_counter()),
        **kwargs,
    )
    intervals = [b - a for a, b in zip(marks, marks[1:])]
    return statistics.median(intervals), result.metadata.get("preview")


def family_row(family: str, steps: int, repeats: int) -> dict[str, Any]:
    model = str(mid_size(family))
    run(model, steps, previews=True)  # warm-up: load, fit the projection
    plain, per_preview = [], []
    for i in range(repeats):
        order = (False, True) if i % 2 == 0 else (True, False)
        for previews in order:
            step_s, record = run(model, steps, previews)
            if previews:
                assert record is not None and record["shown"] == steps and record["method"] == "linear", record
                per_preview.append(record["seconds"] / record["shown"])
            else:
                plain.append(step_s)
    from videogen.loading import latent_rgb

    original = latent_rgb.projection_for

    def no_projection(vae: Any) -> Any:
        raise RuntimeError("benchmarking the fallback")

    latent_rgb.projection_for = no_projection  # type: ignore[assignment]
    try:
        _, record = run(model, steps, previews=True)
    finally:
        latent_rgb.projection_for = original  # type: ignore[assignment]
    assert record is not None and record["method"] == "decode", record
    step_s = statistics.median(plain)
    preview_s = statistics.median(per_preview)
    decode_s = record["seconds"] / max(record["shown"], 1)
    return {
        "family": family,
        "step_s": round(step_s, 4),
        "preview_ms": round(preview_s * 1000, 3),
        "preview_share_of_step_pct": round(100 * preview_s / step_s, 3),
        "decode_fallback_ms": round(decode_s * 1000, 2),
        "decode_share_of_step_pct": round(100 * decode_s / step_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(MID))
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    rows = [family_row(f, args.steps, args.repeats) for f in args.families.split(",")]
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores",
        "size": {**MID_SIZE, "steps": args.steps},
        "repeats": args.repeats,
        "rows": rows,
    }
    out = Path(__file__).parent / "out" / "preview.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print("| family | s/step | preview (linear) | share of a step | one-frame decode (fallback) | share |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['family']} | {r['step_s']} | {r['preview_ms']} ms | {r['preview_share_of_step_pct']} % | "
            f"{r['decode_fallback_ms']} ms | {r['decode_share_of_step_pct']} % |"
        )


if __name__ == "__main__":
    main()
