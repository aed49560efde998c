"""ModelScope / Zeroscope: clip_skip on transformers >= 5.6, the old callback API, snapping to the video's size,
catalog and local cards, variant loading. t2v and v2v (strength, cut videos, size from the video) against the
direct diffusers call: tests/test_matrix.py; the rules: tests/checks/test_spec_errors.py."""

from __future__ import annotations

import diffusers
import pytest
import torch
from helpers import assert_frames_close, direct_frames, video

import videogen
from videogen.catalog.lookup import resolve
from videogen.families import get_family
from videogen.families.modelscope import clip_skip_alias
from videogen.loading.pipelines import load_pipeline
from videogen.testing import tiny_folder

PROMPT = "a white ferret leaps into a stream"
MODEL = "tiny-modelscope"


def folder():
    return tiny_folder("modelscope", "t2v")


def clip_skip_embeds(folder_path, prompt: str, clip_skip: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings by hand, as the pipeline's clip_skip code gives them on transformers < 5.6.

    TextToVideoSD (like Stable Diffusion) skips layers for the prompt only; the empty negative prompt
    takes the encoder's last hidden state.
    """
    from transformers import CLIPTextModel, CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(folder_path / "tokenizer")
    encoder = CLIPTextModel.from_pretrained(folder_path / "text_encoder").eval()

    def ids(text: str) -> torch.Tensor:
        return tokenizer(
            text, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
        ).input_ids

    with torch.no_grad():
        hidden = encoder(ids(prompt), output_hidden_states=True).hidden_states[-(clip_skip + 1)]
        return encoder.final_layer_norm(hidden), encoder(ids(""))[0]


# ---- clip_skip (facts #1): crashes in the pipeline only when set; videogen makes it work -------------------
def test_clip_skip_crashes_the_bare_pipeline_but_works_through_videogen() -> None:
    pipe = diffusers.TextToVideoSDPipeline.from_pretrained(folder())
    pipe.set_progress_bar_config(disable=True)
    if hasattr(pipe.text_encoder, "text_model"):
        pytest.skip("this transformers still has CLIPTextModel.text_model: no crash to handle")
    with pytest.raises(AttributeError, match="text_model"):
        pipe(prompt=PROMPT, height=32, width=32, num_frames=2, num_inference_steps=1, clip_skip=1)

    skipped = videogen.generate(model=MODEL, prompt=PROMPT, seed=7, extra={"clip_skip": 1}, progress=False)
    default = videogen.generate(model=MODEL, prompt=PROMPT, seed=7, progress=False)
    assert (skipped.frames != default.frames).any()  # clip_skip has an effect
    prompt_embeds, negative_embeds = clip_skip_embeds(folder(), PROMPT, 1)
    expected = direct_frames(
        "TextToVideoSDPipeline",
        folder(),
        seed=7,
        prompt_embeds=prompt_embeds,
        negative_prompt_embeds=negative_embeds,
        height=32,
        width=32,
        num_frames=8,
        num_inference_steps=2,
        guidance_scale=9.0,
    )
    assert_frames_close(skipped.frames, expected)
    # the alias lives only for the call, and is no submodule (nothing saved or hooked sees it)
    with clip_skip_alias(pipe, 1):
        assert pipe.text_encoder.text_model is pipe.text_encoder
        assert "text_model" not in dict(pipe.text_encoder.named_children())
    assert not hasattr(pipe.text_encoder, "text_model")


# ---- progress: the old callback API -------------------------------------------------------------------
def test_on_step_fires_for_every_step_t2v_and_v2v() -> None:
    calls: list[tuple[int, int]] = []
    videogen.generate(
        model=MODEL, prompt=PROMPT, steps=3, seed=1, progress=False, on_step=lambda i, n: calls.append((i, n))
    )
    assert calls == [(1, 3), (2, 3), (3, 3)]
    calls.clear()
    # v2v runs int(steps * strength) steps: int(4 * 0.6) = 2
    videogen.generate(
        model=MODEL,
        prompt=PROMPT,
        video=video(3),
        steps=4,
        seed=1,
        progress=False,
        on_step=lambda i, n: calls.append((i, n)),
    )
    assert calls == [(1, 2), (2, 2)]


def test_on_step_false_cancels() -> None:
    with pytest.raises(videogen.Cancelled):
        videogen.generate(model=MODEL, prompt=PROMPT, steps=3, seed=1, progress=False, on_step=lambda i, n: False)


def test_snap_uses_the_video_size_and_resizes_odd_videos() -> None:
    with pytest.warns(videogen.SnapWarning, match="height"):
        result = videogen.generate(
            model=MODEL, prompt=PROMPT, video=video(3), height=48, steps=2, snap=True, seed=1, progress=False
        )
    assert result.frames.shape == (3, 32, 32, 3)
    assert result.metadata["snapped"]["height"]["used"] == 32
    with pytest.warns(videogen.SnapWarning, match="video"):
        result = videogen.generate(
            model=MODEL, prompt=PROMPT, video=video(3, h=36, w=36), steps=2, snap=True, seed=1, progress=False
        )
    assert result.frames.shape == (3, 40, 40, 3)
    assert result.spec.height == 40 and result.spec.width == 40


def test_snap_raises_steps_to_run_at_least_one_v2v_step() -> None:
    with pytest.warns(videogen.SnapWarning, match="steps"):
        result = videogen.generate(
            model=MODEL, prompt=PROMPT, video=video(3), steps=1, snap=True, seed=1, progress=False
        )
    assert result.spec.steps == 2


# ---- catalog, loading ----------------------------------------------------------------------------------
def test_catalog_cards() -> None:
    ms = resolve("damo-vilab/text-to-video-ms-1.7b")
    assert ms.name == "text-to-video-ms-1.7b" and ms.variant == "fp16" and ms.dtypes == {"default": "float16"}
    assert (ms.height, ms.width, ms.num_frames, ms.fps, ms.steps, ms.guidance_scale) == (256, 256, 16, 8, 50, 9.0)
    assert ms.size_multiple == 8 and ms.frame_rule is None and ms.tasks == ("t2v", "v2v")
    zs = resolve("cerspense/zeroscope_v2_576w")
    assert (zs.height, zs.width, zs.num_frames) == (320, 576, 24) and zs.revision == "refs/pr/46"
    xl = resolve("zeroscope-v2-xl")
    assert xl.tasks == ("v2v",) and (xl.height, xl.width) == (576, 1024) and xl.guidance_scale == 15.0
    assert resolve(MODEL).tiny == "t2v"


def test_local_folder_gets_a_modelscope_card() -> None:
    card = resolve(str(folder()))
    assert card.family == "modelscope" and card.variant is None and card.revision is None
    # the pipeline's own default: unet sample_size (32) × VAE scale (4 for the 3-block tiny VAE)
    assert card.height == card.width == 128


def test_loading_passes_the_cards_variant_for_fp16_only_folders(tmp_path) -> None:
    from dataclasses import replace

    pipe = diffusers.TextToVideoSDPipeline.from_pretrained(folder())
    pipe.save_pretrained(tmp_path, variant="fp16")
    with pytest.raises(OSError):  # what a plain from_pretrained does with a variant-only folder
        diffusers.TextToVideoSDPipeline.from_pretrained(tmp_path)
    card = replace(resolve("text-to-video-ms-1.7b"), path=str(tmp_path))
    family = get_family("modelscope")
    loaded, _ = load_pipeline(card, family, diffusers.TextToVideoSDPipeline, {})
    assert type(loaded).__name__ == "TextToVideoSDPipeline"
    # a folder without variant files loads without it
    plain = replace(card, path=str(folder()))
    assert (
        type(load_pipeline(plain, family, diffusers.TextToVideoSDPipeline, {})[0]).__name__ == "TextToVideoSDPipeline"
    )
