"""The spec's inputs, one table (spec/inputs.py): every media field read by its kind, hashed (a list item by item),
checked again on replay, refused by the server, given a flag; what a new input gets without more code."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import image, video
from PIL import Image

from videogen import SpecError, VideoSpec
from videogen.generation.replay import replay_spec
from videogen.media.inputs import MAX_IMAGES as READER_MAX_IMAGES
from videogen.media.inputs import read_input
from videogen.spec.files import input_hashes, spec_hash, spec_metadata
from videogen.spec.inputs import INPUTS, MAX_IMAGES


def test_the_table_is_the_specs_media_fields_in_order() -> None:
    fields = [f.name for f in dataclasses.fields(VideoSpec)]
    assert [name for name in fields if name in INPUTS] == list(INPUTS)
    assert {"mask", "reference_images", "pose_video", "face_video"} <= set(INPUTS)
    assert MAX_IMAGES == READER_MAX_IMAGES  # media/ sits below spec/: the reader keeps its own copy


@pytest.mark.parametrize("name", list(INPUTS))
def test_the_server_refuses_every_input_named_in_a_request(name: str) -> None:
    from videogen.serve.requests import spec_from_request

    with pytest.raises(SpecError) as info:
        spec_from_request({"model": "tiny-wan", "prompt": "x", name: "/etc/passwd"})
    assert info.value.field == name and "upload" in str(info.value)


def _png(path: Path, array: np.ndarray) -> str:
    Image.fromarray(array).save(path)
    return str(path)


def test_a_mask_is_an_image_or_a_video_by_what_the_file_holds(tmp_path: Path) -> None:
    still = read_input("image_or_video", _png(tmp_path / "m.png", image()), "mask")
    assert isinstance(still, Image.Image) and still.size == (32, 32)
    frames = [Image.fromarray(f) for f in video(3)]
    frames[0].save(tmp_path / "m.gif", save_all=True, append_images=frames[1:], duration=100)
    moving = read_input("image_or_video", str(tmp_path / "m.gif"), "mask")
    assert isinstance(moving, list) and len(moving) == 3
    assert isinstance(read_input("image_or_video", image(), "mask"), Image.Image)  # H×W×3: one image
    assert len(read_input("image_or_video", video(4), "mask")) == 4  # T×H×W×3: a video


def test_reference_images_are_one_image_or_a_list_and_an_items_error_names_it(tmp_path: Path) -> None:
    one = read_input("images", _png(tmp_path / "a.png", image()), "reference_images")
    assert len(one) == 1
    assert len(read_input("images", [image(), image(24, 40)], "reference_images")) == 2
    with pytest.raises(SpecError) as info:
        read_input("images", [image(), str(tmp_path / "missing.png")], "reference_images")
    assert info.value.field == "reference_images" and "reference_images[1]: no file" in str(info.value)


def test_a_list_of_references_is_hashed_item_by_item_and_replay_checks_each(tmp_path: Path) -> None:
    refs = [_png(tmp_path / "a.png", image()), _png(tmp_path / "b.png", image(seed=1))]
    spec = VideoSpec(model="tiny-wan_vace", prompt="x", reference_images=refs, mask=refs[0], seed=1)
    records = input_hashes(spec)["reference_images"]
    assert [r["path"] for r in records] == refs and all(len(r["sha256"]) == 64 for r in records)
    before = spec_hash(spec)
    assert spec.to_dict()["reference_images"] == refs and VideoSpec.from_dict(spec.to_dict()) == spec

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")
    (tmp_path / "clip.mp4.json").write_text(json.dumps(spec_metadata(spec)))
    assert replay_spec(clip).reference_images == refs

    _png(tmp_path / "b.png", image(seed=2))  # the second reference changes
    assert spec_hash(spec) != before
    with pytest.raises(SpecError) as info:
        replay_spec(clip)
    assert info.value.field == "reference_images" and "reference_images[1]" in str(info.value)
    assert "--reference-image" in str(info.value)


def test_in_memory_references_are_described_and_hashed_by_their_pixels() -> None:
    spec = VideoSpec(model="tiny-wan_vace", prompt="x", reference_images=[image()], seed=1)
    assert spec_metadata(spec)["spec_described"] == ["reference_images"]
    assert spec_hash(spec) != spec_hash(spec.replace(reference_images=[image(seed=3)]))
