"""`VideoSpec.fit` (docs/inputs.md, "Image size"): an input image's aspect ratio sets the video's size when the spec
gives none (diffusers' Wan image-to-video arithmetic), and "follow"/"crop"/"pad"/"stretch" bring every image a call
gets to the video's aspect ratio in one place (videogen.checks.fit), recorded in `metadata["fit"]`."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import videogen
from videogen.checks import fit as fitting
from videogen.errors import SpecError
from videogen.families.archs import arch_config
from videogen.spec.videospec import FITS


def picture(h: int, w: int) -> Image.Image:
    """A smooth gradient in which no pixel is black (so black bars are the padding's)."""
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([40 + x * 200 // max(w - 1, 1), 40 + y * 200 // max(h - 1, 1), 40 + (x + y) * 100 // (w + h)], -1)
    return Image.fromarray(rgb.astype(np.uint8))


def prepare(**fields) -> videogen.generation.flow.Prepared:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a size derived from the image is never a snap warning
        return videogen.prepare(prompt="a ferret", **fields)


@pytest.mark.parametrize("size", [(1024, 683), (683, 1024), (1920, 1080), (800, 800), (2000, 500)])
def test_size_follows_the_image_as_the_diffusers_wan_example_derives_it(size: tuple[int, int]) -> None:
    """WanImageToVideoPipeline's docstring example: max_area = 480*832, mod_value = vae_scale_factor_spatial *
    patch_size[1] (read from the stored full-size configs), each side round(sqrt(...)) // mod_value * mod_value."""
    configs = arch_config("wan2.1-i2v-14b")["components"]
    vae_scale_factor_spatial = 2 ** len(configs["vae"]["config"]["temperal_downsample"])  # as WanPipeline sets it
    mod_value = vae_scale_factor_spatial * configs["transformer"]["config"]["patch_size"][1]
    width, height = size
    max_area, aspect_ratio = 480 * 832, height / width
    expected = (
        round(np.sqrt(max_area * aspect_ratio)) // mod_value * mod_value,
        round(np.sqrt(max_area / aspect_ratio)) // mod_value * mod_value,
    )
    prepared = prepare(model="wan2.1-i2v-14b-480p", image=Image.new("RGB", size, "gray"))
    assert (prepared.spec.height, prepared.spec.width) == expected
    assert prepared.notes["fit"]["size_from"] == "image"


def test_tiny_wan_i2v_follows_a_two_to_one_image() -> None:
    result = videogen.generate(model="tiny-wan-i2v", prompt="a ferret", image=picture(40, 80), seed=1, progress=False)
    assert result.frames.shape == (9, 16, 32, 3)  # the card's 32x32 area at 2:1, multiples of 16
    assert (result.spec.height, result.spec.width, result.spec.fit) == (16, 32, "follow")
    assert result.metadata["fit"] == {
        "fit": "follow",
        "height": 16,
        "width": 32,
        "size_from": "image",
        "inputs": {"image": {"height": 40, "width": 80, "did": "none"}},  # 2:1 already: the pipeline resizes it
    }


def test_one_side_given_the_other_follows_the_image() -> None:
    assert (prepare(model="tiny-wan-i2v", image=picture(40, 80), height=32).spec.width) == 64
    done = prepare(model="tiny-wan-i2v", image=picture(80, 40), width=32)
    assert done.spec.height == 64
    assert done.notes["fit"]["size_from"] == {"height": "image", "width": "spec"}


def test_derived_sizes_keep_the_families_rules_without_a_word() -> None:
    # CogVideoX 1.5 I2V: shorter side 768, longer up to 1360 (its family's rule fixes the derived 720x1440)
    assert (prepare(model="cogvideox1.5-5b-i2v", image=Image.new("RGB", (1000, 500))).spec.height) == 768
    assert (prepare(model="cogvideox1.5-5b-i2v", image=Image.new("RGB", (1000, 500))).spec.width) == 1360
    tall = prepare(model="cogvideox1.5-5b-i2v", image=Image.new("RGB", (500, 800)))
    assert (tall.spec.height, tall.spec.width) == (1280, 768)  # 1280x800 derived; the shorter side set to 768
    assert tall.notes["fit"]["inputs"]["image"]["did"] == "crop"
    # CogVideoX 5B I2V runs at 480x720 only: a portrait image is cropped to it
    portrait = prepare(model="cogvideox-5b-i2v", image=Image.new("RGB", (500, 1000)))
    assert (portrait.spec.height, portrait.spec.width) == (480, 720)
    assert portrait.notes["fit"]["inputs"]["image"]["did"] == "crop"
    # an extreme aspect ratio stays within the accepted size
    thin = prepare(model="wan2.1-i2v-14b-480p", image=Image.new("RGB", (8000, 40)))
    assert (thin.spec.height, thin.spec.width) == (32, 4 * 832)  # the widest accepted: 4x the card's width


def test_crop_keeps_the_centre() -> None:
    source = picture(64, 128)  # 2:1 into a 32x32 video
    for fit in ("crop", "follow"):  # with a size given, "follow" crops
        prepared = prepare(model="tiny-wan-i2v", image=source, height=32, width=32, fit=fit)
        fitted = prepared.media["image"]
        assert fitted.size == (64, 64)  # the centred square at the image's resolution; the pipeline resizes it
        assert np.array_equal(np.asarray(fitted), np.asarray(source)[:, 32:96])
        assert prepared.notes["fit"]["inputs"]["image"] == {"height": 64, "width": 128, "did": "crop"}
    tall = prepare(model="tiny-wan-i2v", image=picture(90, 30), height=32, width=32, fit="crop").media["image"]
    assert np.array_equal(np.asarray(tall), np.asarray(picture(90, 30))[30:60])


def test_pad_letterboxes_with_black_bars() -> None:
    prepared = prepare(model="tiny-wan-i2v", image=picture(64, 128), height=32, width=32, fit="pad")
    fitted = np.asarray(prepared.media["image"])
    assert fitted.shape == (32, 32, 3)  # the video's size: the 2:1 image 32x16, bars of 8 above and below
    assert not fitted[:8].any() and not fitted[24:].any()
    assert (fitted[8:24].min(axis=2) > 0).all()  # the image itself (no pixel of it is black)
    assert prepared.notes["fit"]["inputs"]["image"]["did"] == "pad"
    side = np.asarray(prepare(model="tiny-wan-i2v", image=picture(80, 40), fit="pad").media["image"])
    assert not side[:, :8].any() and not side[:, 24:].any() and (side[:, 8:24].min(axis=2) > 0).all()


def test_stretch_hands_the_image_over_as_it_is() -> None:
    source = picture(64, 128)
    prepared = prepare(model="tiny-wan-i2v", image=source, height=32, width=32, fit="stretch")
    assert np.array_equal(np.asarray(prepared.media["image"]), np.asarray(source))  # the pipeline stretches it
    assert prepared.notes["fit"]["inputs"]["image"]["did"] == "stretch"
    no_size = prepare(model="tiny-wan-i2v", image=source, fit="stretch")
    assert (no_size.spec.height, no_size.spec.width) == (32, 32)  # the card's size
    assert no_size.notes["fit"]["size_from"] == "card"


def test_the_call_gets_the_fitted_images() -> None:
    fields = {"model": "tiny-wan-i2v", "prompt": "a ferret", "image": picture(64, 128), "seed": 2, "progress": False}
    for fit, described in (("crop", "64x64"), ("pad", "32x32"), ("stretch", "128x64")):
        result = videogen.generate(**fields, height=32, width=32, fit=fit)
        assert result.metadata["call"]["image"] == f"<PIL image {described}>"
        assert result.frames.shape == (9, 32, 32, 3)
        assert result.metadata["fit"]["fit"] == fit
    crop = videogen.generate(**fields, height=32, width=32, fit="crop").frames
    square = videogen.generate(**{**fields, "image": np.asarray(picture(64, 128))[:, 32:96]}, height=32, width=32)
    assert np.array_equal(crop, square.frames)  # cropping first is the same as passing the centre square


def test_last_image_and_condition_images_are_fitted_too() -> None:
    flf = prepare(model="tiny-wan-flf2v", image=picture(40, 80), last_image=picture(80, 80))
    assert (flf.spec.height, flf.spec.width) == (16, 32)  # from the first image
    assert flf.media["last_image"].size == (80, 40)  # the centre of the square at 2:1
    assert flf.notes["fit"]["inputs"]["last_image"]["did"] == "crop"
    conditioned = prepare(
        model="tiny-ltx",
        task="conditioned",
        height=32,
        width=64,
        extra={"conditions": [{"image": picture(64, 64), "frame_index": 0}, {"image": picture(32, 64)}]},
    )
    images = [c["image"] for c in conditioned.media["ltx_conditions"]]
    assert [image.size for image in images] == [(64, 32), (64, 32)]
    assert conditioned.notes["fit"]["inputs"] == {
        "ltx_conditions[0]": {"height": 64, "width": 64, "did": "crop"},
        "ltx_conditions[1]": {"height": 32, "width": 64, "did": "none"},
    }
    keyframe = prepare(model="tiny-ltx", task="conditioned", image=picture(64, 64), height=32, width=64)
    assert keyframe.media["ltx_conditions"][0]["image"].size == (64, 32)  # the image is the condition
    assert list(keyframe.notes["fit"]["inputs"]) == ["image"]


def test_no_image_no_record() -> None:
    assert "fit" not in prepare(model="tiny-wan").notes
    assert "fit" not in prepare(model="tiny-wan", fit="pad").notes  # nothing to fit: the value is accepted


@pytest.mark.parametrize("value", ["cover", "Follow", "", 3, None])
def test_an_invalid_fit_is_a_spec_error_naming_the_field_and_the_values(value) -> None:
    if value is None:  # a spec file's null is the default
        assert videogen.VideoSpec(fit=None).fit == "follow"
        return
    with pytest.raises(SpecError) as err:
        videogen.generate(model="tiny-wan-i2v", prompt="x", image=picture(32, 32), fit=value)
    assert err.value.field == "fit"
    assert all(repr(fit) in str(err.value) for fit in FITS)
    assert err.value.valid == FITS
    with pytest.raises(SpecError) as err:
        videogen.VideoSpec.from_dict({"model": "tiny-wan", "fit": value})
    assert err.value.field == "fit"


def test_replay_makes_the_same_size(tmp_path: Path) -> None:
    source = tmp_path / "wide.png"
    picture(42, 64).save(source)  # about 3:2: the derived 16x32 crops a sliver
    result = videogen.generate(model="tiny-wan-i2v", prompt="a ferret", image=str(source), seed=4, progress=False)
    assert (result.spec.height, result.spec.width) == (16, 32)
    assert result.metadata["fit"]["inputs"]["image"]["did"] == "crop"
    path = result.save(tmp_path / "clip.webp")
    again = videogen.replay(path, progress=False)
    assert again.frames.shape == result.frames.shape
    assert np.array_equal(again.frames, result.frames)
    assert again.metadata["fit"]["inputs"] == result.metadata["fit"]["inputs"]


def test_size_for_arithmetic() -> None:
    assert fitting.size_for((80, 40), 32 * 32, 16) == (16, 32)
    assert fitting.size_for((40, 80), 32 * 32, 16) == (32, 16)
    assert fitting.size_for((100, 1), 1024, 16, limits=(64, 64)) == (16, 64)  # clamped to [multiple, limit]
    assert fitting.size_for((300, 100), 10**6, 8, sizes=((480, 720), (720, 480))) == (480, 720)
    area = 480 * 832
    h, w = fitting.size_for((1920, 1080), area, 16)
    assert h * w <= area and abs(w / h - 16 / 9) < 0.1 and h % 16 == w % 16 == 0
    assert math.isclose(fitting.size_for((90, 30), 0, 8, height=32)[1], 96)


def test_an_empty_image_is_left_to_the_media_checks() -> None:
    empty = {"image": Image.new("RGB", (0, 0))}  # no aspect ratio: nothing to follow or fit
    card = videogen.resolve("tiny-wan-i2v")
    assert fitting.follow_size("follow", empty, card, None, None, (128, 128)) == (None, None, frozenset())
    assert fitting.fit_media(empty, 32, 32, "pad") == {}


def test_a_result_made_before_fit_existed_replays_stretched(tmp_path: Path) -> None:
    """Its sidecar records no `fit`: its image was stretched to the size, so replay stretches it again."""
    source = tmp_path / "wide.png"
    picture(42, 64).save(source)
    old = videogen.generate(
        model="tiny-wan-i2v", prompt="a ferret", image=str(source), seed=4, fit="stretch", progress=False
    )
    path = old.save(tmp_path / "clip.webp")
    sidecar = Path(f"{path}.json")
    meta = json.loads(sidecar.read_text(encoding="utf-8"))
    del meta["spec"]["fit"]
    sidecar.write_text(json.dumps(meta), encoding="utf-8")
    again = videogen.replay(path, progress=False)
    assert again.spec.fit == "stretch"
    assert np.array_equal(again.frames, old.frames)
