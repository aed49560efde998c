"""Inputs that used to hang or explode (issue 16, point 4): special files as inputs or spec files, huge files, YAML
alias bombs, deep nesting, huge integers, text that isn't UTF-8 or holds NUL. Each must end in one clear SpecError
(exit status 2 from the command) within seconds. What could hang runs in a subprocess with a timeout, so a
regression fails instead of hanging the suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import videogen
from videogen.cli import command as cli
from videogen.media.read import to_frames, to_pil
from videogen.spec.files import dump_specs, load_specs, spec_hash, spec_metadata
from videogen.spec.formats import MAX_DEPTH, MAX_VALUES
from videogen.spec.plain import MAX_DEPTH as FIELD_DEPTH
from videogen.spec.sweep import read_prompts

#: seconds a refusal may take in a fresh process (imports included; the machine may be busy)
QUICK_S = 30


def run(args: list[str], timeout: float = QUICK_S, **kw) -> tuple[subprocess.CompletedProcess, float]:
    """`args` in a fresh process under a deadline: a hang is a test failure, not a stuck suite."""
    start = time.perf_counter()
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{args[1:4]}... still running after {timeout} s: it hangs")
    return out, time.perf_counter() - start


def videogen_cmd(*args: str, timeout: float = QUICK_S) -> tuple[subprocess.CompletedProcess, float]:
    return run([sys.executable, "-m", "videogen", *args], timeout)


def error_lines(stderr: str) -> list[str]:
    """stderr without third-party start-up noise: videogen's own lines."""
    return [line for line in stderr.splitlines() if line.startswith("videogen")]


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.png"
    os.mkfifo(path)
    return path


# ---- inputs: only regular files, capped before they are read


#: hashes and reads each input in a fresh process; prints {case: [error type, field, message]}
PROBE = textwrap.dedent("""
    import json, sys
    import videogen
    from videogen.media.read import to_frames, to_pil
    from videogen.spec.files import input_hashes, spec_hash

    out = []
    for path in sys.argv[1:]:
        for name, call in [
            ("spec_hash image", lambda: spec_hash(videogen.VideoSpec(model="tiny-wan", image=path))),
            ("spec_hash video", lambda: spec_hash(videogen.VideoSpec(model="tiny-wan", video=path))),
            ("input_hashes", lambda: input_hashes(videogen.VideoSpec(model="tiny-wan", last_image=path))),
            ("to_pil", lambda: to_pil(path, "image")),
            ("to_frames", lambda: to_frames(path, "video")),
        ]:
            try:
                call()
                out.append([path, name, "no error", None, ""])
            except Exception as exc:
                out.append([path, name, type(exc).__name__, getattr(exc, "field", None), str(exc)])
    print(json.dumps(out))
""")


def test_a_fifo_or_a_device_as_an_input_is_refused_without_reading_it(tmp_path: Path, fifo: Path) -> None:
    link = tmp_path / "zero.png"
    link.symlink_to("/dev/zero")  # a link is followed: what it points at counts
    out, seconds = run([sys.executable, "-c", PROBE, str(fifo), "/dev/zero", str(link)])
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(out.stdout)
    fields = {"spec_hash image": "image", "spec_hash video": "video", "input_hashes": "last_image"}
    fields |= {"to_pil": "image", "to_frames": "video"}
    assert len(results) == 15
    for path, call, kind, field, message in results:
        assert kind == "SpecError", (path, call, kind, message)
        assert field == fields[call] and message.startswith(f"{field}: {path!r} is "), (path, call, message)
        what = "a FIFO (named pipe)" if path == str(fifo) else "a character device"
        assert f"is {what}, not a regular file" in message and "pass a" in message, (path, call, message)
    assert seconds < QUICK_S


