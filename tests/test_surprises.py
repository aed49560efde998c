"""No surprises: malformed pipeline folders are clear errors, one video per call, a folder's size comes from
the folder, and every argument that shapes the frames is recorded (and reproduces them)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import image, video

import videogen
from videogen.catalog.lookup import _card_from_index, list_models, resolve
from videogen.checks.rules import complete
from videogen.families import all_families, get_family
from videogen.families.base import SIZE_FIELDS, _init_defaults
from videogen.generation.flow import load_media, prepare
from videogen.loading.pipelines import CACHE
from videogen.spec.videospec import VideoSpec
from videogen.testing import tiny_pipeline

PROMPT = "a ferret"


def _copy(family: str, task: str, tmp_path: Path, name: str = "copy") -> Path:
    folder = tmp_path / name
    shutil.copytree(tiny_pipeline(family, task), folder)
    return folder


def _fields(card: videogen.ModelCard, task: str) -> dict:
    """The inputs `task` needs on `card`'s family (images 32x32, a 9-frame video)."""
    fields: dict = {"model": card.name, "task": task}
    if get_family(card.family).accepts_prompt:
        fields["prompt"] = PROMPT
    if task in ("i2v", "flf2v", "conditioned"):
        fields["image"] = image()
    if task == "flf2v":
        fields["last_image"] = image(seed=1)
    if task == "v2v":
        fields["video"] = video()
    if task in ("animate", "replace"):  # Wan Animate: the character driven by a pose and a face video
        n = card.num_frames or 9
        fields.update(image=image(), pose_video=video(n), face_video=video(n, 8, 8))
    if task == "replace":  # into `video` where `mask` is white
        fields.update(video=video(card.num_frames or 9), mask=image(seed=2))
    return fields


# ---- 1. malformed model_index.json / config.json --------------------------------------------------
@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"_class_name": ["WanPipeline"]}', "_class_name must be a string"),
        (b"[]", "must be a JSON object"),
        (b'"WanPipeline"', "must be a JSON object"),
        (b"{,}", r"is not valid JSON \(line 1 column 2: "),
        (b"\xff\xfe{}", "is not UTF-8 text"),
        (
            b'{"_class_name": "WanPipeline", "transformer": "WanTransformer3DModel"}',
            r"component 'transformer' must be \[library, class name\]",
        ),
        (b'{"_class_name": ""}', "has no _class_name"),
    ],
)
def test_a_malformed_model_index_is_a_model_not_found_error(tmp_path: Path, content: bytes, words: str) -> None:
    (tmp_path / "model_index.json").write_bytes(content)
    with pytest.raises(videogen.ModelNotFoundError, match=words) as info:
        resolve(str(tmp_path))
    assert info.value.field == "model"
    assert "model_index.json" in str(info.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_model_index_is_a_model_not_found_error(tmp_path: Path) -> None:
    index = tmp_path / "model_index.json"
    index.write_text('{"_class_name": "WanPipeline"}')
    index.chmod(0)
    try:
        with pytest.raises(videogen.ModelNotFoundError, match="model_index.json could not be read"):
            resolve(str(tmp_path))
    finally:
        index.chmod(0o644)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", r"transformer/config.json is not valid JSON \(line 1 column 2: "),
        ("[1, 2]", r"transformer/config.json must be a JSON object"),
        ('{"patch_size": 5}', r"component configs of this WanPipeline hold values videogen can't read"),
    ],
)
def test_a_malformed_component_config_is_a_model_not_found_error(tmp_path: Path, text: str, words: str) -> None:
    folder = _copy("wan", "t2v", tmp_path)
    (folder / "transformer" / "config.json").write_text(text)
    with pytest.raises(videogen.ModelNotFoundError, match=words) as info:
        resolve(str(folder))
    assert info.value.field == "model"


def test_the_hub_path_shares_the_index_checks() -> None:
    with pytest.raises(videogen.ModelNotFoundError, match=r"someone/repo/model_index.json must be a JSON object"):
        _card_from_index("someone/repo", [], lambda component: {})
    with pytest.raises(videogen.ModelNotFoundError, match="_class_name must be a string"):
        _card_from_index("someone/repo", {"_class_name": 3}, lambda component: {})
    with pytest.raises(videogen.ModelNotFoundError, match=r"someone/repo/vae/config.json must be a JSON object"):
        _card_from_index("someone/repo", {"_class_name": "WanPipeline"}, lambda component: "text")


# ---- 2. one video per call --------------------------------------------------------------------------
@pytest.mark.parametrize("family", [f.name for f in all_families()])
def test_num_videos_per_prompt_is_refused_before_loading(family: str) -> None:
    card = next(c for c in list_models(family) if c.tiny)
    loads = CACHE.loads
    with pytest.raises(videogen.SpecError, match="one video per call.*seed") as info:
        prepare(**_fields(card, card.tasks[0]), extra={"num_videos_per_prompt": 3})
    assert info.value.field == "extra" and CACHE.loads == loads


