"""Spec files and lossless spec dicts: every VideoSpec field through JSON, JSON Lines, YAML and TOML; errors naming the
file, the entry and the field; the spec hash and the inputs' content hashes. Pure Python: no model loads."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import image

import videogen
from videogen import LoRA, MemoryPlan, SpecError, VideoSpec
from videogen.memory.plans import ComponentPlan
from videogen.memory.presets import preset
from videogen.spec.files import dump_specs, input_hashes, load_specs, spec_hash

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FORMATS = ["json", "jsonl", "yaml", "toml"]


def full_spec(folder: Path) -> VideoSpec:
    """A spec with every field away from its default (a field added to VideoSpec must be set here too)."""
    for name in ("first.png", "last.png", "mask.png", "ref1.png", "ref2.png", "pose.mp4", "face.mp4"):
        (folder / name).write_bytes(b"png bytes of " + name.encode())
    (folder / "clip.mp4").write_bytes(b"mp4 bytes")
    values = dict(
        model="tiny-wan",
        prompt="a ferret leaps — über the stream",
        negative_prompt="blurry",
        image=str(folder / "first.png"),
        last_image=str(folder / "last.png"),
        video=str(folder / "clip.mp4"),
        mask=str(folder / "mask.png"),
        reference_images=[str(folder / "ref1.png"), "https://example.org/ref2.png"],
        pose_video=str(folder / "pose.mp4"),
        face_video=str(folder / "face.mp4"),
        height=48,
        width=64,
        num_frames=13,
        fps=12,
        steps=7,
        guidance_scale=4.5,
        seed=2**62 + 1,
        task="flf2v",
        memory=MemoryPlan(
            vae_tiling=True,
            placement="group",
            components={"transformer": ComponentPlan("leaf_level"), "vae": ComponentPlan("block_level", 2)},
            dtypes={"transformer": "bfloat16"},
            decode_chunk_size=4,
        ),
        scheduler={"name": "UniPCMultistepScheduler", "flow_shift": 3.0, "use_flow_sigmas": True},
        loras=[LoRA("style.safetensors", 0.5, name="style"), LoRA("org/lora", weight_name="w.safetensors")],
        extra={"max_sequence_length": 64, "nested": {"list": [1, 2.5, "x", True], "flag": False}},
        snap=True,
        revision="main",
        cache={"method": "fbc", "threshold": 0.1},
        fit="pad",
        audio=False,
    )
    if "parallel" in {f.name for f in dataclasses.fields(VideoSpec)}:
        values["parallel"] = "ulysses=2"
    return VideoSpec(**values)


def assert_same_spec(back: VideoSpec, spec: VideoSpec) -> None:
    """Field by field: equal values; the memory plan comes back as the dict of its fields (an equal plan)."""
    for f in dataclasses.fields(VideoSpec):
        mine, theirs = getattr(back, f.name), getattr(spec, f.name)
        if isinstance(theirs, MemoryPlan):
            assert MemoryPlan.from_dict(mine) == theirs, f.name
        else:
            assert mine == theirs, f.name
    assert back.to_dict() == spec.to_dict()
    assert spec_hash(back) == spec_hash(spec)


def test_the_full_spec_sets_every_field(tmp_path: Path) -> None:
    """Guards the round-trip tests below: a new VideoSpec field must be given a non-default value in full_spec."""
    compact = full_spec(tmp_path).to_dict(compact=True)
    assert set(compact) == {f.name for f in dataclasses.fields(VideoSpec)}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_field_round_trips_through_each_format(tmp_path: Path, fmt: str) -> None:
    spec = full_spec(tmp_path)
    other = spec.replace(seed=3, prompt="second", memory="low", loras=(), image=None, last_image=None, task="v2v")
    path = dump_specs([spec, other], tmp_path / f"specs.{fmt}")
    back = load_specs(path)
    assert len(back) == 2
    assert_same_spec(back[0], spec)
    assert_same_spec(back[1], other)
    # one spec alone: one object / mapping / table, read by VideoSpec.from_file too
    single = dump_specs(spec, tmp_path / f"one.{fmt}")
    assert_same_spec(VideoSpec.from_file(single), spec)
    parsed = {
        "json": lambda text: json.loads(text),
        "jsonl": lambda text: [json.loads(line) for line in text.splitlines()],
        "yaml": lambda text: yaml.safe_load(text),
        "toml": lambda text: tomllib.loads(text),
    }[fmt](single.read_text())
    first = parsed[0] if isinstance(parsed, list) else parsed
    assert first["memory"] == {**spec.memory.to_dict()} and first["seed"] == 2**62 + 1  # plain data in the file
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_dict_round_trip_is_plain_json(tmp_path: Path) -> None:
    spec = full_spec(tmp_path)
    data = spec.to_dict()
    assert list(data) == [f.name for f in dataclasses.fields(VideoSpec)]
    text = json.dumps(data, allow_nan=False)  # JSON-able as is
    assert_same_spec(VideoSpec.from_dict(json.loads(text)), spec)
    assert_same_spec(VideoSpec.from_dict(json.loads(text)), spec)
    assert data["loras"] == [
        {"source": "style.safetensors", "weight": 0.5, "name": "style"},
        {"source": "org/lora", "weight": 1.0, "weight_name": "w.safetensors"},
    ]
    assert VideoSpec().to_dict(compact=True) == {}  # defaults are left out
    assert VideoSpec(memory="low").to_dict(compact=True) == {"memory": "low"}
    assert VideoSpec.from_dict({}) == VideoSpec()


def test_memory_plans_round_trip_as_plain_dicts() -> None:
    plans = [
        MemoryPlan(),
        MemoryPlan(vae_tiling=True),
        preset("low"),
        preset("minimal", oom_retry=True),
        MemoryPlan(
            placement="group",
            components={"text_encoder": "resident", "vae": {"offload": "block_level", "blocks_per_group": 2}},
            gguf="/models/wan-q4.gguf",
            compile=True,
            layerwise_casting="float8_e4m3fn",
            layerwise_components=["transformer"],
            quantization="torchao-int8",
            quantize_components=("transformer",),
            offload_to_disk="/tmp/offload",
            attention_backend="native",
            compile_mode="max-autotune-no-cudagraphs",
            notes=("a note",),
        ),
    ]
    for plan in plans:
        data = plan.to_dict()
        assert json.loads(json.dumps(data)) == data
        assert MemoryPlan.from_dict(data) == plan
        assert MemoryPlan.from_dict(data).notes == plan.notes
    assert MemoryPlan(vae_tiling=True).to_dict() == {"name": "custom", "vae_tiling": True}
    with pytest.raises(SpecError, match="did you mean 'vae_tiling'") as info:
        MemoryPlan.from_dict({"vae_tilling": True})
    assert info.value.field == "memory"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("image", image()),
        ("last_image", "PIL"),
        ("video", [image(), image(seed=1)]),
        ("video", np.stack([image(), image()])),
    ],
)
def test_an_in_memory_input_cannot_go_in_a_file(tmp_path: Path, field: str, value: object) -> None:
    if isinstance(value, str):
        from PIL import Image

        value = Image.fromarray(image())
    spec = VideoSpec(model="tiny-wan", **{field: value})
    with pytest.raises(SpecError, match="pass its path") as info:
        spec.to_dict()
    assert info.value.field == field
    with pytest.raises(SpecError, match=f"one.yaml: {field}: .*in memory") as info:
        dump_specs(spec, tmp_path / "one.yaml")
    assert info.value.field == field and not (tmp_path / "one.yaml").exists()


def test_values_that_are_not_plain_data_are_refused() -> None:
    with pytest.raises(SpecError, match=r"extra\['embeds'\]: a object can't be written") as info:
        VideoSpec(extra={"embeds": object()}).to_dict()
    assert info.value.field == "extra"
    with pytest.raises(SpecError, match="finite numbers only"):
        VideoSpec(extra={"strength": float("nan")}).to_dict()
    # numpy scalars and tuples become plain numbers and lists
    data = VideoSpec(extra={"strength": np.float32(0.5), "size": (1, 2)}).to_dict()
    assert data["extra"] == {"strength": 0.5, "size": [1, 2]}


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "text", "where", "field", "message"),
    [
        (
            "bad.jsonl",
            '{"model": "tiny-wan"}\n\n{"stepz": 3}\n',
            "bad.jsonl, line 3: ",
            "stepz",
            "did you mean 'steps'",
        ),
        ("bad.json", '[{"model": "a"}, {"steps": "20"}]', "bad.json, index 1: ", "steps", "whole number"),
        ("bad.yaml", "- model: a\n- prompt: a\n  seed: [1]\n", "bad.yaml, index 1: ", "seed", "whole number"),
        ("bad.yml", "model: a\nsnap: 1\n", "bad.yml: ", "snap", "true or false"),
        ("bad.toml", '[[spec]]\nmodel = "a"\n[[spec]]\ncache = 3\n', "bad.toml, index 1: ", "cache", "method name"),
        ("bad2.toml", 'model = "a"\nloras = [{weight = 1.0}]\n', "bad2.toml: ", "loras", "no 'source'"),
        ("bad3.json", '{"image": 3}', "bad3.json: ", "image", "path or URL"),
        ("bad4.json", '{"task": "img2vid"}', "bad4.json: ", "task", "t2v, i2v"),
        ("list.json", "[1]", "list.json, index 0: ", "spec", "mapping of VideoSpec fields"),
    ],
)
def test_a_bad_entry_names_the_file_the_entry_and_the_field(
    tmp_path: Path, name: str, text: str, where: str, field: str, message: str
) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(SpecError) as info:
        load_specs(path)
    assert str(info.value).startswith(str(tmp_path / where)), str(info.value)
    assert message in str(info.value) and info.value.field == field


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("broken.json", '{"model": "a",\n "steps": }', "broken.json, line 2: not valid JSON"),
        ("broken.jsonl", '{"model": "a"}\n{"model": \n', "broken.jsonl, line 2: not valid JSON"),
        ("broken.yaml", "model: a\n  steps: [\n", "broken.yaml, line 2: not valid YAML"),
        ("broken.toml", 'model = "a"\nsteps = \n', "broken.toml: not valid TOML"),
        ("two.toml", '[[spec]]\nmodel = "a"\n[other]\nx = 1\n', "[[spec]] tables only"),
        ("empty.json", "[]", "holds no specs"),
        ("empty.yaml", "", "holds no specs"),
        ("specs.txt", "x", "a spec file ends in .json"),
    ],
)
def test_a_malformed_file_is_a_spec_error(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(SpecError) as info:
        load_specs(path)
    assert message in str(info.value) and info.value.field == "spec", str(info.value)


def test_from_file_reads_exactly_one_spec(tmp_path: Path) -> None:
    path = write(tmp_path / "two.jsonl", '{"model": "a"}\n{"model": "b"}\n')
    with pytest.raises(SpecError, match="holds 2 specs.*load_specs"):
        VideoSpec.from_file(path)
    with pytest.raises(SpecError, match="no such spec file"):
        VideoSpec.from_file(tmp_path / "missing.yaml")
    assert VideoSpec.from_file(write(tmp_path / "one.toml", 'model = "tiny-wan"\nseed = 4\n')) == VideoSpec(
        model="tiny-wan", seed=4
    )


def test_relative_inputs_resolve_against_the_files_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    path = write(
        folder / "run.yaml",
        "model: ./my-model\nimage: in/cat.png\nvideo: https://example.com/v.mp4\nlast_image: /abs/last.png\n"
        "loras: [./style.safetensors, org/repo-lora]\n",
    )
    monkeypatch.chdir(tmp_path)
    spec = VideoSpec.from_file("specs/run.yaml")
    assert spec.image == str(folder / "in" / "cat.png")
    assert spec.video == "https://example.com/v.mp4" and spec.last_image == "/abs/last.png"
    assert spec.model == str(folder / "my-model")  # ./ marks a local folder; a bare name is a catalog/Hub name
    assert [lora.source for lora in spec.loras] == [str(folder / "style.safetensors"), "org/repo-lora"]
    assert load_specs(path)[0] == spec
    assert VideoSpec.from_dict({"image": "in/cat.png"}).image == "in/cat.png"  # no file, no folder to resolve in


def test_toml_has_no_null_so_the_writer_says_so(tmp_path: Path) -> None:
    spec = VideoSpec(model="tiny-wan", extra={"max_sequence_length": None})
    with pytest.raises(SpecError, match=r"extra\['max_sequence_length'\] is None.*TOML has no null") as info:
        dump_specs(spec, tmp_path / "one.toml")
    assert info.value.field == "extra"
    assert load_specs(dump_specs(spec, tmp_path / "one.yaml")) == [spec]


def test_spec_hash_is_stable_and_follows_the_inputs_content(tmp_path: Path) -> None:
    picture = tmp_path / "in.png"
    picture.write_bytes(b"one")
    spec = VideoSpec(model="tiny-wan-i2v", prompt="a", image=str(picture), seed=1, extra={"b": 1, "a": 2})
    first = spec_hash(spec)
    assert len(first) == 64 and int(first, 16) >= 0
    assert spec_hash(VideoSpec.from_dict(json.loads(json.dumps(spec.to_dict())))) == first
    assert spec_hash(spec.replace(extra={"a": 2, "b": 1})) == first  # key order doesn't matter
    assert spec_hash(spec.replace(seed=2)) != first
    moved = tmp_path / "moved.png"
    moved.write_bytes(b"one")
    assert spec_hash(spec.replace(image=str(moved))) == first  # same content elsewhere: same video
    picture.write_bytes(b"two")
    assert spec_hash(spec) != first  # changed content: another video
    # a default written out or left out is the same spec
    assert spec_hash(VideoSpec(model="a", memory="auto", loras=[])) == spec_hash(VideoSpec(model="a"))
    # in-memory inputs hash by their pixels
    a, b = image(seed=0), image(seed=1)
    assert spec_hash(VideoSpec(image=a)) == spec_hash(VideoSpec(image=a.copy())) != spec_hash(VideoSpec(image=b))
    picture.unlink()
    with pytest.raises(SpecError, match="no file at") as info:
        spec_hash(spec)
    assert info.value.field == "image"


def test_input_hashes_record_each_local_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "in.png").write_bytes(b"pixels")
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        (frames / f"{i}.png").write_bytes(bytes([i]))
    (frames / "notes.txt").write_text("not a frame")
    monkeypatch.chdir(tmp_path)
    spec = VideoSpec(image="in.png", last_image="https://example.com/last.png", video="frames")
    hashes = input_hashes(spec)
    assert hashes["image"] == {"path": str(tmp_path / "in.png"), "sha256": hashlib.sha256(b"pixels").hexdigest()}
    assert hashes["last_image"] == {"url": "https://example.com/last.png"}
    assert hashes["video"]["path"] == str(frames)
    before = hashes["video"]["sha256"]
    (frames / "notes.txt").write_text("changed")  # not a frame: not read, not hashed
    assert input_hashes(spec)["video"]["sha256"] == before
    (frames / "1.png").write_bytes(b"\x09")
    assert input_hashes(spec)["video"]["sha256"] != before
    assert input_hashes(VideoSpec(image=image())) == {}


def test_a_misspelt_field_in_a_file_says_which_field_it_meant() -> None:
    with pytest.raises(SpecError, match="did you mean 'prompt'"):
        VideoSpec.from_dict({"promt": "a"}, source="x.json", entry="line 4")


def test_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed write leaves the previous file whole and no temp file behind."""
    path = dump_specs([VideoSpec(model="a")], tmp_path / "specs.json")
    before = path.read_text()

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(videogen.SaveError, match="No space left"):
        dump_specs([VideoSpec(model="b")], path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["specs.json"]
