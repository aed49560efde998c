"""The spec flags of the `videogen` command, generated from VideoSpec's fields, and the specs they make.

Every VideoSpec field is one flag (`FLAGS` holds its help, value parser and option name; a field without an
entry still gets `--field-name`, read as JSON or text), so the command can't drift from the spec: a test
checks both ways. `command_specs` turns parsed arguments into specs: the `--spec` file's specs (or one
empty spec), the flags given on the command line over them, `--seeds` / `--prompts-file` expanded, and
`--attention-backend` merged into each spec's memory plan.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import VideoGenError
from ..spec.inputs import INPUTS
from ..spec.videospec import TASKS, VideoSpec

if TYPE_CHECKING:
    from ..memory.plans import MemoryPlan

#: the title of the argument group that holds exactly one flag per VideoSpec field
SPEC_GROUP = "spec fields (VideoSpec; unset: the model's default)"
#: files `--memory` reads a plan from
PLAN_SUFFIXES = (".json", ".yaml", ".yml", ".toml")


class UsageError(VideoGenError):
    """A flag combination that makes no sense (one line, exit status 2, like any user mistake)."""


# ---- value parsers (argparse `type=`: syntax only; the spec checks the meaning) --------------------------
def key_value(text: str) -> tuple[str, Any]:
    """`key=value` with value parsed as JSON when it can be (numbers, booleans, lists), else a string."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not key=value (e.g. strength=0.7)")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def lora_value(text: str) -> tuple[str, float]:
    """`PATH[:WEIGHT]` (the weight is a number after the last colon)."""
    source, sep, weight = text.rpartition(":")
    if sep and source:
        try:
            return source, float(weight)
        except ValueError:
            pass
    return text, 1.0


def json_or_text(text: str) -> Any:
    """A JSON object or list when the text starts like one, else the text itself."""
    if text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not valid JSON: {exc}") from None
    return text


def cache_value(text: str) -> Any:
    """--cache: a method name, or a JSON object {"method": name, **knobs}."""
    return json_or_text(text)


def memory_value(text: str) -> Any:
    """--memory: "auto" or a preset name (kept as text), a JSON object of MemoryPlan fields, or a plan file.

    A plan (JSON or file) comes back as a dict of MemoryPlan fields; the spec checks them (a SpecError names
    the field and lists the valid ones)."""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        plan = json_or_text(stripped)
    elif Path(stripped).suffix.lower() in PLAN_SUFFIXES or os.sep in stripped:
        plan = read_plan_file(Path(stripped))
    else:
        return stripped
    if not isinstance(plan, dict):
        raise argparse.ArgumentTypeError(
            f"--memory {text!r}: a plan is an object of MemoryPlan fields, e.g. "
            '\'{"placement": "group", "vae_tiling": true}\''
        )
    return plan


def read_plan_file(path: Path) -> Any:
    """The content of a plan file: JSON, YAML or TOML (a table of MemoryPlan fields), read within the bounds of a
    spec file (a regular file, not too large or deep: specformats.py)."""
    from ..errors import SpecError
    from ..spec.formats import parse, read_text

    if not path.is_file():
        raise argparse.ArgumentTypeError(
            f"--memory {path}: no such plan file; give a preset name (auto, none, balanced, low, minimal, ...), "
            "a JSON plan such as '{\"vae_tiling\": true}' or an existing .json/.yaml/.toml file"
        )
    suffix = path.suffix.lower()
    kind = "yaml" if suffix in (".yaml", ".yml") else "toml" if suffix == ".toml" else "json"
    name = str(path)
    try:
        text = read_text(path, f"{name}: no such plan file", f"{name}: cannot read the plan file", "memory")
        return parse(text, kind, name, "memory")
    except SpecError as exc:
        raise argparse.ArgumentTypeError(f"--memory {exc}") from None


# ---- the flag table ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Flag:
    """How one VideoSpec field appears on the command line."""

    help: str
    type: Callable[[str], Any] | None = None
    #: the long option when it isn't `--field-name` (e.g. `--lora` for `loras`)
    option: str | None = None
    short: str | None = None
    metavar: str | None = None
    #: may be given several times (the values make a list, or a dict for KEY=VALUE)
    repeat: bool = False
    #: `--x` / `--no-x`
    switch: bool = False
    choices: tuple[str, ...] | None = None


