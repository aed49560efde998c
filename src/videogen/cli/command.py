"""The `videogen` command: generate, demo, batch, replay, models, plan, env, bench, calibrate, serve (docs/cli.md).

User mistakes print one line (`videogen: error: ...`) and exit with status 2; no traceback. A batch where
some spec failed exits with 1 (cli_runs.py). `-v` / `-q` work before and after the command. The spec flags
are generated from VideoSpec's fields (cli_args.py); `videogen env` is cli_env.py.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import VideoGenError
from .args import (
    UsageError,
    add_spec_arguments,
    add_spec_source_arguments,
    command_specs,
    emit_json,
    is_many,
    spec_fields,
)
from .env import third_party_output

__all__ = ["EXIT_USER_ERROR", "add_spec_arguments", "build_parser", "main", "spec_fields"]

EXIT_USER_ERROR = 2
#: the bench subcommands and their modules (each parses its own arguments)
BENCHES = {"memory": "peak GPU memory and speed of each memory preset", "speed": "step caches vs the direct call"}


def _default_output(model: str | None, fmt: str = "mp4") -> Path:
    """`<model>.<fmt>` (a folder `<model>` for png frames), numbered when taken."""
    stem = (model or "video").replace("/", "_")
    suffix = "" if fmt == "png" else f".{fmt}"
    path = Path(f"{stem}{suffix}")
    i = 1
    while path.exists():
        path = Path(f"{stem}-{i}{suffix}")
        i += 1
    return path


def cmd_generate(args: argparse.Namespace) -> int:
    """One video to -o FILE; several (--seeds, --prompts-file, a file of specs) into -o DIR."""
    from .runs import generate_one, run_many

    specs = command_specs(args)
    if is_many(args, specs):
        if not args.output:
            raise UsageError(
                f"{len(specs)} videos to make: give -o DIR, the folder they go into (names: index, prompt, seed)"
            )
        if Path(args.output).suffix.lower() in (".mp4", ".gif", ".webp"):
            raise UsageError(f"{len(specs)} videos to make: -o names their folder, not a file ({args.output})")
        return run_many(specs, args.output, args)
    spec = specs[0]
    return generate_one(spec, Path(args.output) if args.output else _default_output(spec.model, args.format), args)


def cmd_demo(args: argparse.Namespace) -> int:
    from ..catalog.lookup import resolve
    from ..families import get_family
    from ..spec.inputs import INPUTS

    card = resolve(args.model)
    if args.prompt is None and get_family(card.family).accepts_prompt:
        args.prompt = "a white ferret leaps into a mountain stream"
    if "t2v" not in card.tasks and not any(getattr(args, name, None) for name in INPUTS):
        from ..checks.rules import TASK_INPUTS

        task = "i2v" if "i2v" in card.tasks else card.tasks[0]
        for name in TASK_INPUTS.get(task, ("image",)):  # what the task needs: a test picture, or it moving
            setattr(args, name, str(_demo_image() if INPUTS[name].kind == "image" else _demo_video()))
    return cmd_generate(args)


def _demo_image() -> Path:
    from ..testing import cache_root, sample_image

    path = cache_root() / "demo-image.png"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        sample_image().save(path)
    return path


def _demo_video() -> Path:
    """The demo picture sliding sideways, 9 frames (an animated GIF): for models that need a video."""
    import numpy as np
    from PIL import Image

    from ..testing import cache_root, sample_image

    path = cache_root() / "demo-video.gif"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        first = np.asarray(sample_image())
        frames = [Image.fromarray(np.roll(first, 8 * i, axis=1)) for i in range(9)]
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=125, loop=0)
    return path


def cmd_models(args: argparse.Namespace) -> int:
    from ..catalog.lookup import list_models
    from ..catalog.markdown import models_markdown

    if args.markdown:
        print(models_markdown())
        return 0
    if args.family is not None:
        _check_family(args.family, sorted({c.family for c in list_models()}))
    cards = list_models(args.family, include_tiny=not args.no_tiny)
    if args.json:
        keys = ("name", "family", "tasks", "repo", "width", "height", "num_frames", "fps", "steps", "guidance_scale")
        emit_json([{k: getattr(c, k) for k in keys} | {"tiny": bool(c.tiny)} for c in cards])
        return 0
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


def _check_family(family: str, families: list[str]) -> None:
    """`--family X` names a family of the catalog (an unknown one is an error, not an empty table)."""
    if family in families:
        return
    import difflib

    close = difflib.get_close_matches(family.lower(), families, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UsageError(f"--family {family!r} is not a model family{hint}; families: {', '.join(families)}")


def cmd_plan(args: argparse.Namespace) -> int:
    from ..generation.plan_report import plan, plan_table, table_markdown

    if args.table:  # the docs table: every catalog model at its default size on the table's machines
        print(table_markdown(plan_table(quality=args.quality)))
        return 0
    specs = command_specs(args)
    if len(specs) != 1:
        raise UsageError(f"--spec {args.spec}: {len(specs)} specs; plan takes one (see docs/cli.md)")
    report = plan(specs[0], simulate=args.simulate, gpu=args.gpu, ram=args.ram, quality=args.quality)
    if args.json:
        emit_json(report.to_dict())
    else:
        print(report)
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    from .env import env_info, format_env

    info = env_info()
    if args.json:
        emit_json(info)
    else:
        print(format_env(info))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """`videogen bench memory|speed ...`: the rest of the command line goes to that benchmark's own parser."""
    if args.bench == "speed":  # step caches vs the direct diffusers call
        from .bench import speed as bench_speed

        return bench_speed.main(args.bench_args)
    from .bench import memory as bench

    return bench.main(["memory", *args.bench_args])


