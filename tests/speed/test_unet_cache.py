"""DeepCache-style step cache on the tiny video UNets (SVD, I2VGen-XL, ModelScope).

The tiny models have random weights: the frame differences bound here say how far the cached run drifts from the
uncached one on these models, not anything about quality. Timing is printed (`pytest -s`), never asserted.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from videogen.errors import SpecError  # noqa: E402
from videogen.speed.deepcache import deep_cache_stats, disable_deep_cache, enable_deep_cache  # noqa: E402
from videogen.testing import sample_image, tiny_pipeline  # noqa: E402

STEPS = 12
INTERVAL = 3
# measured max |cached - uncached| over the frames (0..1 floats), interval 3, branch 0, 12 steps:
# svd 0.107, i2vgen_xl 0.030, modelscope 0.033 — the bounds leave about 2x room
BOUND = {"svd": 0.2, "i2vgen_xl": 0.08, "modelscope": 0.08}


def _load(family: str) -> tuple[Any, dict[str, Any]]:
    if family == "svd":
        pipe = diffusers.StableVideoDiffusionPipeline.from_pretrained(tiny_pipeline("svd", "i2v"))
        kwargs: dict[str, Any] = {"image": sample_image(64, 64), "num_frames": 4, "decode_chunk_size": 4}
    elif family == "i2vgen_xl":
        pipe = diffusers.I2VGenXLPipeline.from_pretrained(tiny_pipeline("i2vgen_xl", "i2v"))
        # clip_skip=None: the pipeline's clip_skip path needs `text_encoder.text_model` (gone in transformers >= 5.6)
        kwargs = {"prompt": "a cat", "image": sample_image(64, 64), "num_frames": 4, "target_fps": 8, "clip_skip": None}
    else:
        pipe = diffusers.TextToVideoSDPipeline.from_pretrained(tiny_pipeline("modelscope"))
        kwargs = {"prompt": "a cat", "num_frames": 4}
    pipe.set_progress_bar_config(disable=True)
    return pipe, {"height": 64, "width": 64, "num_inference_steps": STEPS, "output_type": "np", **kwargs}


def _frames(pipe: Any, kwargs: dict[str, Any]) -> tuple[np.ndarray, float]:
    # I2VGen-XL samples its image latents from the global RNG: seed it too, without disturbing other tests
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        start = time.perf_counter()
        out = pipe(**kwargs, generator=torch.Generator("cpu").manual_seed(0))
        seconds = time.perf_counter() - start
    return np.asarray(out.frames, dtype=np.float32), seconds


def _class_forwards(module: Any) -> dict[type, Any]:
    return {type(m): type(m).__dict__.get("forward") for m in module.modules()}


def _our_hooks(module: Any) -> list[str]:
    return [
        f"{name}:{hook}"
        for name, m in module.named_modules()
        for hook in getattr(getattr(m, "_diffusers_hook", None), "hooks", {})
        if hook.startswith("videogen_deep_cache")
    ]


@pytest.mark.parametrize("family", ["svd", "i2vgen_xl", "modelscope"])
def test_deep_cache_on_pipeline(family: str) -> None:
    pipe, kwargs = _load(family)
    unet = pipe.unet
    forwards = _class_forwards(unet)
    plain, plain_s = _frames(pipe, kwargs)

    enable_deep_cache(unet, interval=INTERVAL, branch=0)
    try:
        cached, cached_s = _frames(pipe, kwargs)
        stats = deep_cache_stats(unet)
        again, _ = _frames(pipe, kwargs)  # a second generation restarts the cache: same frames
    finally:
        disable_deep_cache(unet)
    after, after_s = _frames(pipe, kwargs)
    plain_s = min(plain_s, after_s)  # the first call also pays warm-up

    diff, mean = float(np.abs(cached - plain).max()), float(np.abs(cached - plain).mean())
    print(
        f"\n{family}: {type(unet).__name__} max frame diff {diff:.4f} (mean {mean:.4f}),"
        f" layers skipped {stats['skipped_share']:.2f} of all, time ratio {cached_s / plain_s:.2f}"
        f" ({cached_s:.2f}s / {plain_s:.2f}s)"
    )
    # one UNet call per step (CFG batched); steps 0, 3, 6, 9 full, the other 8 cached
    assert stats["calls"] == stats["steps"] == STEPS
    assert stats["full_calls"] == -(-STEPS // INTERVAL) and stats["cached_calls"] == STEPS - stats["full_calls"]
    assert stats["layers_skipped"] > 0 and stats["blocks_skipped"] > 0
    assert stats["layers_skipped"] == stats["cached_calls"] * stats["deep_layers_per_call"]
    deep_share = stats["layers_skipped"] / (STEPS * stats["deep_layers_per_call"])
    assert deep_share == pytest.approx((INTERVAL - 1) / INTERVAL, abs=0.1)
    assert 0 < diff <= BOUND[family]
    assert np.array_equal(again, cached)

    assert np.array_equal(after, plain)  # bit-identical once disabled
    assert _our_hooks(unet) == []
    assert deep_cache_stats(unet) == {"enabled": False}
    assert _class_forwards(unet) == forwards  # no class method was touched


@pytest.fixture(scope="module")
def unet3d() -> Any:
    return diffusers.UNet3DConditionModel.from_pretrained(tiny_pipeline("modelscope"), subfolder="unet").eval()


def _inputs(unet: Any, seed: int, batch: int = 2) -> tuple[Any, Any]:
    g = torch.Generator("cpu").manual_seed(seed)
    sample = torch.randn(batch, 4, 2, 8, 8, generator=g)
    context = torch.randn(batch, 3, unet.config.cross_attention_dim, generator=g)
    return sample, context


def _call(unet: Any, sample: Any, t: float, context: Any) -> Any:
    with torch.no_grad():
        return unet(sample, torch.tensor(t), encoder_hidden_states=context, return_dict=False)[0]


# DeepCache's split on this UNet (1 layer per down block, a downsampler after down block 0, 2 layers per up block),
# written out by hand: branch 0 keeps only the stem's skip, branch 1 also down_blocks.0's first layer's
_DEEP = {
    0: ["down_blocks.0", "down_blocks.1", "mid_block", "up_blocks.0"]
    + [f"up_blocks.1.{name}.0" for name in ("resnets", "temp_convs", "attentions", "temp_attentions")],
    1: ["down_blocks.0.downsamplers.0", "down_blocks.1", "mid_block", "up_blocks.0"],
}


@pytest.mark.parametrize("branch", [0, 1])
def test_cached_step_is_the_full_unet_with_deep_outputs_from_the_last_full_step(unet3d: Any, branch: int) -> None:
    """Reference by plain torch forward hooks: record the deep modules' outputs at the full step, substitute them."""
    modules = dict(unet3d.named_modules())
    x1, c1 = _inputs(unet3d, 1)
    x2, c2 = _inputs(unet3d, 2)
    recorded: dict[str, Any] = {}

    def record(name: str) -> Any:
        return lambda module, args, out: recorded.__setitem__(name, out)

    def replay(name: str) -> Any:
        return lambda module, args, out: recorded[name]

    handles = [modules[n].register_forward_hook(record(n)) for n in _DEEP[branch]]
    _call(unet3d, x1, 900.0, c1)
    for h in handles:
        h.remove()
    handles = [modules[n].register_forward_hook(replay(n)) for n in _DEEP[branch]]
    expected = _call(unet3d, x2, 800.0, c2)
    for h in handles:
        h.remove()
    uncached = _call(unet3d, x2, 800.0, c2)

    enable_deep_cache(unet3d, interval=2, branch=branch)
    try:
        full = _call(unet3d, x1, 900.0, c1)
        cached = _call(unet3d, x2, 800.0, c2)
        stats = deep_cache_stats(unet3d)
    finally:
        disable_deep_cache(unet3d)
    assert torch.equal(full, _call(unet3d, x1, 900.0, c1))
    assert torch.equal(cached, expected)
    assert not torch.equal(cached, uncached)
    assert (stats["full_calls"], stats["cached_calls"]) == (1, 1)


