"""FramePack: i2v (vanilla and inverted anti-drifting) and flf2v end to end on a tiny model assembled from
three folders like the real repos, equal to the diffusers docs' direct call; the rules; window rounding,
per-window step counting and the cache context handled."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import numpy as np
import pytest
from helpers import assert_frames_close, image
from PIL import Image

import videogen
from videogen.families.framepack import CARDS, FAMILY, TINY_CALL, TINY_TRANSFORMERS, assembly
from videogen.pipeline import CACHE
from videogen.spec import VideoSpec
from videogen.testing import tiny_folder

PROMPT = "a white ferret leaps into a stream"
REDUX = "flux_redux_bfl"


def _docs_pipeline(transformer_folder: str):
    """The pipeline put together as the diffusers docs do, from the tiny folders."""
    import diffusers
    from diffusers import HunyuanVideoFramepackTransformer3DModel
    from transformers import SiglipImageProcessor, SiglipVisionModel

    folder = tiny_folder("framepack", "framepack")
    transformer = HunyuanVideoFramepackTransformer3DModel.from_pretrained(folder / transformer_folder)
    pipe = diffusers.HunyuanVideoFramepackPipeline.from_pretrained(
        folder,
        transformer=transformer,
        feature_extractor=SiglipImageProcessor.from_pretrained(folder / REDUX, subfolder="feature_extractor"),
        image_encoder=SiglipVisionModel.from_pretrained(folder / REDUX, subfolder="image_encoder"),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _direct(sampling: str, seed: int, num_frames: int, **kwargs) -> np.ndarray:
    import torch

    pipe = _docs_pipeline(TINY_TRANSFORMERS[sampling])
    torch.manual_seed(seed)
    out = pipe(prompt=PROMPT, height=32, width=32, num_frames=num_frames, num_inference_steps=2,
               guidance_scale=9.0, sampling_type=sampling, generator=torch.Generator("cpu").manual_seed(seed),
               output_type="np", **TINY_CALL, **kwargs)
    return (np.clip(out.frames[0], 0, 1) * 255).round().astype(np.uint8)


def _cached_pipeline(model: str):
    keys = [k for k in CACHE.keys() if k[0] == model]  # noqa: SIM118 (no __iter__)
    assert keys, f"{model} is not loaded"
    return CACHE.get(keys[-1], lambda: None).base


CASES = {
    # name: (model, sampling type, inputs)
    "i2v-inverted": ("tiny-framepack", "inverted_anti_drifting", {"image": image()}),
    "i2v-vanilla": ("tiny-framepack-f1", "vanilla", {"image": image()}),
    "flf2v-inverted": ("tiny-framepack", "inverted_anti_drifting",
                       {"image": image(), "last_image": image(seed=1)}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_framepack_task_matches_direct_diffusers_call(case: str) -> None:
    model, sampling, inputs = CASES[case]
    result = videogen.generate(model=model, prompt=PROMPT, seed=7, progress=False, **inputs)
    assert result.metadata["model"]["pipeline"] == "HunyuanVideoFramepackPipeline"
    assert result.frames.shape == (13, 32, 32, 3)  # one window of 4·3 frames + 1
    # one window: the pipeline counts (3 − 1)·4 + 1 = 9 frames a window and returns 13
    direct = _direct(sampling, 7, 9, **{k: Image.fromarray(v) for k, v in inputs.items()})
    assert_frames_close(result.frames, direct)


def test_output_is_trimmed_to_num_frames_and_steps_count_every_window() -> None:
    """9 frames: FramePack makes a whole window (13) and videogen keeps the first 9. 14 frames: two windows
    (25 frames, trimmed to 14), and the step callback fires steps × windows times."""
    result = videogen.generate(model="tiny-framepack-f1", prompt=PROMPT, image=image(), num_frames=9, seed=7,
                               progress=False)
    assert result.num_frames == result.spec.num_frames == 9
    direct = _direct("vanilla", 7, 9, image=Image.fromarray(image()))
    assert direct.shape[0] == 13  # the pipeline's rounding to windows
    assert_frames_close(result.frames, direct[:9])

    seen: list[tuple[int, int]] = []
    result = videogen.generate(model="tiny-framepack", prompt=PROMPT, image=image(), num_frames=14, seed=7,
                               progress=False, on_step=lambda step, total: seen.append((step, total)))
    assert result.num_frames == 14
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_the_assembly_loads_each_part_from_its_own_folder() -> None:
    import diffusers
    import torch

    folder = tiny_folder("framepack", "framepack")
    for model, sampling in (("tiny-framepack", "inverted_anti_drifting"), ("tiny-framepack-f1", "vanilla")):
        videogen.generate(model=model, prompt=PROMPT, image=image(), seed=1, steps=1, progress=False)
        pipe = _cached_pipeline(model)
        assert isinstance(pipe.transformer, diffusers.HunyuanVideoFramepackTransformer3DModel)
        assert type(pipe.image_encoder).__name__ == "SiglipVisionModel"
        assert type(pipe.feature_extractor).__name__.startswith("SiglipImageProcessor")
        own = diffusers.HunyuanVideoFramepackTransformer3DModel.from_pretrained(
            folder / TINY_TRANSFORMERS[sampling])
        for name, weight in own.state_dict().items():
            assert torch.equal(pipe.transformer.state_dict()[name], weight), name
        assert pipe.tokenizer.padding_side == "right"


def test_load_assembles_a_card_from_three_local_repos() -> None:
    """The real cards' path: components name three repos (here local folders) and `load` assembles them."""
    import diffusers
    import torch

    folder = tiny_folder("framepack", "framepack")
    card = replace(CARDS[0], name="local-framepack", repo=None, tiny=None, path=None,
                   components=assembly(str(folder / "FramePackI2V_HY"), str(folder), str(folder / REDUX)))
    pipe = FAMILY.load(card, diffusers.HunyuanVideoFramepackPipeline,
                       {"dtype": {"default": torch.float32}, "use_safetensors": True})
    assert isinstance(pipe, diffusers.HunyuanVideoFramepackPipeline)
    assert isinstance(pipe.transformer, diffusers.HunyuanVideoFramepackTransformer3DModel)
    assert type(pipe.image_encoder).__name__ == "SiglipVisionModel"


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_load_passes_the_transformer_its_quantization_config() -> None:
    """The transformer loads on its own, so a PipelineQuantizationConfig must reach it there."""
    pytest.importorskip("optimum.quanto")
    import diffusers
    import torch

    folder = tiny_folder("framepack", "framepack")
    card = replace(CARDS[0], name="local-framepack", repo=None, tiny=None, path=None,
                   components=assembly(str(folder / "FramePackI2V_HY"), str(folder), str(folder / REDUX)))
    config = diffusers.PipelineQuantizationConfig(
        quant_mapping={"transformer": diffusers.QuantoConfig(weights_dtype="int8")})
    pipe = FAMILY.load(card, diffusers.HunyuanVideoFramepackPipeline,
                       {"dtype": {"default": torch.float32}, "quantization_config": config})
    assert type(pipe.transformer.transformer_blocks[0].attn.to_q).__name__ == "QLinear"


