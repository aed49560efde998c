"""`videogen.calibrate` / `videogen calibrate`: MagCache's ratios measured on tiny-wan, stored under
`$VIDEOGEN_CACHE/magcache`, then used by `cache="magcache"` (which refuses, naming calibrate, before)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import videogen
from videogen.cli.command import main
from videogen.errors import SpecError
from videogen.speed import settings as caching

STEPS = 6


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh `$VIDEOGEN_CACHE` for the ratios, sharing the session's built tiny models."""
    tiny = caching.ratios_path("x").parent.parent / "tiny"
    tiny.mkdir(parents=True, exist_ok=True)
    (tmp_path / "tiny").symlink_to(tiny, target_is_directory=True)
    monkeypatch.setenv("VIDEOGEN_CACHE", str(tmp_path))
    return tmp_path


def test_calibrate_then_magcache_skips(cache_dir: Path) -> None:
    with pytest.raises(SpecError, match="calibrate"):
        videogen.generate(model="tiny-wan", prompt="a", steps=STEPS, cache="magcache", progress=False)

    out = videogen.calibrate(model="tiny-wan", prompt="a", steps=STEPS)
    path = Path(out["path"])
    assert path.is_file() and path.parent == cache_dir / "magcache"
    stored = json.loads(path.read_text())
    ratios = stored["mag_ratios"]
    assert len(ratios) == STEPS and all(math.isfinite(r) and r > 0 for r in ratios)
    assert ratios == out["ratios"]
    assert stored["model"] == "tiny-wan" and stored["steps"] == STEPS and "date" in stored

    result = videogen.generate(
        model="tiny-wan", prompt="a", steps=STEPS, cache={"method": "magcache", "threshold": 0.5}, progress=False
    )
    assert result.metadata["cache"]["method"] == "magcache"
    assert result.metadata["cache"]["skipped"] > 0
    assert result.spec.cache["mag_ratios"] == ratios


def test_calibrate_refuses_wan22_two_experts(cache_dir: Path) -> None:
    with pytest.raises(SpecError, match="two experts"):
        videogen.calibrate(model="tiny-wan2.2", prompt="a", steps=STEPS)


def test_cli_calibrate_prints_the_path(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "-m", "tiny-wan", "-p", "a", "--steps", str(STEPS), "-q"]) == 0
    printed = capsys.readouterr().out.strip()
    assert Path(printed).is_file() and Path(printed).parent == cache_dir / "magcache"


def test_calibrating_under_parallel_is_refused_before_load() -> None:
    from videogen.loading.pipelines import CACHE

    loads = CACHE.loads
    with pytest.raises(SpecError, match="calibrates in one process") as err:
        videogen.calibrate(model="tiny-wan", prompt="x", steps=4, parallel="ulysses=2")
    assert err.value.field == "parallel" and CACHE.loads == loads
