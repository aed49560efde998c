"""I2VGen-XL: clip_skip, target_fps, the global RNG, step counting, snapping, catalog card. i2v against the direct
diffusers call: tests/test_matrix.py; the rules: tests/checks/test_spec_errors.py."""

from __future__ import annotations

import diffusers
import numpy as np
import pytest
import torch
from helpers import assert_frames_close, direct_frames, direct_pipeline, image
from PIL import Image

import videogen
from videogen.catalog.lookup import resolve
from videogen.families import get_family
from videogen.testing import tiny_folder

PROMPT = "a white ferret leaps into a stream"
MODEL = "tiny-i2vgen-xl"
CLASS = "I2VGenXLPipeline"


def folder():
    return tiny_folder("i2vgen_xl", "i2v")


def direct(seed: int = 7, **kwargs) -> np.ndarray:
    """The direct call with videogen's defaults for the tiny card (clip_skip=None: the default crashes)."""
    args = {
        "prompt": PROMPT,
        "image": Image.fromarray(image()),
        "height": 32,
        "width": 32,
        "num_frames": 4,
        "num_inference_steps": 2,
        "guidance_scale": 9.0,
        "target_fps": 16,
        "clip_skip": None,
    }
    args.update(kwargs)
    return direct_frames(CLASS, folder(), seed=seed, **args)


def generate(**fields) -> videogen.VideoResult:
    return videogen.generate(
        **{"model": MODEL, "prompt": PROMPT, "image": image(), "seed": 7, "progress": False, **fields}
    )


# ---- clip_skip: the pipeline's default (1) crashes on transformers >= 5.6 -----------------------------
def test_default_clip_skip_crashes_the_bare_pipeline_and_videogen_runs() -> None:
    pipe = direct_pipeline(CLASS, str(folder()))  # a plain from_pretrained
    if hasattr(pipe.text_encoder, "text_model"):
        pytest.skip("this transformers still has CLIPTextModel.text_model: no crash to handle")
    with pytest.raises(AttributeError, match="text_model"):  # the call with every default
        pipe(prompt=PROMPT, image=Image.fromarray(image()), height=32, width=32, num_frames=2, num_inference_steps=1)
    result = generate()  # videogen's call with every default works
    assert result.frames.shape == (4, 32, 32, 3)


def clip_skip_embeds(prompt: str, clip_skip: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompt and empty-negative embeddings with clip_skip, by hand (I2VGen-XL skips layers for both)."""
    from transformers import CLIPTextModel, CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(folder() / "tokenizer")
    encoder = CLIPTextModel.from_pretrained(folder() / "text_encoder").eval()
    out = []
    for text in (prompt, ""):
        ids = tokenizer(
            text, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
        ).input_ids
        with torch.no_grad():
            hidden = encoder(ids, output_hidden_states=True).hidden_states[-(clip_skip + 1)]
            out.append(encoder.final_layer_norm(hidden))
    return out[0], out[1]


def test_user_clip_skip_works_as_on_old_transformers() -> None:
    skipped = generate(extra={"clip_skip": 1})
    assert (skipped.frames != generate().frames).any()  # clip_skip has an effect
    prompt_embeds, negative_embeds = clip_skip_embeds(PROMPT, 1)
    expected = direct(prompt=None, prompt_embeds=prompt_embeds, negative_prompt_embeds=negative_embeds)
    assert_frames_close(skipped.frames, expected)


# ---- target_fps follows spec.fps; extra overrides ---------------------------------------------------------
def test_target_fps_follows_fps_unless_extra_sets_it() -> None:
    """The conditioning passed (target_fps=fps, or extra's) against the direct call, and playback at spec.fps
    either way: tests/test_matrix.py. Here: the conditioning does change the video."""
    slow = generate(fps=8)
    assert slow.fps == 8
    assert (slow.frames != generate().frames).any()


def test_call_kwargs() -> None:
    p = videogen.prepare(model=MODEL, prompt=PROMPT, image=image(), fps=12, seed=1)
    params = {
        "prompt",
        "image",
        "height",
        "width",
        "target_fps",
        "num_frames",
        "num_inference_steps",
        "guidance_scale",
        "negative_prompt",
        "decode_chunk_size",
        "clip_skip",
    }
    kwargs = p.family.call_kwargs(p.spec, p.card, p.media, params)
    assert kwargs["clip_skip"] is None and kwargs["target_fps"] == 12 and kwargs["guidance_scale"] == 9.0
    p = videogen.prepare(model=MODEL, prompt=PROMPT, image=image(), seed=1, extra={"clip_skip": 1, "target_fps": 3})
    kwargs = p.family.call_kwargs(p.spec, p.card, p.media, params)
    assert kwargs["clip_skip"] == 1 and kwargs["target_fps"] == 3


# ---- global RNG (facts #12) -------------------------------------------------------------------------------
def test_reproducible_whatever_the_global_rng_state() -> None:
    assert get_family("i2vgen_xl").uses_global_rng
    torch.manual_seed(123)
    a = generate(seed=5).frames
    torch.rand(1000)  # move the global RNG on
    b = generate(seed=5).frames
    assert (a == b).all()
    assert (a != generate(seed=6).frames).any()


def test_the_pipeline_does_draw_from_the_global_rng() -> None:
    """Why uses_global_rng is set: same generator, other global state → other frames."""
    pipe = direct_pipeline(CLASS, str(folder()))  # a plain from_pretrained
    outs = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)
        out = pipe(
            prompt=PROMPT,
            image=Image.fromarray(image()),
            height=32,
            width=32,
            num_frames=2,
            num_inference_steps=1,
            clip_skip=None,
            output_type="np",
            generator=torch.Generator().manual_seed(7),
        )
        outs.append(out.frames[0])
    assert not np.array_equal(outs[0], outs[1])


# ---- progress: no callback, generation.py counts scheduler steps -----------------------------------------------
def test_on_step_fires_steps_times_by_counting_scheduler_steps() -> None:
    assert "callback_on_step_end" not in diffusers.I2VGenXLPipeline.__call__.__code__.co_varnames
    calls: list[tuple[int, int]] = []
    generate(steps=3, on_step=lambda i, n: calls.append((i, n)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    with pytest.raises(videogen.Cancelled):
        generate(steps=3, on_step=lambda i, n: i < 2)
    # the counting wrapper is removed afterwards, even after a cancel
    from videogen.loading.pipelines import CACHE

    for key in list(CACHE.keys()):
        for pipe in CACHE._entries[key].pipelines.values():
            assert "step" not in vars(pipe.scheduler)


def test_snap_rounds_size() -> None:
    with pytest.warns(videogen.SnapWarning, match="height"):
        result = generate(height=36, snap=True)
    assert result.frames.shape == (4, 40, 32, 3)
    assert result.metadata["snapped"]["height"] == {
        "requested": 36,
        "used": 40,
        "rule": "height must be a multiple of 8",
    }


def test_catalog_card() -> None:
    card = resolve("ali-vilab/i2vgen-xl")
    assert card.name == "i2vgen-xl" and card.family == "i2vgen_xl" and card.tasks == ("i2v",)
    assert (card.height, card.width, card.num_frames, card.fps, card.steps, card.guidance_scale) == (
        704,
        1280,
        16,
        16,
        50,
        9.0,
    )
    assert card.variant == "fp16" and card.dtypes == {"default": "float16"} and card.size_multiple == 8
    assert card.frame_rule is None
    local = resolve(str(folder()))
    assert local.family == "i2vgen_xl" and local.variant is None