FLAGS: dict[str, Flag] = {
    "model": Flag(
        "catalog name, Hub repo id (org/repo[@revision]) or local pipeline folder (see `videogen models`)", short="-m"
    ),
    "prompt": Flag("what the video shows", short="-p"),
    "negative_prompt": Flag("what it should not show"),
    # the inputs: one flag each from their table (spec/inputs.py); a list input's flag is repeatable
    **{
        name: Flag(i.help, option=i.option, metavar="PATH|URL", repeat=i.kind == "images") for name, i in INPUTS.items()
    },
    "height": Flag("height in pixels", type=int),
    "width": Flag("width in pixels", type=int),
    "num_frames": Flag("frames to generate (each model has its rule, e.g. 4k+1 for Wan)", type=int),
    "fps": Flag("playback frames per second", type=int),
    "steps": Flag("denoising steps", type=int),
    "guidance_scale": Flag("classifier-free guidance scale", type=float),
    "seed": Flag("random seed (default: a random one, printed and stored in the metadata)", type=int),
    "task": Flag("what to do (default: inferred from the inputs)", choices=TASKS),
    "memory": Flag(
        "auto, a preset name (see `videogen plan`), a JSON plan such as "
        '\'{"placement": "group", "vae_tiling": true}\' or a plan file (.json/.yaml/.toml) of MemoryPlan fields '
        "(docs/memory.md)",
        type=memory_value,
        metavar="PRESET|JSON|FILE",
    ),
    "scheduler": Flag(
        "a diffusers scheduler class name (its arguments: --scheduler-arg), or JSON such as "
        '\'{"name": "UniPCMultistepScheduler", "flow_shift": 5.0}\'',
        type=json_or_text,
        metavar="NAME|JSON",
    ),
    "loras": Flag(
        "a LoRA file, folder or Hub repo id, with an optional weight after the last colon (repeatable)",
        type=lora_value,
        option="--lora",
        metavar="PATH[:WEIGHT]",
        repeat=True,
    ),
    "extra": Flag(
        "a keyword argument for the pipeline call, e.g. --extra strength=0.7 (repeatable)",
        type=key_value,
        metavar="KEY=VALUE",
        repeat=True,
    ),
    "snap": Flag("round size and frames to valid values (--no-snap: refuse invalid ones)", switch=True),
    "revision": Flag("Hub branch, tag or commit of the model (also model@revision)"),
    "cache": Flag(
        "step cache: none, auto, fbc, taylorseer, magcache, pab, fastercache, or JSON such as "
        '\'{"method": "fbc", "threshold": 0.1}\' (docs/speed.md)',
        type=cache_value,
        metavar="METHOD|JSON",
    ),
    "parallel": Flag(
        "context parallelism for one video under torchrun: ulysses=N, ring=N or ulysses=N,ring=M (docs/scale.md)",
        type=json_or_text,
        metavar="DEGREES",
    ),
    "fit": Flag(
        "how an input image meets the video's size: follow (default: the video takes the image's aspect ratio "
        "unless --height/--width are given), crop, pad or stretch (docs/inputs.md)",
        metavar="FIT",
    ),
    "audio": Flag("sound, for models that make it (LTX-2; --no-audio: a silent video; docs/sound.md)", switch=True),
}


def flag_for(name: str) -> Flag:
    """The flag of VideoSpec field `name`: its table entry, else `--name` read as JSON or text."""
    return FLAGS.get(name) or Flag(f"VideoSpec.{name} (JSON or text)", type=json_or_text)


def option_for(name: str) -> str:
    """The long option of VideoSpec field `name` (`--num-frames`, `--lora`)."""
    return flag_for(name).option or "--" + name.replace("_", "-")


def add_spec_arguments(parser: argparse.ArgumentParser, model_default: str | None = None) -> None:
    """One flag per VideoSpec field (in the group `SPEC_GROUP`), and the helper flags beside them."""
    group = parser.add_argument_group(SPEC_GROUP)
    for f in dataclasses.fields(VideoSpec):
        flag = flag_for(f.name)
        names = [option_for(f.name)] + ([flag.short] if flag.short else [])
        kwargs: dict[str, Any] = {"dest": f.name, "help": flag.help, "default": None}
        if f.name == "model" and model_default:
            kwargs["default"] = model_default
            kwargs["help"] += f" (default {model_default})"
        if flag.switch:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs.update(type=flag.type, metavar=flag.metavar, choices=flag.choices)
            if flag.repeat:
                kwargs["action"] = "append"
        group.add_argument(*names, **kwargs)
    helpers = parser.add_argument_group("spec helpers")
    helpers.add_argument(
        "--scheduler-arg", action="append", type=key_value, default=[], metavar="KEY=VALUE", help="(repeatable)"
    )
    helpers.add_argument(
        "--attention-backend",
        metavar="NAME",
        help="the denoiser's attention backend (native, flash, sage, ... or auto), set in the memory plan: with "
        "a preset, that preset with attention_backend replaced; with memory auto, the preset auto picks",
    )


def add_spec_source_arguments(parser: argparse.ArgumentParser) -> None:
    """`--spec FILE`, `--seeds`, `--prompts-file`: where several specs come from."""
    parser.add_argument(
        "--spec",
        metavar="FILE",
        help="spec(s) from a JSON, JSON Lines, YAML or TOML file; flags given here override its fields",
    )
    parser.add_argument("--seeds", metavar="LIST", help="one video per seed: 1-8, 3,7,42 or 1-3,9")
    parser.add_argument("--prompts-file", metavar="FILE", help="one video per prompt: a text file, one per line")