def test_an_input_over_the_byte_limit_is_refused_before_it_is_read(tmp_path: Path, monkeypatch) -> None:
    big = tmp_path / "huge.png"
    with open(big, "wb") as f:  # sparse: 300 MiB that take no disk, over the 256 MiB default
        f.truncate(300 * 2**20)
    spec = videogen.VideoSpec(model="tiny-wan", image=str(big))
    start = time.perf_counter()
    with pytest.raises(videogen.SpecError, match=r"image: .*huge\.png' is 300\.0 MiB, over 256\.0 MiB") as err:
        spec_hash(spec)
    assert err.value.field == "image" and "VIDEOGEN_MAX_IMAGE_BYTES" in str(err.value)
    with pytest.raises(videogen.SpecError, match="VIDEOGEN_MAX_IMAGE_BYTES") as err:
        to_pil(str(big), "image")
    assert time.perf_counter() - start < 1.0  # nothing was read

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0" * 5000)
    monkeypatch.setenv("VIDEOGEN_MAX_VIDEO_BYTES", "4096")  # the limit is the user's to raise
    with pytest.raises(videogen.SpecError, match="VIDEOGEN_MAX_VIDEO_BYTES") as err:
        spec_hash(spec.replace(image=None, video=str(clip)))
    assert err.value.field == "video"
    with pytest.raises(videogen.SpecError, match="VIDEOGEN_MAX_VIDEO_BYTES"):
        to_frames(str(clip), "video")
    monkeypatch.setenv("VIDEOGEN_MAX_VIDEO_BYTES", "5000")
    assert len(spec_hash(spec.replace(image=None, video=str(clip)))) == 64  # at the limit: read


def test_a_batch_with_special_files_as_inputs_makes_the_good_specs(tmp_path: Path, fifo: Path) -> None:
    """The probe's batch: /dev/zero and a FIFO as images used to hang while hashing, before anything was made."""
    specs = tmp_path / "specs.json"
    good = {"model": "tiny-wan", "prompt": "a fox", "seed": 1}
    specs.write_text(json.dumps([good, {**good, "image": "/dev/zero"}, {**good, "image": str(fifo)}]))
    out, seconds = videogen_cmd("batch", str(specs), "--out", str(tmp_path / "out"), "-q", timeout=240)
    assert out.returncode == 1, out.stderr[-3000:]  # some spec failed; the others were made
    assert out.stdout.splitlines() == [str(tmp_path / "out" / "0000-a-fox-1.mp4")]
    lines = error_lines(out.stderr)
    assert lines[0] == (
        "videogen: spec 1: image: '/dev/zero' is a character device, not a regular file; videogen reads only "
        "regular files: pass an image file"
    )
    assert lines[1].startswith(f"videogen: spec 2: image: '{fifo}' is a FIFO (named pipe), not a regular file")
    assert len(lines) == 2


@pytest.mark.parametrize("target", ["/dev/zero", "FIFO"])
def test_replay_of_a_sidecar_pointing_at_a_special_file_is_one_error(tmp_path: Path, fifo: Path, target: str) -> None:
    path = str(fifo) if target == "FIFO" else target
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not read")
    meta = {
        "spec": {"model": "tiny-wan", "prompt": "a fox", "image": path, "seed": 1},
        "inputs": {"image": {"path": path, "sha256": "0" * 64}},
    }
    (tmp_path / "clip.mp4.json").write_text(json.dumps(meta))
    out, seconds = videogen_cmd("replay", str(video), "-q")
    assert out.returncode == 2, out.stderr[-3000:]
    [line] = error_lines(out.stderr)
    assert line.startswith(f"videogen: error: image: '{path}' is a ") and "not a regular file" in line
    assert not (tmp_path / "clip-replay.mp4").exists()


def test_replay_of_a_special_file_itself_is_one_error(fifo: Path) -> None:
    out, _ = videogen_cmd("replay", "/dev/zero", "-q")
    assert out.returncode == 2 and error_lines(out.stderr) == [
        "videogen: error: path: cannot read '/dev/zero' (a character device, not a regular file); pass a video file"
    ]


# ---- spec, prompt and plan files


@pytest.mark.parametrize("kind", ["spec", "prompts"])
def test_a_fifo_as_a_spec_or_prompts_file_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    path = tmp_path / ("specs.json" if kind == "spec" else "prompts.txt")
    os.mkfifo(path)
    args = ["generate", "-m", "tiny-wan", "-o", str(tmp_path / "out")]
    args += ["--spec", str(path)] if kind == "spec" else ["--prompts-file", str(path)]
    out, _ = videogen_cmd(*args, "-q")
    assert out.returncode == 2, out.stderr[-3000:]
    [line] = error_lines(out.stderr)
    assert "it is a FIFO (named pipe), not a regular file; pass a regular file" in line
    assert not (tmp_path / "out").exists()


