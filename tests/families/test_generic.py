"""The generic family on a real diffusers video pipeline no family wraps: Latte, built tiny in code and saved with
save_pretrained, driven from its folder. It stands for every class tests/families/test_coverage.py counts as
driven by the generic family."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from helpers import assert_frames_close, image, run_direct

import videogen
from videogen.catalog.lookup import resolve
from videogen.families import family_for_class
from videogen.families.generic import NOTE

PROMPT = "a white ferret leaps into a stream"
SEED = 7
#: the spec's size: Latte's call defaults to 512×512, 16 frames, 50 steps
SIZE = {"height": 32, "width": 32, "num_frames": 4, "steps": 2}


def build_latte(folder: Path) -> None:
    """A tiny LattePipeline: one transformer layer over 8×8 latents of 4 frames (its temporal position table
    is as long as the video), the SD VAE of three 8-channel blocks, a tiny T5."""
    import torch
    from diffusers import LattePipeline, LatteTransformer3DModel

    from videogen.families import tiny_parts

    torch.manual_seed(0)
    LattePipeline(
        transformer=LatteTransformer3DModel(
            sample_size=8,
            num_layers=1,
            patch_size=2,
            attention_head_dim=8,
            num_attention_heads=2,
            caption_channels=32,
            in_channels=4,
            cross_attention_dim=16,
            out_channels=8,
            attention_bias=True,
            activation_fn="gelu-approximate",
            num_embeds_ada_norm=1000,
            norm_type="ada_norm_single",
            norm_elementwise_affine=False,
            norm_eps=1e-6,
            video_length=4,
        ),
        vae=tiny_parts.sd_vae(),
        text_encoder=tiny_parts.t5_encoder(32),
        tokenizer=tiny_parts.t5_tokenizer(),
        scheduler=tiny_parts.ddim_scheduler(),
    ).save_pretrained(folder)


@pytest.fixture(scope="module")
def latte(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-latte")
    build_latte(folder)
    return folder


def spec(folder: Path, **fields: Any) -> dict[str, Any]:
    return {"model": str(folder), "prompt": PROMPT, "seed": SEED, **SIZE, **fields}


def test_latte_is_no_family_s_and_resolves_to_the_generic_family(latte: Path) -> None:
    assert family_for_class("LattePipeline") is None  # else this test stands for nothing
    card = resolve(str(latte))
    assert card.family == "generic"
    assert card.pipeline_class("t2v", videogen.families.get_family("generic")) == "LattePipeline"
    # the call's own defaults: Latte's signature says 512×512, 16 frames (`video_length`), 50 steps, 7.5
    assert (card.height, card.width, card.num_frames, card.steps, card.guidance_scale) == (512, 512, 16, 50, 7.5)


def test_latte_equals_the_direct_diffusers_call(latte: Path, caplog: pytest.LogCaptureFixture) -> None:
    from diffusers import LattePipeline

    with caplog.at_level(logging.WARNING, logger="videogen"):
        result = videogen.generate(**spec(latte, negative_prompt="blurry", guidance_scale=3.0), progress=False)
    pipe = LattePipeline.from_pretrained(latte)
    pipe.set_progress_bar_config(disable=True)
    expected = run_direct(
        pipe,
        SEED,
        prompt=PROMPT,
        negative_prompt="blurry",
        height=32,
        width=32,
        video_length=4,  # Latte's name for the frame count
        num_inference_steps=2,
        guidance_scale=3.0,
    )
    assert_frames_close(result.frames, expected)
    assert result.frames.shape == (4, 32, 32, 3)
    assert result.metadata["model"] == {**result.metadata["model"], "family": "generic", "pipeline": "LattePipeline"}
    assert result.metadata["generic"] == NOTE and "no family rules were checked" in NOTE
    assert result.metadata["call"]["video_length"] == 4
    assert any("no family rules were checked" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"image": image(32, 32)}, "image", "takes no 'image' argument"),
        ({"video": [image(32, 32)] * 4}, "video", "takes no 'video' argument"),
        ({"cache": "fbc"}, "cache", "knows nothing of this model"),
        ({"loras": [videogen.LoRA("some/lora")]}, "loras", "knows nothing of this model"),
        ({"scheduler": "UniPCMultistepScheduler"}, "scheduler", "knows nothing of this model"),
        ({"memory": "int8"}, "memory", "needs to know the model"),
        ({"parallel": "ulysses=2"}, "parallel", "knows nothing of this model"),
        ({"extra": {"video_length": 8}}, "extra", "set by videogen"),
    ],
)
def test_what_cant_be_mapped_is_refused_before_load(latte: Path, fields: dict, field: str, words: str) -> None:
    with pytest.raises(videogen.SpecError, match=words) as info:
        videogen.prepare(**spec(latte, **fields))
    assert info.value.field == field


def test_a_pipeline_that_is_no_video_pipeline_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    with pytest.raises(videogen.ModelNotFoundError, match="FluxPipeline.*does not drive.*not a video pipeline"):
        resolve(str(tmp_path))


def test_a_class_a_family_wraps_goes_to_that_family(latte: Path, tmp_path: Path) -> None:
    index = json.loads((latte / "model_index.json").read_text())
    (tmp_path / "model_index.json").write_text(json.dumps({**index, "_class_name": "MochiPipeline"}))
    assert resolve(str(tmp_path)).family == "mochi"


def index_only(folder: Path, class_name: str) -> str:
    """A folder whose model_index.json names `class_name` (enough for everything before load)."""
    (folder / "model_index.json").write_text(json.dumps({"_class_name": class_name}))
    return str(folder)


@pytest.mark.parametrize(
    ("class_name", "words"),
    [
        ("Cosmos2_5_TransferPipeline", "requires controls"),  # a required argument no spec field gives
        ("AnimateDiffControlNetPipeline", "needs ControlNet conditioning frames .conditioning_frames."),
        ("LTXLatentUpsamplePipeline", "takes no prompt"),
    ],
)
def test_a_pipeline_whose_call_cant_be_mapped_is_refused_naming_the_argument(
    tmp_path: Path, class_name: str, words: str
) -> None:
    with pytest.raises(videogen.ModelNotFoundError, match=f"{class_name}.*does not drive.*{words}") as info:
        resolve(index_only(tmp_path, class_name))
    assert info.value.field == "model"


def test_a_size_the_call_leaves_to_the_model_must_be_given(tmp_path: Path) -> None:
    model = index_only(tmp_path, "PIAPipeline")  # height and width default to None in its call
    assert resolve(model).required == ("height", "width")
    with pytest.raises(videogen.SpecError, match="PIAPipeline driven by the generic family.*no default") as info:
        videogen.prepare(model=model, prompt=PROMPT, steps=2)
    assert info.value.field == "height"


def test_an_image_the_call_requires_is_asked_for(tmp_path: Path) -> None:
    model = index_only(tmp_path, "ChronoEditPipeline")  # image-to-video only: `image` has no default
    with pytest.raises(videogen.SpecError, match="requires 'image'") as info:
        videogen.prepare(model=model, prompt=PROMPT, **SIZE)
    assert info.value.field == "image"


def test_a_plan_that_compiles_is_refused(latte: Path) -> None:
    with pytest.raises(videogen.SpecError, match="compile.*needs family knowledge") as info:
        videogen.prepare(**spec(latte, memory=videogen.MemoryPlan(compile="regional")))
    assert info.value.field == "memory"
