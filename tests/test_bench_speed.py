"""`videogen bench speed --small` on the CPU: a row per cache method and the direct call, JSON and table."""

from __future__ import annotations

import json
from typing import Any

from videogen.cli import main


def test_bench_speed_small_on_the_cpu(tmp_path: Any, capsys: Any) -> None:
    out_dir = tmp_path / "out"
    code = main(["bench", "speed", "--small", "--steps", "4", "--repeats", "1", "--out", str(out_dir)])
    assert code == 0
    report = json.loads((out_dir / "bench-speed.json").read_text())
    rows = {r["method"]: r for r in report["rows"]}
    assert report["model"] == "tiny-wan" and report["device"] == "cpu"
    assert report["spec"].endswith("4 steps")
    assert {"direct", "none", "fbc", "taylorseer", "pab", "fastercache", "magcache"} <= set(rows)
    ran = [r for r in rows.values() if "not_run" not in r]
    assert {"direct", "none", "fbc", "taylorseer", "pab", "fastercache"} <= {r["method"] for r in ran}
    for row in ran:
        assert row["total_s"] > 0 and row["s_per_step"] > 0 and row["ratio_to_direct"] > 0
        assert 0.0 <= row["skipped"] <= 1.0
    assert rows["direct"]["skipped"] == 0.0 and rows["none"]["skipped"] == 0.0
    assert rows["direct"]["ratio_to_direct"] == 1.0
    if "not_run" in rows["magcache"]:  # no calibrated ratios stored: refused with the reason
        assert "calibrate" in rows["magcache"]["not_run"]
    table = capsys.readouterr().out
    assert "ratio to direct" in table and "fbc" in table and "direct" in table
