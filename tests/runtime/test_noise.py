"""Importing diffusers after videogen doesn't print optional libraries' notes about themselves; other messages of
their loggers still show."""

from __future__ import annotations

import subprocess
import sys

import pytest

from videogen.runtime.noise import DROPPED

IMPORT = "from diffusers import AutoencoderKLWan\nimport logging\nlogging.getLogger('torchao').warning('kept: mine')\n"


def _stderr(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stderr


def _noise(text: str) -> list[str]:
    return [line for line in text.splitlines() for parts in sum(DROPPED.values(), ()) if all(p in line for p in parts)]


def test_the_notes_are_dropped_and_the_rest_passes() -> None:
    bare = _stderr(IMPORT)
    if not _noise(bare):
        pytest.skip("the installed torchao logs nothing while diffusers imports it")
    quiet = _stderr("import videogen\n" + IMPORT)
    assert _noise(quiet) == [], quiet
    assert "kept: mine" in quiet
