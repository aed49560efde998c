"""Sweeps: one spec expanded over lists of field values (`videogen.expand`), and the CLI's seed ranges and prompt
files (`parse_seeds`, `read_prompts`). Pure Python."""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Mapping
from typing import Any

from ..errors import SpecError
from .plain import unknown_field
from .videospec import SPEC_FIELDS, VideoSpec

#: a sweep of more specs than this is refused (a typo like seed=range(10**9) would never finish)
MAX_SPECS = 10_000

_SEED_PART = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")
SEED_FORMS = "write seeds as '1-8' (a range), '3,7,42' (a list) or both, e.g. '1-3,9'"


def expand(spec: VideoSpec | Mapping[str, Any] | None = None, /, **values: Any) -> list[VideoSpec]:
    """Every combination of the values given as lists: `expand(spec, seed=[1, 2, 3], prompt=["a", "b"])` is six
    specs, the last field varying fastest. A value that is not a list (or range) is one value for every spec; a
    list-valued field (`loras`, a frame list for `video`) is swept as a list of such lists. At most `MAX_SPECS`."""
    if spec is None:
        base = VideoSpec()
    elif isinstance(spec, VideoSpec):
        base = spec
    elif isinstance(spec, Mapping):
        base = VideoSpec(**spec)
    else:
        raise SpecError(f"expand: spec must be a VideoSpec or a dict of its fields, not {type(spec).__name__}")
    axes: list[tuple[str, list[Any]]] = []
    for name, value in values.items():
        if name not in SPEC_FIELDS:
            raise unknown_field(name, SPEC_FIELDS, "expand: ")
        options = list(value) if isinstance(value, (list, range)) else [value]
        if not options:
            raise SpecError(f"expand: {name}=[] sweeps over nothing; give at least one value", field=name)
        axes.append((name, options))
    total = math.prod(len(options) for _, options in axes)
    if total > MAX_SPECS:
        sizes = " × ".join(f"{len(options)} {name}" for name, options in axes)
        raise SpecError(
            f"expand: {sizes} is {total:,} specs, more than {MAX_SPECS:,}; sweep fewer values at a time",
            field=axes[0][0],
        )
    names = [name for name, _ in axes]
    return [base.replace(**dict(zip(names, combo))) for combo in itertools.product(*(o for _, o in axes))]


def parse_seeds(text: str) -> list[int]:
    """Seeds from "1-8" (inclusive range), "3,7,42" or "1-3,9", in the order written; a SpecError for anything
    else, a range that runs backwards, a seed given twice or more than `MAX_SPECS` seeds."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"seeds: {text!r} names no seed; {SEED_FORMS}", field="seed")
    seeds: list[int] = []
    for part in text.split(","):
        match = _SEED_PART.fullmatch(part)
        if match is None:
            raise SpecError(f"seeds: {part.strip()!r} in {text!r} is not a seed or a range; {SEED_FORMS}", field="seed")
        first = int(match[1])
        last = int(match[2]) if match[2] is not None else first
        if last < first:
            raise SpecError(f"seeds: the range {first}-{last} runs backwards; write {last}-{first}", field="seed")
        if len(seeds) + last - first + 1 > MAX_SPECS:
            raise SpecError(f"seeds: {text!r} is more than {MAX_SPECS:,} seeds; sweep fewer at a time", field="seed")
        seeds.extend(range(first, last + 1))
    seen: set[int] = set()
    for seed in seeds:
        if seed in seen:
            raise SpecError(f"seeds: {text!r} names seed {seed} twice; name each seed once", field="seed")
        seen.add(seed)
    return seeds


def read_prompts(path: str | os.PathLike[str]) -> list[str]:
    """The prompts of a text file: one per non-empty line, surrounding spaces stripped; lines starting with `#`
    are comments. A missing, unreadable (not a regular file, over 64 MiB, not UTF-8) or empty file, or a NUL
    character in it, is a SpecError."""
    from .formats import read_text

    name = os.fspath(path)
    text = read_text(
        path,
        f"prompts file {name!r}: no such file; one prompt per line",
        f"prompts file {name!r}: cannot read it",
        "prompt",
    )
    for number, line in enumerate(text.splitlines(), 1):
        if "\x00" in line:
            raise SpecError(
                f"prompts file {name!r}, line {number}: holds a NUL character (a binary file?); write one prompt "
                "per line as UTF-8 text",
                field="prompt",
            )
    prompts = [line.strip() for line in text.splitlines()]
    prompts = [p for p in prompts if p and not p.startswith("#")]
    if not prompts:
        raise SpecError(f"prompts file {name!r} holds no prompts; write one prompt per line", field="prompt")
    return prompts
