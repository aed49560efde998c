"""`videogen bench memory` runs its small CPU configuration: table, JSON and PNG."""

from __future__ import annotations

import json
from typing import Any

from videogen.cli.bench import memory as bench


def test_bench_memory_small_on_the_cpu(tmp_path: Any, capsys: Any) -> None:
    code = bench.main(["memory", "--small", "--steps", "2", "--presets", "none,low,balanced", "--out", str(tmp_path)])
    assert code == 0
    report = json.loads((tmp_path / "bench-memory.json").read_text())
    rows = {r["preset"]: r for r in report["presets"]}
    assert report["model"] == "tiny-wan" and report["device"] == "cpu"
    assert rows["none"]["s_per_step"] > 0 and rows["none"]["decode_s"] > 0
    assert rows["low"]["plan"]["placement"] == "group"
    assert rows["none"]["estimated_peak_gpu_bytes"] > 0  # the planner's formulas, what auto decides with
    assert rows["none"]["simulation"] == "ok" and rows["none"]["simulated_peak_gpu_bytes"] > 0  # the precise one
    assert "needs a GPU" in rows["balanced"]["skipped"]  # model offload: GPU only
    assert (tmp_path / "bench-memory.png").stat().st_size > 1000
    out = capsys.readouterr().out
    assert "preset" in out and "s/step" in out and "low" in out and "simulated GiB" in out


def test_bench_cli_entry(capsys: Any) -> None:
    from videogen.cli.command import main

    try:
        main(["bench", "memory", "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    assert "--small" in capsys.readouterr().out
