"""Every name the README and docs/ use is importable from the path they use (docs/architecture.md excepted: it
names internal modules)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "architecture.md")]
FROM_IMPORT = re.compile(r"from (videogen(?:\.\w+)*) import ([\w, ]+)")
DOTTED = re.compile(r"(?<![\w./-])(videogen(?:\.\w+)+)")


def _references() -> list[tuple[str, str]]:
    found = set()
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for module, names in FROM_IMPORT.findall(text):
            found.update((doc.name, f"{module}:{name.strip()}") for name in names.split(",") if name.strip())
        for dotted in DOTTED.findall(text):
            found.add((doc.name, dotted))
    return sorted(found)


def _resolve(reference: str) -> object:
    if ":" in reference:
        module, name = reference.split(":")
        return getattr(importlib.import_module(module), name)
    parts = reference.split(".")
    for cut in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
        try:
            value: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            value = getattr(value, attr)
        return value
    raise ImportError(reference)


@pytest.mark.parametrize(("doc", "reference"), _references())
def test_a_documented_name_imports_from_where_the_docs_say(doc: str, reference: str) -> None:
    try:
        _resolve(reference)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"{doc} names {reference}, which does not import: {exc}")


def test_the_docs_name_some_import_paths() -> None:
    assert len(_references()) >= 10
