"""The distribution's metadata: what PyPI shows and what pip reads (pyproject.toml's [project])."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROJECT = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
REPO = "https://github.com/videogen-diffusers/videogen"


def test_project_urls_point_at_the_repository() -> None:
    urls = PROJECT["urls"]
    assert {"Homepage", "Documentation", "Repository", "Issues"} <= set(urls)
    assert all(url.startswith(REPO) for url in urls.values())


def test_authors_keywords_and_classifiers() -> None:
    assert PROJECT["authors"] and all(a.get("name") for a in PROJECT["authors"])
    assert {"diffusers", "video-generation", "text-to-video"} <= set(PROJECT["keywords"])
    classifiers = PROJECT["classifiers"]
    assert "Topic :: Multimedia :: Video" in classifiers and "Typing :: Typed" in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")]  # PEP 639: `license` says it alone
    low = PROJECT["requires-python"].removeprefix(">=")
    assert f"Programming Language :: Python :: {low}" in classifiers  # the oldest Python supported is listed


def test_classifiers_are_pypis() -> None:
    known = pytest.importorskip("trove_classifiers").classifiers  # PyPI refuses an upload with another name
    assert [c for c in PROJECT["classifiers"] if c not in known] == []
