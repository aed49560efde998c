"""FramePack: the tiny model assembled from three folders like the real repos, window rounding, per-window step
counting, the cache context. i2v (vanilla and inverted anti-drifting) and flf2v against the diffusers docs'
direct call: tests/test_matrix.py; the rules: tests/checks/test_spec_errors.py."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
from helpers import framepack_docs_pipeline, image, run_direct

import videogen
from videogen.families.framepack import CARDS, FAMILY, TINY_CALL, TINY_TRANSFORMERS, assembly
from videogen.loading.pipelines import CACHE
from videogen.spec.videospec import VideoSpec
from videogen.testing import tiny_folder

PROMPT = "a white ferret leaps into a stream"
REDUX = "flux_redux_bfl"


def _cached_pipeline(model: str):
    keys = [k for k in CACHE.keys() if k[0] == model]  # noqa: SIM118 (no __iter__)
    assert keys, f"{model} is not loaded"
    return CACHE.get(keys[-1], lambda: None).base


def test_steps_count_every_window_and_the_last_window_is_cut() -> None:
    """The pipeline rounds up to whole windows: asked for 9 frames, it makes one window of 13 (videogen keeps the
    first 9, equal to the direct call: tests/test_matrix.py). 14 frames: two windows (25 frames, cut to 14), and
    the step callback fires steps × windows times."""
    from PIL import Image

    pipe = framepack_docs_pipeline(str(tiny_folder("framepack", "framepack")), TINY_TRANSFORMERS["vanilla"])
    one_window = run_direct(
        pipe,
        7,
        prompt=PROMPT,
        image=Image.fromarray(image()),
        height=32,
        width=32,
        num_frames=9,
        num_inference_steps=1,
        sampling_type="vanilla",
        **TINY_CALL,
    )
    assert one_window.shape[0] == 13

    seen: list[tuple[int, int]] = []
    result = videogen.generate(
        model="tiny-framepack",
        prompt=PROMPT,
        image=image(),
        num_frames=14,
        seed=7,
        progress=False,
        on_step=lambda step, total: seen.append((step, total)),
    )
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
        own = diffusers.HunyuanVideoFramepackTransformer3DModel.from_pretrained(folder / TINY_TRANSFORMERS[sampling])
        for name, weight in own.state_dict().items():
            assert torch.equal(pipe.transformer.state_dict()[name], weight), name
        assert pipe.tokenizer.padding_side == "right"


def test_load_assembles_a_card_from_three_local_repos() -> None:
    """The real cards' path: components name three repos (here local folders) and `load` assembles them."""
    import diffusers
    import torch

    folder = tiny_folder("framepack", "framepack")
    card = replace(
        CARDS[0],
        name="local-framepack",
        repo=None,
        tiny=None,
        path=None,
        components=assembly(str(folder / "FramePackI2V_HY"), str(folder), str(folder / REDUX)),
    )
    pipe = FAMILY.load(
        card, diffusers.HunyuanVideoFramepackPipeline, {"dtype": {"default": torch.float32}, "use_safetensors": True}
    )
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
    card = replace(
        CARDS[0],
        name="local-framepack",
        repo=None,
        tiny=None,
        path=None,
        components=assembly(str(folder / "FramePackI2V_HY"), str(folder), str(folder / REDUX)),
    )
    config = diffusers.PipelineQuantizationConfig(
        quant_mapping={"transformer": diffusers.QuantoConfig(weights_dtype="int8")}
    )
    pipe = FAMILY.load(
        card,
        diffusers.HunyuanVideoFramepackPipeline,
        {"dtype": {"default": torch.float32}, "quantization_config": config},
    )
    assert type(pipe.transformer.transformer_blocks[0].attn.to_q).__name__ == "QLinear"


def test_a_saved_framepack_folder_loads_as_it_is(tmp_path) -> None:
    folder = tiny_folder("framepack", "framepack")
    framepack_docs_pipeline(str(folder), TINY_TRANSFORMERS["vanilla"]).save_pretrained(tmp_path)
    card = videogen.resolve(str(tmp_path))
    assert card.family == "framepack" and not card.components and card.tasks == ("i2v", "flf2v")
    result = videogen.generate(
        model=str(tmp_path),
        prompt=PROMPT,
        image=image(),
        height=32,
        width=32,
        num_frames=9,
        steps=1,
        seed=3,
        extra={**TINY_CALL, "sampling_type": "vanilla"},
        progress=False,
    )
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


def test_sampling_type_must_fit_the_task_on_unknown_models() -> None:
    card = replace(CARDS[0], name="somewhere", call_defaults={}, components={})
    spec = VideoSpec(model="somewhere", prompt=PROMPT, task="flf2v", num_frames=37, extra={"sampling_type": "vanilla"})
    with pytest.raises(videogen.SpecError) as info:
        FAMILY.check(spec, card, rules=None)  # type: ignore[arg-type]
    assert info.value.field == "last_image" and "framepack-i2v-hy" in str(info.value)


def test_snap_rounds_flf2v_frames_to_whole_windows() -> None:
    with pytest.warns(videogen.SnapWarning, match="num_frames"):
        prepared = videogen.prepare(
            model="tiny-framepack", prompt=PROMPT, image=image(), last_image=image(seed=1), num_frames=20, snap=True
        )
    assert prepared.spec.num_frames == 25
    assert prepared.snapped["num_frames"]["used"] == 25
    # image-to-video takes any count (the last window is cut)
    prepared = videogen.prepare(model="tiny-framepack", prompt=PROMPT, image=image(), num_frames=20)
    assert prepared.spec.num_frames == 20


def test_cache_context_seam() -> None:
    """FramePack sets no cache context; with a FirstBlockCache on, videogen wraps the call in one."""
    from diffusers import FirstBlockCacheConfig

    fields = {"model": "tiny-framepack", "prompt": PROMPT, "image": image(), "seed": 5, "steps": 1, "progress": False}
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
