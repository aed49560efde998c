"""Every code block in README.md and docs/*.md runs, offline, with tiny models standing in for downloads.

One test per fenced block (ids like `README.md:L42`, the line of the opening fence). How a block runs is
set by an HTML comment on the lines just before it (blank lines and other comments may sit between):

- no marker: it runs here. A real catalog model is replaced by its tiny counterpart (`TINY`, else the
  tiny model of its family for its first task) and, in the same call or command line, `height`, `width`
  and `num_frames` by the tiny model's defaults; `plan` calls and `videogen plan` keep the full-size model
  (planning loads no weights; activations come from formulas). Input files the
  block names (images, videos, `--lora` files) are made in a fresh working folder first.
  python: the block is executed. bash/sh: one `videogen ...` command per line (comments, `\\`
  continuations, leading `VAR=value` words), run through `videogen.cli.command.main`; it must exit 0. console: the
  `$ ` lines, likewise.
- `<!-- doc-test: gpu (REASON) -->`: needs a GPU and full-size weights; checked without running, as on a
  GPU (VIDEOGEN_DEVICE=cuda): `generate` only prepares (spec rules and memory plan against the real
  model's components, no weights), `videogen bench memory` prepares each of its presets, `plan` runs.
- `<!-- doc-test: skip (REASON) -->`: not run (installs packages, runs the test suite, ...).

Anything else fails: a block in another language (diagrams are ```text), a line that is not a videogen
command, a marker without a reason. So a new block is either runnable or consciously marked.
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import videogen

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

PYTHON = {"python", "py"}
SHELL = {"bash", "sh", "shell", "console"}
TEXT = {"text"}

#: real catalog model → the tiny model a doc block runs with instead (others: the family's tiny model for
#: the real model's first task)
TINY = {
    "wan2.1-t2v-1.3b": "tiny-wan",
    "wan2.1-t2v-14b": "tiny-wan",
    "wan2.1-i2v-14b-480p": "tiny-wan-i2v",
    "wan2.1-i2v-14b-720p": "tiny-wan-i2v",
    "wan2.1-flf2v-14b-720p": "tiny-wan-flf2v",
    "wan2.2-t2v-a14b": "tiny-wan2.2",
    "wan2.2-ti2v-5b": "tiny-wan2.2-ti2v",
    "ltx-video-0.9.7-distilled": "tiny-ltx-distilled",
    "cogvideox1.5-5b": "tiny-cogvideox1.5",
    "framepack-f1-i2v-hy": "tiny-framepack-f1",
    "skyreels-v2-df-1.3b-540p": "tiny-skyreels_v2-df",
}
SIZE_FIELDS = ("height", "width", "num_frames")
INPUT_FIELDS = ("image", "last_image", "video")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
VIDEO_SUFFIXES = {".mp4", ".gif", ".mov", ".mkv", ".avi"}

FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*?)\s*$")
COMMENT = re.compile(r"^\s*<!--.*-->\s*$")
MARKER = re.compile(r"<!--\s*doc-test:\s*(?P<mode>[\w-]+)\s*(?:\((?P<reason>.*)\))?\s*-->")


@dataclass(frozen=True)
class Block:
    path: str  # relative to the repository root
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    mode: str = "run"  # run | gpu | skip | an unknown word (fails)
    reason: str = ""

    @property
    def where(self) -> str:
        return f"{self.path}:L{self.line}"


def parse_blocks(text: str, path: str) -> list[Block]:
    """The fenced code blocks of a markdown text, with the doc-test marker just before each."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence = m["fence"]
        lang = m["info"].split()[0].lower() if m["info"] else ""
        end = i + 1
        while end < len(lines) and not re.match(rf"^ {{0,3}}{fence[0]}{{{len(fence)},}}\s*$", lines[end]):
            end += 1
        mode, reason = "run", ""
        j = i - 1
        while j >= 0 and (not lines[j].strip() or COMMENT.match(lines[j])):
            marker = MARKER.search(lines[j])
            if marker:
                mode, reason = marker["mode"], (marker["reason"] or "").strip()
                break
            j -= 1
        blocks.append(Block(path, i + 1, lang, "\n".join(lines[i + 1 : end]), mode, reason))
        i = end + 1
    return blocks


def doc_blocks() -> list[Block]:
    return [b for doc in DOCS for b in parse_blocks(doc.read_text(), doc.relative_to(ROOT).as_posix())]