def spec_fields(args: argparse.Namespace) -> dict[str, Any]:
    """VideoSpec fields from the flags given (unset flags are left out: the model's defaults apply)."""
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(VideoSpec):
        value = getattr(args, f.name, None)
        if value is None:
            continue
        if f.name == "extra":
            value = dict(value)
        elif f.name == "loras" or flag_for(f.name).repeat:
            value = list(value)
        fields[f.name] = value
    scheduler_args = dict(getattr(args, "scheduler_arg", None) or [])
    if "scheduler" in fields:
        name = fields["scheduler"]
        fields["scheduler"] = {**name, **scheduler_args} if isinstance(name, dict) else {"name": name, **scheduler_args}
    elif scheduler_args:
        raise UsageError("--scheduler-arg needs --scheduler NAME")
    return fields


def override(spec: VideoSpec, fields: Mapping[str, Any]) -> VideoSpec:
    """`spec` with the flags' fields over it; `extra` is merged key by key (a flag's key wins)."""
    changes = dict(fields)
    if "extra" in changes and spec.extra:
        changes["extra"] = {**spec.extra, **changes["extra"]}
    return spec.replace(**changes) if changes else spec


def with_attention_backend(spec: VideoSpec, backend: str) -> VideoSpec:
    """`spec` with `backend` as its memory plan's attention_backend.

    A preset name becomes that preset with the field replaced (it still adapts like the preset); a plan or
    a dict of plan fields gets the field; "auto" becomes the preset auto picks for this spec (prepared
    without weights, as `videogen plan` prepares it), with the backend and auto's out-of-memory retry."""
    from ..memory.plans import MemoryPlan
    from ..memory.presets import PRESETS, preset

    memory = spec.memory
    if memory is None or memory == "auto":
        from ..generation.plan_report import (
            prepare_for_plan,  # placeholders for missing inputs: only the plan matters here
        )

        chosen: MemoryPlan = prepare_for_plan(spec, {}).plan
        plan = preset(chosen.name) if chosen.name in PRESETS else chosen
        return spec.replace(memory=plan.replace(attention_backend=backend, oom_retry=chosen.oom_retry))
    if isinstance(memory, str):
        return spec.replace(memory=preset(memory, attention_backend=backend))
    if isinstance(memory, MemoryPlan):
        return spec.replace(memory=memory.replace(attention_backend=backend))
    if isinstance(memory, Mapping):
        return spec.replace(memory={**memory, "attention_backend": backend})
    return spec  # not a plan: prepare names the memory field's forms


def is_many(args: argparse.Namespace, specs: Sequence[VideoSpec]) -> bool:
    """Whether the arguments ask for several videos (a folder of outputs through the batch runner)."""
    given = getattr(args, "seeds", None) is not None or getattr(args, "prompts_file", None) is not None
    return given or len(specs) > 1


def command_specs(args: argparse.Namespace) -> list[VideoSpec]:
    """The specs a command's arguments describe: the `--spec` file's (or one), flags over them, expanded."""
    fields = spec_fields(args)
    check_arguments_text(fields)
    if getattr(args, "spec", None):
        from ..spec.files import load_specs

        bases = list(load_specs(args.spec))
        if not bases:
            raise UsageError(f"--spec {args.spec}: the file holds no spec")
    else:
        bases = [VideoSpec()]
    specs = [override(base, fields) for base in bases]
    lists: dict[str, list[Any]] = {}
    if getattr(args, "seeds", None) is not None:  # `--seeds ""` names no seed: parse_seeds says so
        from ..spec.sweep import parse_seeds

        lists["seed"] = list(parse_seeds(args.seeds))
    if getattr(args, "prompts_file", None) is not None:
        from ..spec.sweep import read_prompts

        lists["prompt"] = list(read_prompts(args.prompts_file))
    if lists:
        from ..spec.sweep import expand

        specs = [one for spec in specs for one in expand(spec, **lists)]
    backend = getattr(args, "attention_backend", None)
    if backend:
        specs = [with_attention_backend(spec, backend) for spec in specs]
    return specs


def check_arguments_text(fields: Mapping[str, Any]) -> None:
    """The flags' text must be valid UTF-8: an argument of other bytes (a terminal in another encoding) arrives
    as lone surrogates, which can't be hashed, recorded or passed on; a SpecError naming the flag."""
    from ..spec.plain import check_text

    def walk(value: Any, name: str) -> None:
        if isinstance(value, str):
            check_text(value, option_for(name), name)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                walk(key, name)
                walk(item, name)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item, name)

    for name, value in fields.items():
        walk(value, name)


def emit_json(data: Any) -> None:
    """One JSON document on stdout (values JSON can't hold as text)."""
    import sys

    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()
