"""Replay: the metadata records the lossless spec, the seed and the inputs' hashes; `videogen.replay(path)` makes the
same frames again (t2v with a custom memory plan, i2v from an image file, v2v from a video file), reads the mp4's or
GIF's embedded metadata without a sidecar, and refuses a missing or changed input unless it is replaced."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import image
from PIL import Image

import videogen
from videogen import MemoryPlan, SpecError, VideoSpec
from videogen.generation.replay import read_metadata, replay_spec

STEPS = 2


@pytest.fixture(scope="module")
def t2v(tmp_path_factory: pytest.TempPathFactory) -> tuple[videogen.VideoResult, Path]:
    """tiny-wan, a custom memory plan, saved as .mp4 (frames compared with the result's own)."""
    result = videogen.generate(
        model="tiny-wan", prompt="a ferret", seed=11, steps=STEPS, memory=MemoryPlan(vae_tiling=True), progress=False
    )
    return result, result.save(tmp_path_factory.mktemp("t2v") / "clip.mp4")


def test_metadata_records_the_lossless_spec_the_seed_and_no_inputs(t2v: tuple[videogen.VideoResult, Path]) -> None:
    result, path = t2v
    meta = json.loads((path.parent / "clip.mp4.json").read_text())
    assert meta["seed"] == result.seed == 11
    assert meta["spec"] == result.spec.to_dict()  # the completed spec, every field
    assert meta["spec"]["memory"] == {"name": "custom", "vae_tiling": True}  # a plan, not its repr
    assert meta["inputs"] == {} and "spec_described" not in meta


def test_t2v_replays_to_the_same_frames(t2v: tuple[videogen.VideoResult, Path]) -> None:
    result, path = t2v
    again = videogen.replay(path, progress=False)
    assert np.array_equal(again.frames, result.frames)
    # the same spec; the plan comes back as the plain dict of its fields, which generate reads as the same plan
    assert again.seed == result.seed and again.spec.to_dict() == result.spec.to_dict()
    assert again.spec.memory == {"name": "custom", "vae_tiling": True}
    assert again.metadata["memory_plan"]["vae_tiling"] is True


@pytest.mark.parametrize("name", ["clip.mp4", "clip.gif"])
def test_without_a_sidecar_the_embedded_metadata_is_read(
    t2v: tuple[videogen.VideoResult, Path], tmp_path: Path, name: str
) -> None:
    result, _ = t2v
    with pytest.warns(videogen.SaveWarning) if name.endswith(".gif") else _nothing():
        path = result.save(tmp_path / name)
    (tmp_path / f"{name}.json").unlink()
    meta, source = read_metadata(path)
    assert source == str(path) and meta["seed"] == 11 and meta["saved"]["format"] == name[-3:]
    assert replay_spec(path).to_dict() == result.spec.to_dict()  # what generates the same frames (test above)


def test_a_file_without_sidecar_or_embedded_metadata_is_refused(
    t2v: tuple[videogen.VideoResult, Path], tmp_path: Path
) -> None:
    result, _ = t2v
    path = result.save(tmp_path / "clip.webp")
    (tmp_path / "clip.webp.json").unlink()
    with pytest.raises(SpecError, match="no sidecar .*webp and png frames keep it only in the sidecar") as info:
        replay_spec(path)
    assert info.value.field == "path"
    with pytest.raises(SpecError, match="no video at"):
        replay_spec(tmp_path / "missing.mp4")


def test_changes_are_spec_fields(t2v: tuple[videogen.VideoResult, Path]) -> None:
    result, path = t2v
    changed = replay_spec(path, steps=3, prompt="a cat")
    assert (changed.steps, changed.prompt, changed.seed) == (3, "a cat", 11)
    assert changed.replace(steps=STEPS, prompt="a ferret").to_dict() == result.spec.to_dict()
    with pytest.raises(SpecError, match="did you mean 'steps'") as info:
        replay_spec(path, stpes=3)
    assert info.value.field == "stpes"


def test_i2v_from_an_image_file_replays_and_checks_the_file(tmp_path: Path) -> None:
    picture = tmp_path / "in.png"
    Image.fromarray(image(32, 32, seed=5)).save(picture)
    result = videogen.generate(
        model="tiny-wan-i2v", prompt="a", image=str(picture), seed=3, steps=STEPS, progress=False
    )
    path = result.save(tmp_path / "clip.webp")
    meta = json.loads((tmp_path / "clip.webp.json").read_text())
    assert meta["inputs"]["image"]["path"] == str(picture) and len(meta["inputs"]["image"]["sha256"]) == 64
    assert meta["spec"]["image"] == str(picture)
    assert np.array_equal(videogen.replay(path, progress=False).frames, result.frames)

    original = picture.read_bytes()
    old = meta["inputs"]["image"]["sha256"]
    Image.fromarray(image(32, 32, seed=6)).save(picture)  # the input changed since
    with pytest.raises(SpecError) as info:
        replay_spec(path)
    message = str(info.value)
    assert info.value.field == "image" and str(picture) in message and "changed" in message
    assert f"was {old}" in message and "image=" in message and "--image" in message
    from videogen.spec.files import input_sha256

    assert f"is now {input_sha256(picture)}" in message

    picture.unlink()  # the input is gone
    with pytest.raises(SpecError, match=f"image: the input '{picture}' is missing .*pass image=") as info:
        replay_spec(path)
    assert info.value.field == "image"

    copy = tmp_path / "elsewhere.png"  # replaced: the same picture from another file
    copy.write_bytes(original)
    again = videogen.replay(path, image=str(copy), progress=False)
    assert np.array_equal(again.frames, result.frames) and again.spec.image == str(copy)


def test_v2v_from_a_video_file_replays(t2v: tuple[videogen.VideoResult, Path], tmp_path: Path) -> None:
    _, source = t2v
    clip = tmp_path / "input.mp4"
    shutil.copy(source, clip)
    result = videogen.generate(model="tiny-wan", prompt="b", video=str(clip), seed=4, steps=STEPS, progress=False)
    assert result.spec.task == "v2v"
    path = result.save(tmp_path / "out.mp4")
    meta = json.loads((tmp_path / "out.mp4.json").read_text())
    assert meta["inputs"]["video"]["path"] == str(clip)
    again = videogen.replay(path, progress=False)
    assert np.array_equal(again.frames, result.frames)


def test_an_in_memory_input_is_described_and_must_be_given_again(tmp_path: Path) -> None:
    picture = image(32, 32, seed=7)
    result = videogen.generate(model="tiny-wan-i2v", prompt="a", image=picture, seed=2, steps=STEPS, progress=False)
    assert result.metadata["spec_described"] == ["image"]
    assert result.metadata["spec"]["image"] == "<array (32, 32, 3)>"
    path = result.save(tmp_path / "frames")  # a folder of png frames: metadata in the sidecar only
    with pytest.raises(SpecError, match=r"in-memory image .*pass image=\.\.\. \(CLI: --image PATH\)") as info:
        replay_spec(path)
    assert info.value.field == "image"
    again = videogen.replay(path, image=picture, progress=False)
    assert np.array_equal(again.frames, result.frames)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_a_spec_without_seed_records_the_seed_it_drew(tmp_path: Path) -> None:
    result = videogen.generate(VideoSpec(model="tiny-wan", prompt="c", steps=STEPS, num_frames=5), progress=False)
    assert result.metadata["seed"] == result.seed == result.metadata["spec"]["seed"]
    assert isinstance(result.seed, int)


def edit(meta: dict, where: str, value: object) -> dict:
    """A copy of `meta` with the dotted key `where` set to `value`."""
    out = json.loads(json.dumps(meta))
    *parents, last = where.split(".")
    node = out
    for key in parents:
        node = node[key]
    node[last] = value
    return out


@pytest.mark.parametrize(
    "where, value, field",
    [
        ("inputs.image.path", 5, "inputs.image.path"),
        ("inputs.image.path", "", "inputs.image.path"),
        ("inputs.image.sha256", None, "inputs.image.sha256"),
        ("inputs.image.sha256", "abc", "inputs.image.sha256"),
        ("inputs.image", "in.png", "inputs.image"),
        ("inputs", ["in.png"], "inputs"),
        ("inputs", "x", "inputs"),
        ("spec_described", 5, "spec_described"),
        ("spec_described", [1], "spec_described"),
    ],
)
def test_a_malformed_sidecar_is_a_spec_error_naming_the_entry(tmp_path: Path, where: str, value, field: str) -> None:
    """An edited sidecar used to skip the input's hash check silently (or raise TypeError): now it names the entry."""
    from videogen.spec.files import spec_metadata

    picture = tmp_path / "in.png"
    Image.fromarray(image(32, 32, seed=5)).save(picture)
    meta = spec_metadata(VideoSpec(model="tiny-wan-i2v", prompt="a", image=str(picture), seed=3))
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"frames")
    Image.fromarray(image(32, 32, seed=6)).save(picture)  # changed since: the hash check must catch it
    (tmp_path / "clip.mp4.json").write_text(json.dumps(meta))
    with pytest.raises(SpecError, match="changed since the video was made"):
        replay_spec(video)
    (tmp_path / "clip.mp4.json").write_text(json.dumps(edit(meta, where, value)))
    with pytest.raises(SpecError) as info:
        replay_spec(video)
    assert info.value.field == field and f"{field}={value!r}" in str(info.value)
    assert "the metadata was edited or is not videogen's" in str(info.value)