# ---- tiny stand-ins ---------------------------------------------------------------------------------
def tiny_for(name: str) -> str | None:
    """The tiny model that stands in for catalog model `name` (by name or Hub repo); None if not a real one."""
    from videogen.catalog.lookup import list_models
    from videogen.testing import tiny_card_name

    for card in list_models():
        if not card.tiny and name in (card.name, card.repo):
            return TINY.get(card.name) or tiny_card_name(card.family, card.tasks[0])
    return None


def tiny_defaults(tiny: str) -> dict[str, int]:
    from videogen.catalog.lookup import resolve

    card = resolve(tiny)
    return {field: int(getattr(card, field)) for field in SIZE_FIELDS}


def provide_inputs(names: set[str], cwd: Path) -> None:
    """Make the input files a block names (relative paths that don't exist yet) in its working folder."""
    import numpy as np

    from videogen.testing import sample_image

    for name in sorted(names):
        if "://" in name or Path(name).is_absolute():
            continue
        path = cwd / name
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            sample_image(64, 64).save(path)
        elif suffix == ".safetensors":
            pytest.importorskip("peft")
            from videogen.testing import tiny_lora

            shutil.copy(tiny_lora("wan"), path)
        else:
            frames = [np.roll(np.asarray(sample_image(64, 64)), 4 * t, axis=1) for t in range(9)]
            if suffix in VIDEO_SUFFIXES:
                import imageio.v2 as imageio

                imageio.mimwrite(path, frames, fps=8)
            else:  # a folder of frames
                from PIL import Image

                path.mkdir()
                for t, frame in enumerate(frames):
                    Image.fromarray(frame).save(path / f"{t:03d}.png")


# ---- python blocks ----------------------------------------------------------------------------------
def _call_name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


class TinyModels(ast.NodeTransformer):
    """Real catalog names → tiny ones (sizes too, in the same call), except inside `plan(...)`; collects inputs."""

    def __init__(self) -> None:
        self.inputs: set[str] = set()

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if _call_name(node.func) == "plan":
            return node  # planning loads no weights: the full-size model stays
        self.generic_visit(node)
        kw = {k.arg: k for k in node.keywords if k.arg}
        for field in INPUT_FIELDS:
            if field in kw:
                self._collect(kw[field].value)
        if "loras" in kw:
            for item in getattr(kw["loras"].value, "elts", []):
                self._collect(item.elts[0] if isinstance(item, (ast.Tuple, ast.List)) and item.elts else item)
        model = kw.get("model")
        if model is not None and isinstance(model.value, ast.Constant) and getattr(model.value, "tiny", False):
            for field, value in tiny_defaults(model.value.value).items():
                if field in kw and isinstance(kw[field].value, ast.Constant):
                    kw[field].value = ast.copy_location(ast.Constant(value), kw[field].value)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        tiny = tiny_for(node.value) if isinstance(node.value, str) else None
        if tiny is None:
            return node
        new = ast.copy_location(ast.Constant(tiny), node)
        new.tiny = True  # type: ignore[attr-defined]
        return new

    def _collect(self, node: ast.expr) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            self.inputs.add(node.value)


def run_python(block: Block, cwd: Path) -> None:
    tree = ast.parse(block.code, filename=block.where)
    if block.mode == "run":
        transformer = TinyModels()
        tree = ast.fix_missing_locations(transformer.visit(tree))
        provide_inputs(transformer.inputs, cwd)
    ast.increment_lineno(tree, block.line)  # tracebacks give the markdown file's line numbers
    exec(compile(tree, block.where, "exec"), {"__name__": "__doc_block__"})


# ---- shell blocks -----------------------------------------------------------------------------------
OPERATORS = {"&&", "||", "|", ";", ">", ">>", "<", "&"}
MODEL_FLAGS = {"-m", "--model"}
SIZE_FLAGS = {"--height": "height", "--width": "width", "--num-frames": "num_frames"}
INPUT_FLAGS = {"--image", "--last-image", "--video"}


def shell_commands(block: Block) -> list[tuple[str, list[str]]]:
    """(the line as written, its words) for each command of a bash/sh/console block."""
    lines = block.code.splitlines()
    if block.lang == "console":
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    commands, pending = [], ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        words = shlex.split(full, comments=True)
        if words:
            commands.append((full, words))
    return commands


