"""Finite, bounded numbers anywhere in a value (extra arguments, scheduler arguments): pure Python."""

from __future__ import annotations

import math
import numbers
from typing import Any

from ..errors import SpecError

#: the largest integer a pipeline argument may hold (int64)
MAX_EXTRA_INT = 2**63 - 1


def whole_int(value: numbers.Real) -> int:
    """A whole number (5, numpy's int64(5), 5.0, Fraction(5)) as an exact int: an Integral as it is, any
    other Real through its floor (no rounding through float)."""
    return int(value) if isinstance(value, numbers.Integral) else int(math.floor(value))


def check_numbers(value: Any, label: str, field: str, depth: int = 0) -> None:
    """Numbers in `value` (itself, or in its lists, tuples and dicts) must be finite and fit in int64."""
    if isinstance(value, bool) or depth > 8:
        return
    if isinstance(value, numbers.Integral):
        if abs(int(value)) > MAX_EXTRA_INT:
            raise SpecError(
                f"{label}={value!r} is too large: pipeline arguments must fit in 64 bits (at most {MAX_EXTRA_INT})",
                field=field,
            )
    elif isinstance(value, numbers.Real):
        if not math.isfinite(value):
            raise SpecError(
                f"{label}={value!r} must be a finite number (pipelines compute with it; inf and "
                "nan give a black or broken video)",
                field=field,
            )
    elif isinstance(value, dict):
        for k, v in value.items():
            check_numbers(v, f"{label}[{k!r}]", field, depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_numbers(v, f"{label}[{i}]", field, depth + 1)


def check_extra_values(extra: dict[str, Any]) -> None:
    """Numbers anywhere in `extra` (top level, lists, dicts) must be finite and fit in int64."""
    for key, value in extra.items():
        check_numbers(value, f"extra[{key!r}]", "extra")