def alias_bomb(levels: int = 8) -> str:
    """370 bytes of YAML that expand to 9**8 (43 million) strings inside `extra`."""
    lines = ["model: tiny-wan", "extra:", "  a: &a [x,x,x,x,x,x,x,x,x]"]
    for prev, name in zip("abcdefgh", "bcdefghi"[: levels - 1]):
        lines.append(f"  {name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    assert len(bomb.read_bytes()) < 400
    start = time.perf_counter()
    with pytest.raises(videogen.SpecError, match=f"expands to more than {MAX_VALUES:,} values") as err:
        load_specs(bomb)
    assert time.perf_counter() - start < 2.0 and err.value.field == "spec" and str(bomb) in str(err.value)

    # the command: one line, exit 2, nothing made (a regression would grow the process: its memory is capped)
    def cap_memory() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))

    out, _ = run(
        [sys.executable, "-m", "videogen", "batch", str(bomb), "--out", str(tmp_path / "out"), "-q"],
        preexec_fn=cap_memory,
    )
    assert out.returncode == 2, out.stderr[-3000:]
    assert error_lines(out.stderr) == [f"videogen: error: {err.value}"]
    assert not (tmp_path / "out").exists()


def test_aliases_within_the_budget_still_work(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    shared = tmp_path / "shared.yaml"
    shared.write_text(
        "- &base {model: tiny-wan, steps: 2, extra: {max_sequence_length: 16}}\n"
        "- {<<: *base, prompt: b}\n- {<<: *base, prompt: c}\n"
    )
    specs = load_specs(shared)
    assert [s.prompt for s in specs] == [None, "b", "c"] and all(s.extra == {"max_sequence_length": 16} for s in specs)
    loop = tmp_path / "loop.yaml"
    loop.write_text("model: tiny-wan\nextra: &e {self: *e}\n")
    with pytest.raises(videogen.SpecError, match="recursive alias"):
        load_specs(loop)


def nested(kind: str, depth: int) -> str:
    """A spec whose extra["x"] nests `depth` lists deep, in `kind`'s syntax."""
    inner = "[" * depth + "]" * depth
    if kind == "json":
        return f'{{"model": "tiny-wan", "extra": {{"x": {inner}}}}}'
    if kind == "yaml":
        return f"model: tiny-wan\nextra:\n  x: {inner}\n"
    return f'model = "tiny-wan"\n[extra]\nx = {inner}\n'


@pytest.mark.parametrize("kind", ["json", "yaml", "toml"])
def test_deep_nesting_is_one_error_and_shallow_nesting_reads(tmp_path: Path, kind: str, capsys) -> None:
    if kind == "yaml":
        pytest.importorskip("yaml")
    ok = tmp_path / f"ok.{kind}"
    ok.write_text(nested(kind, MAX_DEPTH - 3))  # the document, "extra" and "x" are three levels
    [spec] = load_specs(ok)
    assert spec.to_dict(compact=True)["extra"]["x"] == json.loads(nested("json", MAX_DEPTH - 3))["extra"]["x"]
    for depth in (MAX_DEPTH, 100_000):  # one over the limit; and far past the parsers' recursion limit
        deep = tmp_path / f"deep{depth}.{kind}"
        deep.write_text(nested(kind, depth))
        start = time.perf_counter()
        with pytest.raises(videogen.SpecError, match=f"{MAX_DEPTH} levels deep") as err:
            load_specs(deep)
        assert time.perf_counter() - start < 5.0 and err.value.field == "spec" and str(deep) in str(err.value)
    assert cli.main(["plan", "--spec", str(deep)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"videogen: error: {err.value}"]


@pytest.mark.parametrize(
    "kind, text",
    [
        ("json", '{"model": "tiny-wan", "seed": %s}'),
        ("jsonl", '{"model": "tiny-wan", "seed": %s}'),
        ("yaml", "model: tiny-wan\nseed: %s\n"),
        ("toml", 'model = "tiny-wan"\nseed = %s\n'),
    ],
)
def test_a_5000_digit_integer_is_one_error(tmp_path: Path, kind: str, text: str, capsys) -> None:
    if kind == "yaml":
        pytest.importorskip("yaml")
    path = tmp_path / f"big.{kind}"
    path.write_text(text % ("9" * 5000))
    with pytest.raises(videogen.SpecError, match="a number has more digits than videogen reads") as err:
        load_specs(path)
    assert str(path) in str(err.value)
    assert cli.main(["plan", "--spec", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"videogen: error: {err.value}"]


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"model": "tiny-wan", "prompt": "a\\u0000b"}', "specs.json: prompt: the text holds a NUL character"),
        ('{"model": "tiny-wan", "prompt": "a\\udcffb"}', "specs.json: prompt: the text holds a lone surrogate"),
        ('{"model": "tiny-wan", "extra": {"k\\ud800": 1}}', "specs.json: extra: the text holds a lone surrogate"),
    ],
)
def test_text_a_spec_file_cannot_hold_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "specs.json"
    path.write_text(text)
    with pytest.raises(videogen.SpecError, match=message):
        load_specs(path)