# ---- 3. a folder's defaults come from the folder ------------------------------------------------------
def test_a_folder_whose_configs_give_no_size_must_be_given_one(tmp_path: Path) -> None:
    folder = _copy("wan", "t2v", tmp_path)
    assert resolve(str(folder)).required == SIZE_FIELDS
    loads = CACHE.loads
    with pytest.raises(videogen.SpecError, match="no default: pass height, width and num_frames") as info:
        videogen.generate(model=str(folder), prompt=PROMPT, progress=False)
    assert info.value.field == "height"
    with pytest.raises(videogen.SpecError, match="pass num_frames") as info:
        videogen.generate(model=str(folder), prompt=PROMPT, height=32, width=32, progress=False)
    assert info.value.field == "num_frames" and CACHE.loads == loads  # refused before any load
    fields = {"prompt": PROMPT, "height": 32, "width": 32, "num_frames": 9, "steps": 2, "seed": 3, "progress": False}
    mine = videogen.generate(model=str(folder), **fields)
    tiny = videogen.generate(model="tiny-wan", **fields)
    assert (mine.frames == tiny.frames).all()


def _full_size_folder(tmp_path: Path, arch: str, pipeline: str, **transformer: object) -> Path:
    """A pipeline folder with the stored full-size configs of `arch` written as save_pretrained would (every
    key, defaults included) and no weights: enough to resolve, nothing to load."""
    stored = json.loads((Path(videogen.__file__).parent / "families" / "configs" / f"{arch}.json").read_text())
    folder = tmp_path / arch
    index: dict = {"_class_name": pipeline}
    for name, part in stored["components"].items():
        index[name] = [part["library"], part["class"]]
        config = {**(_init_defaults(part["class"]) if part["library"] == "diffusers" else {}), **part["config"]}
        if name == "transformer":
            config.update(transformer)
        (folder / name).mkdir(parents=True)
        (folder / name / "config.json").write_text(json.dumps(config))
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


def test_a_folder_with_a_catalog_architecture_takes_that_cards_defaults(tmp_path: Path) -> None:
    card = resolve(str(_full_size_folder(tmp_path, "wan2.1-t2v-1.3b", "WanPipeline")))
    assert card.required == () and (card.height, card.width, card.num_frames) == (480, 832, 81)
    card = resolve(str(_full_size_folder(tmp_path, "wan2.1-t2v-14b", "WanPipeline")))
    assert card.required == () and (card.height, card.width) == (720, 1280)
    # the same layout with other dimensions is no catalog model: no default size
    other = _full_size_folder(tmp_path / "other", "wan2.1-t2v-1.3b", "WanPipeline", num_layers=12)
    assert resolve(str(other)).required == SIZE_FIELDS


@pytest.mark.parametrize(("family", "sample_size", "vae_scale"), [("svd", 32, 4), ("i2vgen_xl", 32, 4)])
def test_a_unet_folder_takes_its_size_from_its_configs(
    tmp_path: Path, family: str, sample_size: int, vae_scale: int
) -> None:
    folder = _copy(family, "i2v", tmp_path)
    unet = json.loads((folder / "unet" / "config.json").read_text())
    vae = json.loads((folder / "vae" / "config.json").read_text())
    assert unet["sample_size"] == sample_size and 2 ** (len(vae["block_out_channels"]) - 1) == vae_scale
    card = resolve(str(folder))
    fields = _fields(card, "i2v") | {"model": str(folder)}
    p = prepare(**fields)
    assert (p.spec.height, p.spec.width) == (sample_size * vae_scale,) * 2 and card.required == ()


@pytest.mark.parametrize("family", [f.name for f in all_families()])
def test_every_family_refuses_a_spec_without_the_fields_its_card_requires(family: str) -> None:
    """Each family's own `check` runs the shared rules first (a family that forgot would let this through)."""
    card = replace(next(c for c in list_models(family) if c.tiny), required=SIZE_FIELDS)
    spec = VideoSpec(**_fields(card, card.tasks[0]))
    with pytest.raises(videogen.SpecError, match="no default: pass height, width and num_frames") as info:
        complete(spec, card, get_family(family), load_media(spec))
    assert info.value.field == "height"
    given = spec.replace(height=card.height, width=card.width, num_frames=card.num_frames)
    complete(given, card, get_family(family), load_media(given))


# ---- 4. every argument that shapes the frames is recorded ------------------------------------------
@pytest.mark.parametrize(
    ("model", "key", "value"),
    [("tiny-wan2.2", "guidance_scale_2", 3.0), ("tiny-framepack-f1", "sampling_type", "vanilla")],
)
def test_card_call_defaults_are_recorded_and_the_spec_reproduces_the_video(model: str, key: str, value: object) -> None:
    card = resolve(model)
    fields = _fields(card, card.tasks[0])
    result = videogen.generate(**fields, steps=1, seed=11, progress=False)
    call = result.metadata["call"]
    assert call[key] == value and result.spec.extra[key] == value
    assert call["num_inference_steps"] == 1 and call["height"] == result.height
    assert "callback_on_step_end" not in call and "generator" in call
    assert json.loads(json.dumps(result.metadata))["call"] == call  # JSON as it is, no default=str
    again = videogen.generate(result.spec, progress=False)
    assert (again.frames == result.frames).all() and again.spec == result.spec


def test_media_in_the_call_record_is_described() -> None:
    result = videogen.generate(model="tiny-wan", prompt=PROMPT, video=video(), steps=2, seed=1, progress=False)
    assert result.metadata["call"]["video"] == "<9 frames 32x32>"


@pytest.mark.parametrize("card", [c for c in list_models() if c.call_defaults], ids=lambda c: c.name)
def test_every_cards_call_defaults_are_accepted_back_in_extra(card: videogen.ModelCard) -> None:
    """What the returned spec carries in extra passes the spec rules again (no "set by videogen")."""
    spec = VideoSpec(**_fields(card, card.tasks[0]), extra=dict(card.call_defaults))
    complete(spec, card, get_family(card.family), load_media(spec))