def test_a_saved_framepack_folder_loads_as_it_is(tmp_path) -> None:
    _docs_pipeline(TINY_TRANSFORMERS["vanilla"]).save_pretrained(tmp_path)
    card = videogen.resolve(str(tmp_path))
    assert card.family == "framepack" and not card.components and card.tasks == ("i2v", "flf2v")
    result = videogen.generate(model=str(tmp_path), prompt=PROMPT, image=image(), height=32, width=32,
                               num_frames=9, steps=1, seed=3, extra={**TINY_CALL, "sampling_type": "vanilla"},
                               progress=False)
    assert result.num_frames == 9


def test_real_cards_assemble_from_the_documented_repos() -> None:
    cards = {c.name: c for c in videogen.list_models("framepack")}
    i2v, f1 = cards["framepack-i2v-hy"], cards["framepack-f1-i2v-hy"]
    assert i2v.components["transformer"] == ("lllyasviel/FramePackI2V_HY", None)
    assert f1.components["transformer"] == ("lllyasviel/FramePack_F1_I2V_HY_20250503", None)
    for card in (i2v, f1):
        assert card.components["image_encoder"] == ("lllyasviel/flux_redux_bfl", "image_encoder")
        assert card.components["feature_extractor"] == ("lllyasviel/flux_redux_bfl", "feature_extractor")
        assert card.components["vae"] == ("hunyuanvideo-community/HunyuanVideo", "vae")
    assert i2v.call_defaults["sampling_type"] == "inverted_anti_drifting" and i2v.tasks == ("i2v", "flf2v")
    assert f1.call_defaults["sampling_type"] == "vanilla" and f1.tasks == ("i2v",)
    assert videogen.resolve("lllyasviel/FramePackI2V_HY").name == "framepack-i2v-hy"


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"image": None}, "image", ["image-to-video", "image="]),
        ({"model": "tiny-framepack-f1", "last_image": image(seed=1)}, "task", ["flf2v", "tiny-framepack"]),
        ({"extra": {"sampling_type": "vanilla"}}, "extra", ["inverted_anti_drifting", "tiny-framepack-f1"]),
        ({"model": "tiny-framepack-f1", "extra": {"sampling_type": "inverted_anti_drifting"}}, "extra",
         ["vanilla", "model='tiny-framepack'"]),
        ({"extra": {"sampling_type": "forward"}}, "extra", ["sampling type", "vanilla"]),
        ({"last_image": image(seed=1), "num_frames": 20}, "num_frames",
         ["12k+1", "num_frames=25", "last_image"]),
        ({"extra": {"latent_window_size": 0}}, "extra", ["latent_window_size", "at least 2"]),
        ({"negative_prompt": "blurry"}, "negative_prompt", ["true_cfg_scale"]),
        ({"extra": {"true_cfg_scale": 2.0}}, "negative_prompt", ["negative_prompt=''"]),
        ({"height": 40}, "height", ["multiple of 16", "height=48"]),
    ],
)
def test_framepack_rules_raise_spec_error(fields: dict, field: str, words: list[str]) -> None:
    spec = {"model": "tiny-framepack", "prompt": PROMPT, "image": image(), **fields}
    with pytest.raises(videogen.SpecError) as info:
        videogen.prepare(**spec)
    assert info.value.field == field
    for word in words:
        assert word in str(info.value)