def cmd_calibrate(args: argparse.Namespace) -> int:
    from ..generation.calibrate import calibrate

    (spec,) = command_specs(args)
    print(calibrate(spec, progress=not args.quiet)["path"])
    return 0


def cmd_preview_fit(args: argparse.Namespace) -> int:
    from ..generation.preview_fit import refit_preview

    (spec,) = command_specs(args)
    if spec.prompt is None:  # nothing is generated: any prompt the model accepts
        spec = spec.replace(prompt="a preview fit")
    report = refit_preview(spec, progress=not args.quiet)
    print(f"{report['path']} (rms colour error {report['rms_error']}, mean-colour baseline {report['rms_baseline']})")
    return 0


def _verbosity(default: object) -> argparse.ArgumentParser:
    """-v / -q, for the top parser (default False) and every command (default SUPPRESS: the top's value stays)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("-v", "--verbose", action="store_true", default=default, help="log what videogen does")
    parent.add_argument(
        "-q", "--quiet", action="store_true", default=default, help="no progress bars or summaries; only errors logged"
    )
    return parent


def _output_arguments(parser: argparse.ArgumentParser, *, many: bool = True, default: str = "") -> None:
    parser.add_argument(
        "-o",
        "--output",
        help="output .mp4/.gif/.webp, or a folder for .png frames"
        + ("; with several videos, the folder they go into" if many else "")
        + default,
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument(
        "--crf",
        type=int,
        help="mp4 quality: H.264 constant rate factor 0-51 (lower is better and bigger; default 18, visually lossless)",
    )
    if many:
        parser.add_argument(
            "--format",
            default="mp4",
            choices=("mp4", "gif", "webp", "png"),
            help="the outputs' format where -o doesn't name a file: several videos, or the default name (mp4)",
        )
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout (logs on stderr)")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from .runs import add_replay_arguments, cmd_batch, cmd_replay

    parser = argparse.ArgumentParser(
        prog="videogen", description="Open video-diffusion models, one call.", parents=[_verbosity(False)]
    )
    parser.add_argument("--version", action="version", version=f"videogen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = [_verbosity(argparse.SUPPRESS)]

    def command(name: str, help: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, parents=common)
        p.set_defaults(func=func)
        return p

    gen = command("generate", "generate a video (or several: --seeds, --prompts-file, --spec)", cmd_generate)
    add_spec_arguments(gen)
    add_spec_source_arguments(gen)
    _output_arguments(gen)

    demo = command("demo", "generate with a tiny offline model (default tiny-wan)", cmd_demo)
    add_spec_arguments(demo, model_default="tiny-wan")
    add_spec_source_arguments(demo)
    _output_arguments(demo)

    batch = command("batch", "generate every spec of a file into a folder (resumable)", cmd_batch)
    batch.add_argument("specs_file", metavar="SPECS", help="a JSON, JSON Lines, YAML or TOML file of specs")
    batch.add_argument("--out", required=True, metavar="DIR", help="the folder the videos and batch.json go into")
    batch.add_argument("--seeds", metavar="LIST", help="each spec once per seed: 1-8, 3,7,42")
    batch.add_argument("--prompts-file", metavar="FILE", help="each spec once per prompt (one per line)")
    batch.add_argument("--format", default="mp4", choices=("mp4", "gif", "webp", "png"), help="(default mp4)")
    batch.add_argument("--overwrite", action="store_true", help="replace files in the way that this batch didn't make")
    batch.add_argument(
        "--no-resume", dest="resume", action="store_false", help="redo every spec, even those already made"
    )
    batch.add_argument("--crf", type=int, help="mp4 quality (see generate --crf)")
    batch.add_argument(
        "--ray",
        nargs="?",
        const=True,
        default=None,
        metavar="ADDRESS",
        help="run on Ray actors (the [ray] extra): alone, a local Ray instance; with an address ('auto', "
        "'ray://head:10001'), a cluster (out DIR on a shared filesystem). Put it after SPECS or write --ray=ADDRESS",
    )
    batch.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="with --ray: N workers (default: one per GPU; on a CPU-only machine, 1)",
    )
    batch.add_argument("--json", action="store_true", help="one JSON document on stdout (the report)")

    replay = command("replay", "make a video again from its metadata, optionally with changes", cmd_replay)
    add_replay_arguments(replay)
    _output_arguments(replay, many=False, default=" (default: <name>-replay.mp4 beside it, never the original)")

    models = command("models", "list the catalog", cmd_models)
    models.add_argument("--family", help="only this family's models (wan, ltx, cogvideox, ...)")
    models.add_argument("--no-tiny", action="store_true", help="leave out the tiny test models")
    how_models = models.add_mutually_exclusive_group()
    how_models.add_argument("--markdown", action="store_true", help="print docs/models.md")
    how_models.add_argument("--json", action="store_true", help="one JSON list of the models")

    plan = command("plan", "show the memory plan for a spec, without loading weights", cmd_plan)
    add_spec_arguments(plan)
    plan.add_argument("--spec", metavar="FILE", help="the spec from a file (one spec); flags override its fields")
    plan.add_argument("--json", action="store_true", help="the report as one JSON document")
    plan.add_argument(
        "--gpu",
        metavar="SIZE|NAME",
        help="plan for this GPU instead of this machine's: a size (12GB: the commonest card of that size "
        "stands for its speed) or a name (rtx4090, rtx3060, l40s, a100, h100, h200, ...)",
    )
    plan.add_argument("--ram", metavar="SIZE", help="plan for this much free RAM (32GB) instead of this machine's")
    plan.add_argument(
        "--table",
        action="store_true",
        help="print the table of docs/memory.md: auto's plan and predicted s/step for every catalog model at "
        "its default size on 8-80 GB GPUs with 32 and 64 GB of RAM",
    )
    plan.add_argument(
        "--quality",
        choices=("auto", "lossless", "any"),
        default="auto",
        help="which plans auto may take: lossless first, then 8-bit, then 4-bit weights (auto, the default); "
        "lossless only; or the fastest that fits (any)",
    )
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

    env = command("env", "versions, accelerator and cache folders, for bug reports", cmd_env)
    env.add_argument("--json", action="store_true", help="one JSON document")

    bench = command("bench", "benchmarks: memory (presets) and speed (step caches)", cmd_bench)
    benches = bench.add_subparsers(dest="bench", required=True, metavar="BENCH")
    for name, help in BENCHES.items():  # their own parsers read the rest: videogen bench NAME --help
        benches.add_parser(name, help=f"{help}; videogen bench {name} --help", add_help=False, parents=common)

    calibrate = command("calibrate", "measure and store MagCache's ratios (model, scheduler, steps)", cmd_calibrate)
    add_spec_arguments(calibrate)

    preview_fit = command(
        "preview-fit", "fit the live previews' latent-to-RGB projection of a model's VAE again", cmd_preview_fit
    )
    add_spec_arguments(preview_fit)

    from ..serve.main import add_arguments as add_serve_arguments  # no FastAPI until it serves

    add_serve_arguments(command("serve", "the OpenAI video API over a durable job queue (docs/serve.md)", cmd_serve))
    return parser


def cmd_serve(args: argparse.Namespace) -> int:
    from ..serve.main import run_command

    return run_command(args)


def _configure_logging(verbose: bool, quiet: bool) -> None:
    """videogen's own log lines on stderr (info with -v, errors only with -q); other libraries only for errors."""
    logging.basicConfig(level=logging.ERROR, format="%(name)s: %(message)s")
    logger = logging.getLogger("videogen")
    logger.setLevel(logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING)


