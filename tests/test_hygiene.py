"""Rules of the source tree a linter doesn't check: the public names (what `import videogen` gives), one
atomic-write helper, no private name imported across modules."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from types import ModuleType

from videogen.errors import VideoGenError
from videogen.spec.files import load_specs

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


#: the verbs: functions at the top, never shadowed by a module of the same name
VERBS = ("generate", "prepare", "plan", "replay", "calibrate", "generate_many", "list_models", "resolve")
ERRORS = ("SpecError", "Cancelled", "ModelNotFoundError", "MissingDependencyError", "OutputExistsError", "SaveError")


def test_public_names_are_what_the_docs_say_they_are() -> None:
    import videogen.generation.calibrate
    import videogen.generation.replay  # a module named like the function it exports would replace it once imported

    assert set(dir(videogen)) >= set(videogen.__all__)
    for name in videogen.__all__:
        value = getattr(videogen, name)
        assert not isinstance(value, ModuleType), f"videogen.{name} is a module"
        if name != "__version__":
            assert value.__module__.startswith("videogen."), (name, value.__module__)
    for name in VERBS:
        assert callable(getattr(videogen, name)) and not isinstance(getattr(videogen, name), type), name
    for name in ERRORS:
        assert issubclass(getattr(videogen, name), VideoGenError), name
    for name in ("VideoSpec", "VideoResult", "MemoryPlan", "ModelCard", "LoRA", "Prepared"):
        assert isinstance(getattr(videogen, name), type), name
    assert videogen.load_specs is load_specs and videogen.replay is videogen.generation.replay.replay
    assert videogen.testing.tiny_pipeline is videogen.families.tiny.tiny_pipeline


def test_every_subpackage_says_its_job_in_its_init() -> None:
    for init in sorted(SRC.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc.split()) >= 12, f"{init.relative_to(SRC)}: a paragraph saying what lives there"