def test_sampling_type_must_fit_the_task_on_unknown_models() -> None:
    card = replace(CARDS[0], name="somewhere", call_defaults={}, components={})
    spec = VideoSpec(model="somewhere", prompt=PROMPT, task="flf2v", num_frames=37,
                     extra={"sampling_type": "vanilla"})
    with pytest.raises(videogen.SpecError) as info:
        FAMILY.check(spec, card, rules=None)  # type: ignore[arg-type]
    assert info.value.field == "last_image" and "framepack-i2v-hy" in str(info.value)


def test_snap_rounds_flf2v_frames_to_whole_windows() -> None:
    with pytest.warns(videogen.SnapWarning, match="num_frames"):
        prepared = videogen.prepare(model="tiny-framepack", prompt=PROMPT, image=image(),
                                    last_image=image(seed=1), num_frames=20, snap=True)
    assert prepared.spec.num_frames == 25
    assert prepared.snapped["num_frames"]["used"] == 25
    # image-to-video takes any count (the last window is cut)
    prepared = videogen.prepare(model="tiny-framepack", prompt=PROMPT, image=image(), num_frames=20)
    assert prepared.spec.num_frames == 20


def test_cache_context_seam() -> None:
    """FramePack sets no cache context; with a FirstBlockCache on, videogen wraps the call in one."""
    from diffusers import FirstBlockCacheConfig

    fields = {"model": "tiny-framepack", "prompt": PROMPT, "image": image(), "seed": 5, "steps": 1,
              "progress": False}
    plain = videogen.generate(**fields)
    pipe = _cached_pipeline("tiny-framepack")
    spec = VideoSpec(model="tiny-framepack", task="i2v")
    assert isinstance(FAMILY.call_context(pipe, spec), contextlib.nullcontext)
    pipe.transformer.enable_cache(FirstBlockCacheConfig(threshold=0.05))
    try:
        assert not isinstance(FAMILY.call_context(pipe, spec), contextlib.nullcontext)
        cached = videogen.generate(**fields)
        assert cached.frames.shape == plain.frames.shape
    finally:
        pipe.transformer.disable_cache()
