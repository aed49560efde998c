"""`videogen bench speed --small` on the CPU: a row per cache method and the direct call, JSON and table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from videogen.cli.command import main


def test_bench_speed_small_on_the_cpu(tmp_path: Any, capsys: Any) -> None:
    out_dir = tmp_path / "out"
    from videogen.families.tiny import cache_root

    for stale in (cache_root() / "magcache").glob("tiny-wan-4steps-*.json"):  # left by an interrupted run
        stale.unlink()
    variant = '{"method": "fbc", "threshold": 0.5}'
    argv = ["--small", "--steps", "4", "--repeats", "1", "--out", str(out_dir), "--variant", variant]
    code = main(["bench", "speed", *argv, "--attention", "native,auto", "--memory", "none"])
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
    # MagCache had no ratios for this model and step count: calibrated in the run, then measured
    assert "not_run" not in rows["magcache"] and "calibrated in this run" in rows["magcache"]["note"]
    Path(rows["magcache"]["note"].split("(")[-1].rstrip(")")).unlink()  # other tests expect none stored
    assert rows["fbc (threshold=0.5)"]["skipped"] > 0  # the knobs of a --variant row reach the hook
    assert {"attention=native", "attention=auto", "memory=none"} <= {r["method"] for r in ran}
    table = capsys.readouterr().out
    assert "ratio to direct" in table and "fbc" in table and "direct" in table


def test_bad_variant_or_memory_json_is_one_line_and_exit_2(capsys: Any) -> None:
    for flags, words in (
        (["--variant", "{bad"], "is not valid JSON"),
        (["--variant", '{"threshold": 0.3}'], "names no method"),
        (["--memory", "{bad"], "is not valid JSON"),
    ):
        assert main(["bench", "speed", "--small", *flags]) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err
