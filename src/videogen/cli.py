"""The `videogen` command: generate, models, plan, demo, bench, calibrate.

User mistakes print one line (`videogen: error: ...`) and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import VideoGenError

EXIT_USER_ERROR = 2


def _key_value(text: str) -> tuple[str, Any]:
    """`key=value` with value parsed as JSON when it can be (numbers, booleans, lists), else a string."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not key=value (e.g. strength=0.7)")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def _lora(text: str) -> tuple[str, float]:
    """`PATH[:WEIGHT]` (the weight is a number after the last colon)."""
    source, sep, weight = text.rpartition(":")
    if sep and source:
        try:
            return source, float(weight)
        except ValueError:
            pass
    return text, 1.0


def add_spec_arguments(parser: argparse.ArgumentParser, model_default: str | None = None) -> None:
    """One flag per VideoSpec field, named after it."""
    parser.add_argument(
        "--model",
        "-m",
        default=model_default,
        help="catalog name, Hub repo id (org/repo[@revision]) or local pipeline folder (see `videogen models`)",
    )
    parser.add_argument("--revision", help="Hub branch, tag or commit of the model (also model@revision)")
    parser.add_argument("--prompt", "-p")
    parser.add_argument("--negative-prompt")
    parser.add_argument("--image", help="path or URL of the (first) image")
    parser.add_argument("--last-image", help="path or URL of the last image (first-last-frame models)")
    parser.add_argument("--video", help="path or URL of the input video, or a folder of frames")
    parser.add_argument("--height", type=int)
    parser.add_argument("--width", type=int)
    parser.add_argument("--num-frames", type=int)
    parser.add_argument("--fps", type=int, help="playback frames per second")
    parser.add_argument("--steps", type=int, help="denoising steps")
    parser.add_argument("--guidance-scale", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--task", choices=["t2v", "i2v", "flf2v", "v2v", "conditioned"])
    parser.add_argument("--memory", default="auto", help="auto or a preset name (see `videogen plan`)")
    parser.add_argument("--scheduler", help="a diffusers scheduler class name")
    parser.add_argument("--scheduler-arg", action="append", type=_key_value, default=[], metavar="KEY=VALUE")
    parser.add_argument("--lora", action="append", type=_lora, default=[], metavar="PATH[:WEIGHT]")
    parser.add_argument(
        "--extra",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="a keyword argument for the pipeline call, e.g. --extra strength=0.7",
    )
    parser.add_argument("--snap", action="store_true", help="round size and frames to valid values")
    parser.add_argument(
        "--cache",
        type=_cache_value,
        help="step cache: none, auto, fbc, taylorseer, magcache, pab, fastercache, or JSON such as "
        '\'{"method": "fbc", "threshold": 0.1}\' (docs/speed.md)',
    )


def spec_fields(args: argparse.Namespace) -> dict[str, Any]:
    """VideoSpec fields from parsed flags (unset flags are left out: the model's defaults apply)."""
    fields: dict[str, Any] = {}
    for name in (
        "model",
        "prompt",
        "negative_prompt",
        "image",
        "last_image",
        "video",
        "height",
        "width",
        "num_frames",
        "fps",
        "steps",
        "guidance_scale",
        "seed",
        "task",
        "memory",
        "revision",
        "cache",
    ):
        value = getattr(args, name)
        if value is not None:
            fields[name] = value
    if args.scheduler:
        fields["scheduler"] = {"name": args.scheduler, **dict(args.scheduler_arg)}
    elif args.scheduler_arg:
        raise VideoGenErrorUsage("--scheduler-arg needs --scheduler NAME")
    if args.lora:
        fields["loras"] = list(args.lora)
    if args.extra:
        fields["extra"] = dict(args.extra)
    if args.snap:
        fields["snap"] = True
    return fields


def _cache_value(text: str) -> Any:
    """--cache: a method name, or a JSON object {"method": name, **knobs}."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"--cache {text!r} is not valid JSON: {exc}") from None
    return text


class VideoGenErrorUsage(VideoGenError):
    """A flag combination that makes no sense."""


def _default_output(model: str | None) -> Path:
    stem = (model or "video").replace("/", "_")
    path = Path(f"{stem}.mp4")
    i = 1
    while path.exists():
        path = Path(f"{stem}-{i}.mp4")
        i += 1
    return path


def cmd_generate(args: argparse.Namespace) -> int:
    from .generation import generate

    result = generate(progress=not args.quiet, **spec_fields(args))
    out = result.save(args.output or _default_output(args.model), overwrite=args.overwrite, crf=args.crf)
    print(out)
    if not args.quiet:
        t = result.metadata["timings"]
        print(
            f"{result.num_frames} frames {result.width}x{result.height} @ {result.fps} fps, seed {result.seed}, "
            f"{t['total_s']:.2f} s",
            file=sys.stderr,
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .catalog import resolve
    from .families import get_family

    card = resolve(args.model)
    if args.prompt is None and get_family(card.family).accepts_prompt:
        args.prompt = "a white ferret leaps into a mountain stream"
    if args.image is None and args.video is None and "t2v" not in card.tasks:
        args.image = str(_demo_image())  # image models: a generated test picture
        if "flf2v" in card.tasks and "i2v" not in card.tasks:
            args.last_image = args.image
    return cmd_generate(args)


def _demo_image() -> Path:
    from .testing import cache_root, sample_image

    path = cache_root() / "demo-image.png"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        sample_image().save(path)
    return path


def cmd_models(args: argparse.Namespace) -> int:
    from .catalog import list_models
    from .docs import models_markdown

    if args.markdown:
        print(models_markdown())
        return 0
    cards = list_models(args.family, include_tiny=not args.no_tiny)
    rows = [("name", "family", "tasks", "size", "frames", "fps", "steps", "guidance", "repo")]
    for c in cards:
        rows.append(
            (
                c.name,
                c.family,
                ",".join(c.tasks),
                f"{c.width}x{c.height}",
                str(c.num_frames),
                str(c.fps),
                str(c.steps),
                f"{c.guidance_scale:g}",
                c.repo or "(built offline)",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from .planning import plan

    print(plan(**spec_fields(args), simulate=args.simulate))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.bench_args[:1] == ["speed"]:  # `videogen bench speed`: step caches vs the direct diffusers call
        from . import bench_speed

        return bench_speed.main(args.bench_args[1:])
    from . import bench

    return bench.main(args.bench_args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videogen", description="Open video-diffusion models, one call.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what videogen does")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="generate a video")
    add_spec_arguments(gen)
    _output_arguments(gen)
    gen.set_defaults(func=cmd_generate)

    demo = sub.add_parser("demo", help="generate with a tiny offline model (default tiny-wan)")
    add_spec_arguments(demo, model_default="tiny-wan")
    _output_arguments(demo)
    demo.set_defaults(func=cmd_demo)

    models = sub.add_parser("models", help="list the catalog")
    models.add_argument("--family")
    models.add_argument("--no-tiny", action="store_true", help="leave out the tiny test models")
    models.add_argument("--markdown", action="store_true", help="print docs/models.md")
    models.set_defaults(func=cmd_models)

    plan = sub.add_parser("plan", help="show the memory plan for a spec, without loading weights")
    add_spec_arguments(plan)
    how = plan.add_mutually_exclusive_group()
    how.add_argument(
        "--simulate",
        dest="simulate",
        action="store_true",
        default=False,
        help="activations from the pipeline's own call simulated on fake full-size weights (precise; "
        "seconds to minutes on a CPU, then cached)",
    )
    how.add_argument(
        "--no-simulate",
        dest="simulate",
        action="store_false",
        help="activations from the fitted formulas, as memory=auto decides (instant; the default)",
    )
    plan.set_defaults(func=cmd_plan)

    bench = sub.add_parser(
        "bench",
        help="benchmarks: memory (presets) and speed (step caches); videogen bench memory|speed --help",
        add_help=False,
    )
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=cmd_bench)

    def cmd_calibrate(args: argparse.Namespace) -> int:
        from .calibrate import calibrate

        print(calibrate(progress=not args.quiet, **spec_fields(args))["path"])
        return 0

    calibrate = sub.add_parser("calibrate", help="measure and store MagCache's ratios (model, scheduler, steps)")
    add_spec_arguments(calibrate)
    calibrate.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    calibrate.set_defaults(func=cmd_calibrate)
    return parser


def _output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", help="output .mp4/.gif/.webp, or a folder for .png frames")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument(
        "--crf",
        type=int,
        help="mp4 quality: H.264 constant rate factor 0-51 (lower is better and bigger; default 18, visually lossless)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _configure_logging(verbose: bool) -> None:
    """videogen's own log lines on stderr; other libraries only for errors."""
    logging.basicConfig(level=logging.ERROR, format="%(name)s: %(message)s")
    logger = logging.getLogger("videogen")
    logger.setLevel(logging.INFO if verbose else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except (VideoGenError, FileNotFoundError) as exc:
        print(f"videogen: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("videogen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
