"""Data files generated from the installed libraries (configs/signatures.json, configs/planning.json).

Each is used only while the libraries it was generated from are the installed ones (their versions read
without importing them); each has a `python -m … [--write]` command that checks it is current or rewrites it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger("videogen")

#: the file holding `__version__`, where it is not the package's `__init__.py`
_VERSION_FILE = {"torch": "version.py"}


def installed_version(package: str) -> str | None:
    """The installed version of `package` without importing it (its version line, else its metadata)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    try:
        path = Path(spec.origin).parent / _VERSION_FILE.get(package, "__init__.py")
        with open(path, encoding="utf-8") as f:
            head = f.read(8192)
    except OSError:
        head = ""
    match = re.search(r"^__version__\s*(?::\s*str\s*)?=\s*[\"']([^\"']+)[\"']", head, re.MULTILINE)
    if match:
        return match.group(1)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def load_if_current(file: Path, what: str, stamp: str, installed: Any, regenerate: str) -> dict[str, Any] | None:
    """The JSON in `file` when its `stamp` entry equals `installed`; None (and why, logged) otherwise."""
    try:
        loaded = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("videogen: %s unreadable (%s); reading the classes live instead", what, exc)
        return None
    if loaded.get(stamp) != installed:
        logger.info(
            "videogen: %s are for %s, installed is %s: reading the classes live (regenerate with `%s`)",
            what,
            loaded.get(stamp),
            installed,
            regenerate,
        )
        return None
    return dict(loaded)


def write_or_check(
    argv: list[str] | None, prog: str, description: str, file: Path, text: Callable[[], str], regenerate: str
) -> int:
    """The `python -m …` command of a generated file: `--write` rewrites it, else exit 1 when it is stale."""
    import argparse

    from ..media.atomic import write_text_atomically

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--write", action="store_true", help=f"write {file.name} (else: check it is current)")
    args = parser.parse_args(argv)
    content = text()
    if args.write:
        write_text_atomically(file, content)
        print(f"wrote {file}")
        return 0
    current = file.read_text(encoding="utf-8") if file.is_file() else ""
    if current != content:
        print(f"{file} is out of date for the installed libraries; run `{regenerate}`")
        return 1
    print(f"{file} is current")
    return 0


def versions_of(packages: Mapping[str, str] | tuple[str, ...]) -> dict[str, str | None]:
    """`installed_version` of each package."""
    return {name: installed_version(name) for name in packages}