def tiny_argv(argv: list[str]) -> tuple[list[str], set[str]]:
    """`generate`/`demo` arguments with the tiny model and sizes; the input files they name."""
    argv, inputs = list(argv), set()
    pairs = []  # (index of the value, flag)
    i = 0
    while i < len(argv):
        flag, eq, value = argv[i].partition("=")
        if eq and flag.startswith("--"):
            argv[i : i + 1] = [flag, value]
        if argv[i] in MODEL_FLAGS | set(SIZE_FLAGS) | INPUT_FLAGS | {"--lora"} and i + 1 < len(argv):
            pairs.append((i + 1, argv[i]))
            i += 1
        i += 1
    tiny = None
    for i, flag in pairs:
        if flag in MODEL_FLAGS and tiny_for(argv[i]):
            tiny = argv[i] = tiny_for(argv[i])
        elif flag in INPUT_FLAGS:
            inputs.add(argv[i])
        elif flag == "--lora":
            source, sep, weight = argv[i].rpartition(":")
            inputs.add(source if sep and source and weight.replace(".", "", 1).isdigit() else argv[i])
    if tiny:
        sizes = tiny_defaults(tiny)
        for i, flag in pairs:
            if flag in SIZE_FLAGS:
                argv[i] = str(sizes[SIZE_FLAGS[flag]])
    return argv, inputs


def cli_main(argv: list[str]) -> int:
    from videogen.cli import command as cli

    try:
        return cli.main(argv)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)


def prepare_as_on_a_gpu(argv: list[str]) -> None:
    """A GPU command checked without running: its specs prepared (rules, memory plan) for a CUDA device."""
    from videogen.catalog.lookup import resolve
    from videogen.cli import command as cli
    from videogen.cli.bench import memory as bench
    from videogen.generation.flow import prepare
    from videogen.testing import sample_image

    if argv[0] == "generate":
        prepare(**cli.spec_fields(cli.build_parser().parse_args(argv)))
    elif argv[:2] == ["bench", "memory"]:
        args = bench.build_parser().parse_args(argv[1:])
        card = resolve(args.model)
        fields = {
            "model": card.name,
            "prompt": "a ferret",
            "steps": args.steps,
            "height": args.height,
            "width": args.width,
            "num_frames": args.num_frames,
        }
        if "t2v" not in card.tasks:
            fields["image"] = sample_image(args.height or card.height, args.width or card.width)
        for preset in args.presets.split(",") if args.presets else bench.GPU_PRESETS:
            prepare(**{k: v for k, v in fields.items() if v is not None}, memory=preset)
    else:
        raise AssertionError(
            f"`videogen {shlex.join(argv)}`: in a gpu block, `bench` is checked for `bench memory` only"
        )


