"""Every module path that moved into a subpackage still imports, as the same module object, with a warning."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from videogen.runtime.moved import MOVED


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_path_is_the_new_module_with_a_deprecation_warning(old: str) -> None:
    new = importlib.import_module(MOVED[old])
    if old in sys.modules:  # imported earlier in this process: its warning was given then
        assert sys.modules[old] is new
        return
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {MOVED[old]}"):
        module = importlib.import_module(old)
    assert module is new


def test_a_moved_submodule_is_never_loaded_twice() -> None:
    """`import videogen.parallel.checks` after `import videogen.parallel`: the path finder would find the file
    again under the old package's name and run it a second time (two copies of its state)."""
    code = (
        "import warnings; warnings.simplefilter('ignore')\n"
        "import videogen.parallel, videogen.parallel.checks as old\n"
        "import videogen.speed.parallel.checks as new\n"
        "import videogen.bench.memory as b_old, videogen.cli.bench.memory as b_new\n"
        "assert old is new and b_old is b_new, (old, new, b_old, b_new)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
