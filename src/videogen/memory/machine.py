"""The machine a plan is for: this one, or one described (`videogen.plan(spec, gpu="12GB", ram="32GB")`,
`videogen plan --gpu rtx4090`), for as long as a `target(...)` block runs (a context variable, so threads
and other calls are not affected).

Reading this machine's GPU (`torch.cuda`) stays in estimate.py; this module only holds what was described.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from ..errors import SpecError
from .gpus import GIB, GPU, parse_gpu, parse_size


@dataclass(frozen=True)
class Target:
    """A described machine: a GPU (its table entry and memory, all free) and free RAM, either may be None."""

    gpu: GPU | None = None
    ram_bytes: int | None = None

    @property
    def gpu_bytes(self) -> int | None:
        return int(self.gpu.memory_gib * GIB) if self.gpu is not None else None

    def describe(self) -> str:
        parts = [self.gpu.label() if self.gpu else None, f"{self.ram_bytes / GIB:g} GB RAM" if self.ram_bytes else None]
        return ", ".join(p for p in parts if p)


_TARGET: ContextVar[Target | None] = ContextVar("videogen_target", default=None)


def described(gpu: object = None, ram: object = None) -> Target | None:
    """The Target for `gpu` ("12GB", 12, "rtx4090") and `ram` ("32GB", 32); SpecError naming the field."""
    if gpu is None and ram is None:
        return None
    try:
        card = parse_gpu(gpu) if gpu is not None else None
    except ValueError as exc:
        raise SpecError(str(exc), field="gpu") from None
    try:
        ram_bytes = int(parse_size(ram, "ram") * GIB) if ram is not None else None
    except ValueError as exc:
        raise SpecError(str(exc), field="ram") from None
    return Target(card, ram_bytes)


@contextlib.contextmanager
def target(gpu: object = None, ram: object = None) -> Iterator[Target | None]:
    """Plan for the machine described (nothing described: this machine) while the block runs."""
    found = described(gpu, ram)
    if found is None:
        yield None
        return
    token = _TARGET.set(found)
    try:
        yield found
    finally:
        _TARGET.reset(token)


def current() -> Target | None:
    """The machine described for this block, or None."""
    return _TARGET.get()