ENV_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@contextlib.contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """`env` set in os.environ for the duration, then restored."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_shell(block: Block, cwd: Path, capsys: Any = None) -> None:
    commands = shell_commands(block)
    assert commands, f"{block.where}: no command in this block"
    for line, words in commands:
        fix = (
            "run it with a tiny model, or mark the block <!-- doc-test: skip (why) --> or <!-- doc-test: gpu (why) -->"
        )
        assert not OPERATORS & set(words), f"{block.where}: `{line}`: one command per line, please; or {fix}"
        env = {}
        while words and ENV_WORD.match(words[0]):  # VAR=value videogen ...
            key, _, value = words.pop(0).partition("=")
            env[key] = value
        assert words and words[0] == "videogen", f"{block.where}: `{line}` is not a videogen command: {fix}"
        argv = words[1:]
        with environment(env):
            if block.mode == "gpu" and argv and argv[0] in ("generate", "bench"):
                prepare_as_on_a_gpu(argv)
                continue
            if argv and argv[0] in ("generate", "demo", "calibrate"):
                argv, inputs = tiny_argv(argv)
                provide_inputs(inputs, cwd)
            rc = cli_main(argv)
        err = capsys.readouterr().err if capsys is not None else ""
        err = "\n".join(x for x in err.replace("\r", "\n").splitlines() if x.strip() and "it/s]" not in x)
        assert rc == 0, f"{block.where}: `{line}` (run as `videogen {shlex.join(argv)}`) exited {rc}: {err[-2000:]}"


# ---- the tests --------------------------------------------------------------------------------------
BLOCKS = [b for b in doc_blocks() if b.lang not in TEXT]


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_doc_block_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    assert block.mode in ("run", "gpu", "skip"), f"{block.where}: unknown doc-test marker {block.mode!r}"
    if block.mode != "run":
        assert block.reason, f"{block.where}: <!-- doc-test: {block.mode} (...) --> needs a reason in brackets"
    if block.mode == "skip":
        pytest.skip(f"{block.where}: {block.reason}")
    assert block.lang in PYTHON | SHELL, (
        f"{block.where}: a ```{block.lang or '(no language)'} block: tag it python, bash or console to run "
        "it, text for a diagram, or mark it <!-- doc-test: skip (why) -->"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("VIDEOGEN_DEVICE", raising=False)
    if block.mode == "gpu":
        import videogen
        from videogen.generation import flow as generation

        def prepare_only(spec: Any = None, *, on_step: Any = None, progress: bool = True, **fields: Any) -> Any:
            return generation.prepare(spec, **fields)

        monkeypatch.setenv("VIDEOGEN_DEVICE", "cuda")  # plans and rules as on a GPU; nothing runs
        monkeypatch.setattr(videogen, "generate", prepare_only)
        monkeypatch.setattr(generation, "generate", prepare_only)
    if block.lang in PYTHON:
        run_python(block, tmp_path)
    else:
        run_shell(block, tmp_path, capsys)


def test_the_docs_have_blocks_and_the_parser_reads_markers() -> None:
    readme = [b for b in BLOCKS if b.path == "README.md"]
    assert len(readme) >= 5 and any(b.lang == "python" and b.mode == "run" for b in readme)
    text = (
        "intro\n\n<!-- doc-test: skip (installs (pip)) -->\n<!-- other -->\n```bash\npip install x\n```\n\n"
        "```bash\nvideogen models\n```\n~~~python\nprint(1)\n~~~\n"
    )
    blocks = parse_blocks(text, "x.md")
    assert [(b.line, b.lang, b.mode, b.reason, b.code) for b in blocks] == [
        (5, "bash", "skip", "installs (pip)", "pip install x"),
        (9, "bash", "run", "", "videogen models"),
        (12, "python", "run", "", "print(1)"),
    ]


def test_an_unmarked_block_that_cannot_run_here_fails(tmp_path: Path) -> None:
    for code in ("pip install videogen-diffusers", "videogen models && videogen demo", "X=1 python -V"):
        with pytest.raises(AssertionError, match="doc-test: skip"):
            run_shell(Block("x.md", 1, "bash", code), tmp_path)


def test_substitutions() -> None:
    argv, inputs = tiny_argv(
        [
            "generate",
            "-m",
            "wan2.1-i2v-14b-480p",
            "--image",
            "cat.png",
            "--height=480",
            "--width",
            "832",
            "--num-frames",
            "81",
            "--lora",
            "./l.safetensors:0.8",
        ]
    )
    assert argv == [
        "generate",
        "-m",
        "tiny-wan-i2v",
        "--image",
        "cat.png",
        "--height",
        "32",
        "--width",
        "32",
        "--num-frames",
        "9",
        "--lora",
        "./l.safetensors:0.8",
    ]
    assert inputs == {"cat.png", "./l.safetensors"}
    tree = TinyModels()
    code = ast.unparse(
        tree.visit(
            ast.parse(
                'generate(model="wan2.1-t2v-1.3b", num_frames=81, image="a.png")\n'
                'plan(model="wan2.1-t2v-14b", num_frames=81)'
            )
        )
    )
    assert code.splitlines() == [
        "generate(model='tiny-wan', num_frames=9, image='a.png')",
        "plan(model='wan2.1-t2v-14b', num_frames=81)",
    ]
    assert tree.inputs == {"a.png"}


# ---- what the user docs say (README.md and docs/*.md but the architecture map) --------------------------

USER_DOCS = [ROOT / "README.md", *(p for p in sorted((ROOT / "docs").glob("*.md")) if p.name != "architecture.md")]
SRC = ROOT / "src" / "videogen"
#: videogen's module names (what docs/architecture.md is about)
MODULES = {p.stem for p in SRC.rglob("*.py") if p.stem != "__init__"} | {"memory", "families", "videogen"}
#: modules whose functions the user docs may name as API, written in full (`videogen.spec.files.dump_specs`)
PUBLIC_MODULES = {"spec", "memory", "generation", "testing"}
#: the names `import videogen` gives (`videogen.replay` is the function, not a module)
PUBLIC = set(videogen.__all__)
FILE_SUFFIXES = {"json", "jsonl", "yaml", "toml", "md", "mp4", "gif", "webp", "png", "txt", "safetensors", "gguf"}
#: repository-relative paths the docs may name that are made by running something (ignored by git)
GENERATED = ("benchmarks/out/",)


def internal_names(text: str) -> list[str]:
    """Internal names in a user doc: `module.name` of a videogen module (`validate.complete`), a module's
    file (`saving.py`), or `videogen.module.name` outside the public modules or private (`_name`)."""
    found = []
    for match in re.finditer(r"`([A-Za-z_][\w.]*)(?:\([^`]*\))?`", text):
        parts = match.group(1).split(".")
        if parts[-1] in FILE_SUFFIXES:  # a file name: `batch.json`
            continue
        if parts[0] == "videogen" and len(parts) > 2:
            if parts[1] not in PUBLIC_MODULES or any(p.startswith("_") for p in parts[2:]):
                found.append(match.group(1))
        elif len(parts) > 1 and parts[0] in MODULES - {"videogen", "memory"} and parts[0] not in ("result", "spec"):
            found.append(match.group(1))  # `result.frames`, `spec.to_dict()`: the user's own variables
        elif parts[0] == "videogen" and len(parts) == 2 and parts[1] in MODULES - PUBLIC_MODULES - PUBLIC:
            found.append(match.group(1))  # a module named as where something lives (`videogen.speed.settings`)
    for match in re.finditer(r"(?<![\w/.-])([\w/.-]+)\.py\b", text):
        path = match.group(1) + ".py"
        if not (ROOT / path).is_file() and Path(path).stem in MODULES | {
            p.stem for p in (ROOT / "tests").rglob("*.py")
        }:
            found.append(path)  # a module or test file by its bare name, not a path in the repository
    return found


def outside_paths(text: str) -> list[str]:
    """Repository-style paths (`docs/x.md`, `tests/...`, `shared/...`) that are not in the repository."""
    tops = "|".join(
        re.escape(p) for p in ("src/", "tests/", "docs/", "benchmarks/", "examples/", "tools/", ".ci/", "shared/")
    )
    found = []
    for match in re.finditer(rf"(?<![\w/.$-])((?:{tops})[\w./-]*\w)", text):
        path = match.group(1)
        if "<" in path or path.startswith(GENERATED) or (ROOT / path).exists():
            continue
        found.append(path)
    return found


@pytest.mark.parametrize("doc", USER_DOCS, ids=[p.name for p in USER_DOCS])
def test_user_docs_explain_behaviour_not_internal_names(doc: Path) -> None:
    """Module and function names (`validate.complete`, `saving.clean_stale_temps`) belong in
    docs/architecture.md; the user docs say what happens, and name only the public API."""
    assert internal_names(doc.read_text()) == []


@pytest.mark.parametrize("doc", USER_DOCS, ids=[p.name for p in USER_DOCS])
def test_user_docs_refer_to_no_file_outside_the_repository(doc: Path) -> None:
    assert outside_paths(doc.read_text()) == []


def test_the_doc_checks_catch_what_they_are_for() -> None:
    text = (
        "runs `rules.complete` then `save.clean_stale_temps`, see memory/simulate.py and simulate.py, "
        "`videogen.parallel.run._cpu_only_device_count`, `videogen.speed.settings`; shared/notes/speed-facts.md"
    )
    assert internal_names(text) == [
        "rules.complete",
        "save.clean_stale_temps",
        "videogen.parallel.run._cpu_only_device_count",
        "videogen.speed.settings",
        "memory/simulate.py",
        "simulate.py",
    ]
    assert outside_paths(text) == ["shared/notes/speed-facts.md"]
    fine = (
        "`videogen.spec.files.dump_specs(specs, path)`, `result.save(path)`, `spec.to_dict()`, make_video.py, "
        "benchmarks/planning.py, `videogen.memory.preset(name)`, tests/speed/parallel/test_parallel.py, docs/cli.md, "
        "benchmarks/out/planning.json, `src/videogen/families/configs/<arch>.json`"
    )
    assert internal_names(fine) == [] and outside_paths(fine) == []


def test_readme_says_which_hash_is_which_and_how_to_install_a_cpu_torch() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "saved.frames_sha256" in readme and "saved.sha256" in readme and "frames' SHA-256)" not in readme
    assert "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in readme
