"""The generic family on a real diffusers video pipeline no family wraps: AnyFlow (text-to-video over Wan's layout),
built tiny in code and saved with save_pretrained, driven from its folder. It stands for every class
tests/families/test_coverage.py counts as driven by the generic family."""

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
#: the spec's size: AnyFlow's call defaults to 480×832, 81 frames, 50 steps
SIZE = {"height": 32, "width": 32, "num_frames": 5, "steps": 2}


def build_anyflow(folder: Path) -> None:
    """A tiny AnyFlowPipeline (Wan's layout, distilled to a flow map): one transformer layer of 2 heads × 12, the
    Wan VAE at 3 base channels, a tiny UMT5."""
    import torch
    from diffusers import AnyFlowPipeline, AnyFlowTransformer3DModel, AutoencoderKLWan, FlowMapEulerDiscreteScheduler

    from videogen.families import tiny_parts

    torch.manual_seed(0)
    AnyFlowPipeline(
        transformer=AnyFlowTransformer3DModel(
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=16,
            out_channels=16,
            text_dim=32,
            ffn_dim=32,
            num_layers=1,
        ),
        vae=AutoencoderKLWan(
            base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
        ),
        text_encoder=tiny_parts.umt5_encoder(32),
        tokenizer=tiny_parts.t5_tokenizer(),
        scheduler=FlowMapEulerDiscreteScheduler(),
    ).save_pretrained(folder)


@pytest.fixture(scope="module")
def anyflow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-anyflow")
    build_anyflow(folder)
    return folder


def spec(folder: Path, **fields: Any) -> dict[str, Any]:
    return {"model": str(folder), "prompt": PROMPT, "seed": SEED, **SIZE, **fields}


def test_anyflow_is_no_family_s_and_resolves_to_the_generic_family(anyflow: Path) -> None:
    assert family_for_class("AnyFlowPipeline") is None  # else this test stands for nothing
    card = resolve(str(anyflow))
    assert card.family == "generic"
    assert card.pipeline_class("t2v", videogen.families.get_family("generic")) == "AnyFlowPipeline"
    # the call's own defaults: AnyFlow's signature says 480×832, 81 frames, 50 steps, guidance 1.0 (distilled)
    assert (card.height, card.width, card.num_frames, card.steps, card.guidance_scale) == (480, 832, 81, 50, 1.0)


def test_anyflow_equals_the_direct_diffusers_call(anyflow: Path, caplog: pytest.LogCaptureFixture) -> None:
    from diffusers import AnyFlowPipeline

    with caplog.at_level(logging.WARNING, logger="videogen"):
        result = videogen.generate(**spec(anyflow, negative_prompt="blurry", guidance_scale=3.0), progress=False)
    pipe = AnyFlowPipeline.from_pretrained(anyflow)
    pipe.set_progress_bar_config(disable=True)
    expected = run_direct(
        pipe,
        SEED,
        prompt=PROMPT,
        negative_prompt="blurry",
        height=32,
        width=32,
        num_frames=5,
        num_inference_steps=2,
        guidance_scale=3.0,
    )
    assert_frames_close(result.frames, expected)
    assert result.frames.shape == (5, 32, 32, 3)
    assert result.metadata["model"] == {**result.metadata["model"], "family": "generic", "pipeline": "AnyFlowPipeline"}
    assert result.metadata["generic"] == NOTE and "no family rules were checked" in NOTE
    assert result.metadata["call"]["num_frames"] == 5 and result.metadata["call"]["guidance_scale"] == 3.0
    assert any("no family rules were checked" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"image": image(32, 32)}, "image", "takes no 'image' argument"),
        ({"cache": "fbc"}, "cache", "knows nothing of this model"),
        ({"loras": [videogen.LoRA("some/lora")]}, "loras", "knows nothing of this model"),
        ({"scheduler": "UniPCMultistepScheduler"}, "scheduler", "knows nothing of this model"),
        ({"memory": "int8"}, "memory", "needs to know the model"),
        ({"parallel": "ulysses=2"}, "parallel", "knows nothing of this model"),
        ({"extra": {"num_frames": 9}}, "extra", "set by videogen"),
    ],
)
def test_what_cant_be_mapped_is_refused_before_load(anyflow: Path, fields: dict, field: str, words: str) -> None:
    with pytest.raises(videogen.SpecError, match=words) as info:
        videogen.prepare(**spec(anyflow, **fields))
    assert info.value.field == field


def test_a_pipeline_that_is_no_video_pipeline_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    with pytest.raises(videogen.ModelNotFoundError, match="FluxPipeline.*does not drive.*not a video pipeline"):
        resolve(str(tmp_path))


def test_a_class_a_family_wraps_goes_to_that_family(anyflow: Path, tmp_path: Path) -> None:
    index = json.loads((anyflow / "model_index.json").read_text())
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


def test_a_plan_that_compiles_is_refused(anyflow: Path) -> None:
    with pytest.raises(videogen.SpecError, match="compile.*needs family knowledge") as info:
        videogen.prepare(**spec(anyflow, memory=videogen.MemoryPlan(compile="regional")))
    assert info.value.field == "memory"
