"""videogen's warnings point at the user's own line, however deep inside videogen they were raised."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import videogen
from videogen.errors import user_stacklevel


def test_user_stacklevel_skips_every_videogen_frame() -> None:
    namespace = {"__name__": "videogen.fake", "warnings": warnings, "user_stacklevel": user_stacklevel}
    exec(  # two functions of a module named videogen.*: the warning skips both
        "def deep():\n    warnings.warn('x', UserWarning, stacklevel=user_stacklevel())\ndef outer():\n    deep()\n",
        namespace,
    )
    with pytest.warns(UserWarning) as record:
        namespace["outer"]()
    assert record[0].filename == __file__


def test_save_warning_from_a_batch_points_at_the_callers_line(tmp_path: Path) -> None:
    """A GIF's frame delay rounded (8 fps → 100/12) inside generate_many: the warning names this file."""
    spec = videogen.VideoSpec(model="tiny-wan", prompt="x", num_frames=5, steps=1, height=32, width=32, seed=1)
    with pytest.warns(videogen.SaveWarning) as record:
        items = list(videogen.generate_many([spec], tmp_path / "out", fmt="gif", progress=False))
    assert [i.status for i in items] == ["done"]
    ours = [w for w in record if str(tmp_path) in str(w.message)]  # not a stray thread's of another test
    assert ours and {w.filename for w in ours} == {__file__}


def test_snap_warning_points_at_the_callers_line() -> None:
    with pytest.warns(videogen.SnapWarning) as record:
        videogen.plan(model="tiny-wan", prompt="x", num_frames=6, snap=True)
    ours = [w for w in record if "num_frames=6 → 5" in str(w.message)]  # not a stray thread's of another test
    seen = [(w.category.__name__, w.filename, w.lineno, str(w.message)[:60]) for w in record]
    assert ours and {w.filename for w in ours} == {__file__}, (seen, warnings.warn)
