"""What the benchmarks share for their output: an aligned text table, matplotlib if installed, and writing a
report (JSON, the printed table, the chart)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
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


def write_report(
    report: Mapping[str, Any],
    out_dir: str | Path,
    stem: str,
    format_table: Callable[[Any], str],
    chart: Callable[[Any, Path], Path | None],
) -> None:
    """`out_dir/<stem>.json`, the table printed, and `out_dir/<stem>.png` where matplotlib is installed."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(report, indent=1))
    print(format_table(report))
    drawn = chart(report, out / f"{stem}.png")
    print(f"wrote {out / f'{stem}.json'}" + (f" and {drawn}" if drawn else ""))