def test_steps_calls_and_batch_shape(unet3d: Any) -> None:
    xa, ca = _inputs(unet3d, 3)
    xb, cb = _inputs(unet3d, 4)
    enable_deep_cache(unet3d, interval=3)
    try:
        # guidance halves called separately: the n-th call of a cached step reads the n-th call of the full step
        _call(unet3d, xa, 900.0, ca)
        _call(unet3d, xb, 900.0, cb)
        _call(unet3d, xa, 800.0, ca)
        second = _call(unet3d, xb, 800.0, cb)
        stats = deep_cache_stats(unet3d)
        assert (stats["steps"], stats["full_calls"], stats["cached_calls"]) == (2, 2, 2)
        # a new generation (timestep goes up) restarts with a full step
        _call(unet3d, xb, 900.0, cb)
        assert torch.equal(_call(unet3d, xb, 800.0, cb), second)
        assert deep_cache_stats(unet3d)["restarts"] == 1
        # a new batch shape restarts too: the cached features of batch 2 don't fit batch 1
        x1, c1 = _inputs(unet3d, 5, batch=1)
        _call(unet3d, x1, 700.0, c1)
        stats = deep_cache_stats(unet3d)
        assert stats["restarts"] == 2 and stats["full_calls"] == 4
        # interval 1: every step is full, the output is the plain UNet's
        enable_deep_cache(unet3d, interval=1)
        plain_t = [_call(unet3d, xa, t, ca) for t in (900.0, 800.0)]
    finally:
        disable_deep_cache(unet3d)
    assert all(torch.equal(a, _call(unet3d, xa, t, ca)) for a, t in zip(plain_t, (900.0, 800.0)))
    assert _our_hooks(unet3d) == []


@pytest.mark.parametrize(
    ("interval", "branch", "words"), [(0, 0, "interval"), (2.5, 0, "interval"), (3, 4, "branch=4"), (3, -1, "branch")]
)
def test_bad_settings_are_refused(unet3d: Any, interval: Any, branch: Any, words: str) -> None:
    with pytest.raises(SpecError, match=words) as err:
        enable_deep_cache(unet3d, interval=interval, branch=branch)
    assert err.value.field == "cache"
    assert _our_hooks(unet3d) == []


def test_other_models_are_refused() -> None:
    with pytest.raises(SpecError, match="UNetSpatioTemporalConditionModel, I2VGenXLUNet, UNet3DConditionModel") as err:
        enable_deep_cache(torch.nn.Linear(2, 2))
    assert err.value.field == "cache"
    disable_deep_cache(torch.nn.Linear(2, 2))  # nothing enabled: a no-op