def test_an_oversized_spec_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "specs.jsonl"
    with open(path, "wb") as f:
        f.truncate(65 * 2**20)  # sparse
    start = time.perf_counter()
    with pytest.raises(videogen.SpecError, match=r"is 65\.0 MiB, over 64\.0 MiB; pass a regular file, at most 64 MiB"):
        load_specs(path)
    assert time.perf_counter() - start < 1.0


def test_a_plan_file_is_read_within_the_same_bounds(tmp_path: Path, capsys) -> None:
    pytest.importorskip("yaml")
    bomb = tmp_path / "plan.yaml"
    bomb.write_text(alias_bomb().replace("model: tiny-wan\nextra:", "vae_tiling: true\nx:"))
    with pytest.raises(SystemExit) as exit_:
        cli.main(["plan", "-m", "tiny-wan", "--memory", str(bomb)])
    assert exit_.value.code == 2
    assert f"--memory {bomb}: expands to more than {MAX_VALUES:,} values" in capsys.readouterr().err


# ---- the Python API: a deep or huge `extra`


def deep_list(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def shared_lists() -> list:
    """10**8 zeros as 8 levels of one shared list: a few hundred bytes of objects (Python's alias bomb)."""
    value: list = [0] * 10
    for _ in range(7):
        value = [value] * 10
    return value


@pytest.mark.parametrize(
    "value, message",
    [
        (deep_list(5000), f"nested more than {FIELD_DEPTH} levels deep"),
        (list(range(200_000)), "holds more than 100,000 values"),
        (shared_lists(), "holds more than 100,000 values"),
        (10**2000, "a whole number of 6,644 bits, too large to record"),
    ],
    ids=["deep", "huge", "shared", "bigint"],
)
def test_an_extra_too_deep_or_large_is_a_spec_error_not_a_crash(tmp_path: Path, value, message: str) -> None:
    spec = videogen.VideoSpec(model="tiny-wan", prompt="a fox", seed=1, extra={"attention_kwargs": {"x": value}})
    start = time.perf_counter()
    for call in (spec.to_dict, lambda: spec_hash(spec), lambda: dump_specs(spec, tmp_path / "s.json")):
        with pytest.raises(videogen.SpecError, match=message) as err:
            call()
        assert err.value.field == "extra"
    # a video made from it (generate) records a bounded description, and replay asks for the value again
    meta = spec_metadata(spec)
    assert meta["spec_described"] == ["extra"] and len(json.dumps(meta)) < 20_000
    assert time.perf_counter() - start < 5.0
    [item] = videogen.generate_many([spec], tmp_path / "out", progress=False)  # refused while planning
    assert item.status == "failed" and isinstance(item.exception, videogen.SpecError) and message in item.error


def test_text_that_is_not_utf8_can_be_described_but_not_hashed() -> None:
    spec = videogen.VideoSpec(model="tiny-wan", prompt="bad\udcff", seed=1)
    with pytest.raises(videogen.SpecError, match="not valid UTF-8") as err:
        spec_hash(spec)
    assert err.value.field == "prompt"
    meta = spec_metadata(spec)
    assert meta["spec_described"] == ["prompt"] and meta["spec"]["prompt"] == "bad?"
    json.dumps(meta, ensure_ascii=False).encode()  # writable as UTF-8


# ---- the command's text


def test_a_prompt_that_is_not_utf8_is_one_error_before_anything_runs(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    # what Python makes of the bytes b"bad\xff" in argv (surrogateescape)
    code = cli.main(["generate", "-m", "tiny-wan", "-p", "bad\udcff", "--seeds", "1-2", "-o", str(out), "-q"])
    assert code == 2 and not out.exists()
    assert capsys.readouterr().err.splitlines() == [
        "videogen: error: --prompt: the text is not valid UTF-8 ('\\udcff' at character 3: bytes that are not "
        "UTF-8, e.g. from a terminal in another encoding); pass UTF-8 text"
    ]


def test_a_nul_in_a_prompts_file_is_one_error(tmp_path: Path, capsys) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_bytes(b"a fox\nbad\x00prompt\n")
    with pytest.raises(videogen.SpecError, match="line 2: holds a NUL character") as err:
        read_prompts(prompts)
    assert err.value.field == "prompt"
    out = tmp_path / "out"
    assert cli.main(["generate", "-m", "tiny-wan", "--prompts-file", str(prompts), "-o", str(out), "-q"]) == 2
    assert capsys.readouterr().err.splitlines() == [f"videogen: error: {err.value}"] and not out.exists()
