"""What the `videogen` command does with specs: one video, several into a folder (the batch runner), a replay.

Output contract: without `--json`, stdout holds only output paths (one per line) and everything else goes to
stderr (`seed 1234`, a summary); with `--json`, stdout is one JSON document. Exit status: 0 when every
video was made (or was already there), 1 when any spec of a batch failed, 2 for a user mistake that stops
the command before anything runs (the `main` in cli.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..spec.inputs import INPUTS
from .args import UsageError, emit_json, key_value

if TYPE_CHECKING:
    from ..generation.result import VideoResult
    from ..spec.videospec import VideoSpec

#: exit status when some spec of a batch failed (the others were made)
EXIT_SOME_FAILED = 1
#: result metadata `--json` repeats beside the headline figures
METADATA_KEYS = ("model", "spec", "device", "memory_plan", "cache", "fit", "snapped", "inputs", "parallel", "versions")


def main_process() -> bool:
    """Whether this process writes and prints: rank 0 under torchrun (or not distributed)."""
    try:
        from ..speed.parallel.checks import is_main_process
    except ImportError:  # a build without videogen.speed.parallel.checks: never distributed
        return True
    return bool(is_main_process())


def result_summary(result: VideoResult, path: Path | None) -> dict[str, Any]:
    """What `--json` prints for one video: path, seed, frames, size, fps, timings and part of the metadata."""
    meta = result.metadata
    out: dict[str, Any] = {
        "path": str(path) if path is not None else None,
        "seed": result.seed,
        "frames": result.num_frames,
        "width": result.width,
        "height": result.height,
        "fps": result.fps,
        "timings": meta.get("timings"),
    }
    out.update({key: meta[key] for key in METADATA_KEYS if key in meta})
    return out


def report_result(result: VideoResult, path: Path, args: argparse.Namespace) -> None:
    """The path on stdout (alone) and the seed and a summary on stderr; or one JSON document with `--json`."""
    if args.json:
        emit_json(result_summary(result, path))
        return
    print(path, flush=True)
    if not args.quiet:
        t = result.metadata.get("timings", {})
        print(f"seed {result.seed}", file=sys.stderr)
        sound = f", sound {result.audio.sample_rate} Hz" if result.audio is not None else ""
        print(
            f"{result.num_frames} frames {result.width}x{result.height} @ {result.fps} fps{sound}, "
            f"{t.get('total_s', 0.0):.2f} s",
            file=sys.stderr,
        )


def generate_one(spec: VideoSpec, output: Path, args: argparse.Namespace) -> int:
    """One video to `output`; under torchrun every rank generates and only rank 0 saves and prints."""
    from ..generation.flow import generate

    result = generate(spec, progress=not args.quiet)
    if not main_process():
        return 0
    out = result.save(output, overwrite=args.overwrite, crf=args.crf)
    report_result(result, out, args)
    return 0


def run_many(specs: Sequence[VideoSpec], out_dir: str | Path, args: argparse.Namespace) -> int:
    """Several specs into the folder `out_dir` through the batch runner: one path per line as each finishes
    (failures on stderr), a summary on stderr or one JSON document; exit status 1 if any spec failed."""
    from ..generation.batch.on_ray import generate_many  # in process, or on Ray actors with --ray (docs/scale.md)

    if _world_size() > 1:  # every rank would make and write every video
        raise UsageError(
            "several videos under torchrun: context parallelism makes one video at a time; run `videogen "
            "generate` once per spec under torchrun, or the batch without torchrun"
        )
    started = time.perf_counter()
    items = []
    for item in generate_many(
        list(specs),
        out_dir,
        fmt=args.format,
        overwrite=args.overwrite,
        resume=getattr(args, "resume", True),
        progress=not args.quiet,
        crf=args.crf,
        ray=getattr(args, "ray", None),
        workers=getattr(args, "workers", None),
    ):
        items.append(item)
        if args.json:
            continue
        if item.status == "failed":
            print(f"videogen: spec {item.index}: {item.error}", file=sys.stderr, flush=True)
        else:
            print(item.path, flush=True)
    counts = {s: sum(1 for i in items if i.status == s) for s in ("done", "skipped", "failed")}
    report = Path(out_dir) / "batch.json"
    seconds = time.perf_counter() - started
    if args.json:
        emit_json(
            {
                "out": str(out_dir),
                "report": str(report),
                "total": len(items),
                **counts,
                "seconds": round(seconds, 3),
                "items": [_item_dict(i) for i in sorted(items, key=lambda i: i.index)],
            }
        )
    elif not args.quiet or counts["failed"]:
        print(
            f"{len(items)} specs: {counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed "
            f"in {seconds:.1f} s; report {report}",
            file=sys.stderr,
        )
    return EXIT_SOME_FAILED if counts["failed"] else 0


def _world_size() -> int:
    """Processes torchrun launched (1 when not distributed)."""
    try:
        return int(os.environ.get("WORLD_SIZE") or 1)
    except ValueError:
        return 1


def _item_dict(item: Any) -> dict[str, Any]:
    return {
        "index": item.index,
        "status": item.status,
        "path": str(item.path) if item.path is not None else None,
        "seed": getattr(item, "seed", None),
        "seconds": round(item.seconds, 3),
        "error": item.error,
    }


# ---- batch ---------------------------------------------------------------------------------------------
def cmd_batch(args: argparse.Namespace) -> int:
    """`videogen batch SPECS --out DIR`: every spec of the file (expanded by --seeds / --prompts-file)."""
    from .args import command_specs

    args.spec = args.specs_file
    specs = command_specs(args)
    return run_many(specs, args.out, args)


# ---- replay --------------------------------------------------------------------------------------------
def replay_output(original: Path) -> Path:
    """`<stem>-replay<suffix>` beside the original (then -replay-1, -replay-2, ...): never an existing path."""
    suffix = "".join(original.suffixes[-1:]) if original.is_file() or original.suffix else ""
    stem = original.name[: len(original.name) - len(suffix)] if suffix else original.name
    path = original.with_name(f"{stem}-replay{suffix}")
    i = 1
    while path.exists():
        path = original.with_name(f"{stem}-replay-{i}{suffix}")
        i += 1
    return path


def cmd_replay(args: argparse.Namespace) -> int:
    """`videogen replay OUT.mp4 [--set k=v ...] [--image PATH] [-o NEW]`: the video made again from its metadata."""
    from ..generation.replay import replay_spec

    original = Path(args.path)
    changes = dict(args.set or [])
    media = {name: getattr(args, name) for name in INPUTS if getattr(args, name, None)}
    spec = replay_spec(original, **media, **changes)
    output = Path(args.output) if args.output else replay_output(original)
    if output.resolve() == original.resolve():
        raise UsageError(f"-o {output}: that is the video being replayed; give another path (it is never replaced)")
    return generate_one(spec, output, args)


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="VIDEO", help="a video videogen made (its sidecar or embedded metadata)")
    parser.add_argument(
        "--set",
        action="append",
        type=key_value,
        metavar="FIELD=VALUE",
        help="change a VideoSpec field, e.g. --set steps=50 (value JSON or text; repeatable)",
    )
    for name, i in INPUTS.items():  # each input of spec/inputs.py
        action = "append" if i.kind == "images" else "store"
        parser.add_argument(i.flag, dest=name, action=action, metavar="PATH|URL", help=f"replace the recorded {name}")
