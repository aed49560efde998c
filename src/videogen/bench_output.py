"""What the benchmarks share for their output: an aligned text table and matplotlib, if installed."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any


def aligned(rows: Sequence[Sequence[Any]]) -> list[str]:
    """Rows of cells as lines, each column padded to its widest cell."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]


def pyplot() -> Any | None:
    """`matplotlib.pyplot` on the Agg backend, or None (and why, on stderr) when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no chart: pip install 'videogen-diffusers[bench]' (matplotlib)", file=sys.stderr)
        return None
    return plt