#: a Python setting in a message, after the word that makes it a hint: "pass snap=True", "use memory='low'"
_HINT = re.compile(r"\b(pass|use|set|or|with) ([a-z_]+)=(True|False|'[^']*'|\"[^\"]*\"|-?[0-9][0-9.]*)(?=[\s,;:.)]|$)")
QUOTES = "'\""
#: "overwrite=True (CLI: --overwrite)": the library already said both
_BOTH = re.compile(r"\b[a-z_]+=\S+ \(CLI: ([^)]+)\)")


def cli_message(message: str, parser: argparse.ArgumentParser) -> str:
    """A library message as the command line says it: its hints name the flags (`pass --snap`), not Python
    arguments (`pass snap=True`). Settings without a flag of this command stay as they are."""
    actions = {a.dest: a for a in parser._actions if any(o.startswith("--") for o in a.option_strings)}

    def flag(match: re.Match[str]) -> str:
        word, name, value = match.groups()
        action = actions.get(name)
        if action is None or action.dest in ("help", "version"):
            return match.group(0)
        option = next(o for o in action.option_strings if o.startswith("--"))
        takes_value = action.nargs != 0
        if value in ("True", "False"):
            negated = next((o for o in action.option_strings if o.startswith("--no-")), None)
            if value == "True" and (not takes_value or action.nargs == "?"):
                return f"{word} {option}"
            if value == "False" and negated:
                return f"{word} {negated}"
            return match.group(0)
        if not takes_value:
            return match.group(0)
        return f"{word} {option} {shlex.quote(value.strip(QUOTES))}"

    return _HINT.sub(flag, _BOTH.sub(lambda m: m.group(1), message))


def _command_parser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser:
    """The parser of `command` (its flags), or the top parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "bench":
        args.bench_args = rest
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    _configure_logging(args.verbose, args.quiet)
    try:
        with third_party_output(args.verbose, args.quiet):
            return int(args.func(args) or 0)
    except (VideoGenError, FileNotFoundError) as exc:
        print(f"videogen: error: {cli_message(str(exc), _command_parser(parser, args.command))}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("videogen: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `videogen models | head`: the reader left; no traceback, no flush error at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
