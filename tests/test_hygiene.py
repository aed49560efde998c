"""Rules of the source tree a linter doesn't check: one atomic-write helper, no private name imported across
modules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "videogen"
#: media/save.py puts a video and its sidecar in place together: the one other module that renames files
ATOMIC = {"media/atomic.py", "media/save.py"}


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_files_are_put_in_place_only_by_the_atomic_helpers() -> None:
    pattern = re.compile(r"\bos\.(replace|rename|renames)\(|\bmkstemp\(|\.rename\(")
    offenders = []
    for path in _modules():
        if path.relative_to(SRC).as_posix() in ATOMIC:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if pattern.search(code) and not code.lstrip().startswith(("`", '"')):
                offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert not offenders, "use videogen's atomic helpers (write_text_atomically, ...):\n" + "\n".join(offenders)


def test_no_private_name_is_imported_across_modules() -> None:
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("videogen")):
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                if private:
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: {private}")
    assert not offenders, "\n".join(offenders)
