"""Plans applied to tiny models of every family on a CPU: the hooks are really in place and the frames
stay within a stated tolerance of the plain run (memory='none').

Tolerances: lossless strategies (group offload with the CPU as onload device, tiling at a size under the
tile, slicing, forward chunking, attention backend "native", regional compile) ≤ 1 level of 255 anywhere;
lossy weight formats (float8 layerwise casting, int8 quantization, GGUF Q8_0) ≤ 6 levels on average on
these random-weight models; a decode that really tiles (frames larger than the tile) ≤ 10 levels on average
(seams of a random VAE). `decode_chunk_size` changes what a temporal decoder sees, so a plan using it
is compared with the plain placement at the same decode_chunk_size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import in_place
from memtools import FAMILY_CARDS, FAMILY_IDS, cached_pipeline, frame_diff, generate, plain_frames

import videogen
from videogen.catalog.lookup import resolve
from videogen.memory import MemoryPlan
from videogen.memory.components import role_of

LOSSLESS_LEVELS = 1
LOSSY_MEAN_LEVELS = 6.0
#: a random tiny VAE decoded in 32 px tiles shows its seams; real VAEs blend them far better
TILED_MEAN_LEVELS = 10.0


def reference(card: Any, plan: MemoryPlan) -> np.ndarray:
    """The plain run, with the plan's call-time decode_chunk_size when it has one."""
    if plan.decode_chunk_size:
        return generate(card, MemoryPlan(decode_chunk_size=plan.decode_chunk_size)).frames
    return plain_frames(card)


def check_in_place(pipe: Any, plan: MemoryPlan) -> None:
    state = in_place(pipe)
    for name, info in state.items():
        role = role_of(name)
        if plan.placement == "group":
            own = plan.component(name)
            offload = own.offload if own is not None else plan.offload_type
            assert info["group_offload"] == (offload != "resident"), (name, offload, info)
        else:
            assert not info["group_offload"], name
        if role == "vae":
            assert info["tiling"] == plan.vae_tiling and info["slicing"] == plan.vae_slicing, (name, info)
        if role == "denoiser":
            assert info["forward_chunking"] == plan.forward_chunking, (name, info)
            assert info["layerwise_casting"] == bool(plan.layerwise_casting), (name, info)
            if plan.layerwise_casting:
                assert plan.layerwise_casting in info["dtypes"], info
        if name in plan.quantize_components:
            assert info["quantized"], (name, info)


@pytest.mark.parametrize("preset", ["low", "minimal", "low-fp8", "int8"])
@pytest.mark.parametrize("card", FAMILY_CARDS, ids=FAMILY_IDS)
def test_cpu_presets_put_hooks_in_place_and_keep_the_frames(card: Any, preset: str) -> None:
    result = generate(card, preset)
    plan = videogen.prepare(**{k: v for k, v in _fields(card, preset).items()}).plan
    assert result.metadata["memory_plan"]["name"] == preset
    check_in_place(cached_pipeline(card), plan)
    worst, mean = frame_diff(result.frames, reference(card, plan))
    if preset in ("low", "minimal"):
        assert worst <= LOSSLESS_LEVELS, (worst, mean)
    else:
        assert mean <= LOSSY_MEAN_LEVELS, (worst, mean)


def _fields(card: Any, memory: Any) -> dict[str, Any]:
    from memtools import fields_for

    fields = fields_for(card, memory=memory)
    fields.pop("progress")
    return fields


def test_plans_change_in_place_on_one_cached_pipeline() -> None:
    from videogen.loading.pipelines import CACHE

    card = resolve("tiny-wan")
    base = plain_frames(card)
    loads = CACHE.loads
    tiled = MemoryPlan(
        placement="group",
        components={"transformer": "leaf_level", "text_encoder": "block_level", "vae": "resident"},
        vae_tiling=True,
        vae_slicing=True,
        attention_backend="native",
    )
    result = generate(card, tiled)
    pipe = cached_pipeline(card)
    state = in_place(pipe)
    assert state["transformer"]["group_offload"] and state["text_encoder"]["group_offload"]
    assert not state["vae"]["group_offload"] and state["vae"]["tiling"] and state["vae"]["slicing"]
    assert state["transformer"]["attention_backends"] == ["native"]
    # the UMT5 encoder keeps its blocks in encoder.block: group offload reached them
    assert "group_offloading" in pipe.text_encoder.encoder.block[0]._diffusers_hook.hooks
    assert frame_diff(result.frames, base)[0] <= LOSSLESS_LEVELS

    again = generate(card, "none")
    state = in_place(cached_pipeline(card))
    assert not any(info["group_offload"] or info["tiling"] or info["slicing"] for info in state.values())
    assert state["transformer"]["attention_backends"] == ["None"]
    assert not any(info["hooks"] for info in state.values()), state
    assert (again.frames == base).all()
    assert CACHE.loads == loads or CACHE.loads == loads + 1  # at most the plain run's own load


def test_forward_chunking_on_a_unet_in_place_and_undone() -> None:
    card = resolve("tiny-modelscope")
    base = plain_frames(card)
    result = generate(card, MemoryPlan(forward_chunking=True))
    assert in_place(cached_pipeline(card))["unet"]["forward_chunking"]
    assert frame_diff(result.frames, base)[0] <= LOSSLESS_LEVELS
    generate(card, "none")
    assert not in_place(cached_pipeline(card))["unet"]["forward_chunking"]


def test_vae_tiling_really_tiles_above_the_tile_size(monkeypatch: pytest.MonkeyPatch) -> None:
    card = resolve("tiny-modelscope")  # SD VAE: tiles of 32 px, so 64 px frames go through tiled_decode
    base = plain_frames(card, height=64, width=64)
    from diffusers import AutoencoderKL

    calls = []
    original = AutoencoderKL.tiled_decode
    monkeypatch.setattr(AutoencoderKL, "tiled_decode", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    result = generate(card, MemoryPlan(vae_tiling=True), height=64, width=64)
    assert calls, "tiled_decode never ran"
    worst, mean = frame_diff(result.frames, base)
    assert mean <= TILED_MEAN_LEVELS, (worst, mean)  # tiles are blended at their seams


def test_decode_chunk_size_reaches_the_pipeline() -> None:
    card = resolve("tiny-svd")
    chunked = generate(card, MemoryPlan(decode_chunk_size=1)).frames
    assert (chunked != plain_frames(card)).any()  # SVD's temporal decoder sees one frame at a time
    assert (generate(card, MemoryPlan(decode_chunk_size=1)).frames == chunked).all()


def test_component_dtypes_and_quanto(monkeypatch: pytest.MonkeyPatch) -> None:
    card = resolve("tiny-wan")
    base = plain_frames(card)
    result = generate(card, MemoryPlan(dtypes={"transformer": "bfloat16"}))
    assert "bfloat16" in in_place(cached_pipeline(card))["transformer"]["dtypes"]  # (+ its fp32-kept modules)
    assert frame_diff(result.frames, base)[1] <= LOSSY_MEAN_LEVELS
    result = generate(card, MemoryPlan(quantization="quanto-int8", quantize_components=("transformer",)))
    state = in_place(cached_pipeline(card))
    assert state["transformer"]["quantized"] and not state["text_encoder"]["quantized"]
    assert frame_diff(result.frames, base)[1] <= LOSSY_MEAN_LEVELS


def test_quantization_without_components_quantizes_the_denoiser_and_text_encoder() -> None:
    """Was diffusers' raw `ValueError: Must provide a quant_backend...` for every torchao/quanto plan that
    didn't list its components."""
    card = resolve("tiny-wan")
    result = videogen.generate(
        model="tiny-wan", prompt="a", memory=MemoryPlan(quantization="quanto-int8"), steps=1, progress=False
    )
    pipe = cached_pipeline(card)
    assert type(pipe.transformer.blocks[0].attn1.to_q.weight).__name__ == "WeightQBytesTensor"  # quanto's int8
    state = in_place(pipe)
    assert state["transformer"]["quantized"] and state["text_encoder"]["quantized"] and not state["vae"]["quantized"]
    assert result.metadata["memory_plan"]["quantize_components"] == ["text_encoder", "transformer"]


def test_layerwise_casting_without_components_casts_the_denoiser() -> None:
    """Was a silent no-op (weights float32, frames identical) while the metadata recorded the casting."""
    card = resolve("tiny-wan")
    result = generate(card, MemoryPlan(layerwise_casting="float8_e4m3fn"))
    state = in_place(cached_pipeline(card))
    assert state["transformer"]["layerwise_casting"] and "float8_e4m3fn" in state["transformer"]["dtypes"]
    assert not state["text_encoder"]["layerwise_casting"]
    assert result.metadata["memory_plan"]["layerwise_components"] == ["transformer"]
    worst, mean = frame_diff(result.frames, plain_frames(card))
    assert worst > 0 and mean <= LOSSY_MEAN_LEVELS, (worst, mean)


def test_model_offload_is_undone_through_remove_all_hooks() -> None:
    """Model CPU offload needs a GPU; its undo is diffusers' public `remove_all_hooks`, on every pipeline
    object that placed the hooks (from_pipe pipelines share the components)."""
    import weakref

    from videogen.memory.apply import Applied, _undo_placement

    class Pipe:
        removed = 0

        def remove_all_hooks(self) -> None:
            self.removed += 1

    old, new = Pipe(), Pipe()
    _undo_placement(new, Applied(MemoryPlan(placement="model"), [weakref.ref(old)]), "cuda")
    assert old.removed == 1 and new.removed == 1


def test_group_offload_to_disk(tmp_path: Any) -> None:
    card = resolve("tiny-wan")
    plan = MemoryPlan(placement="group", offload_to_disk=str(tmp_path), components={"vae": "resident"})
    result = generate(card, plan)
    assert list((tmp_path / "transformer").glob("*.safetensors")), "nothing was offloaded to disk"
    assert in_place(cached_pipeline(card))["transformer"]["group_offload"]
    assert frame_diff(result.frames, plain_frames(card))[0] <= LOSSLESS_LEVELS


def test_gguf_transformer_written_and_loaded_back(tmp_path: Any) -> None:
    import diffusers

    from videogen.memory import write_gguf
    from videogen.testing import tiny_folder

    card = resolve("tiny-wan")
    transformer = diffusers.WanTransformer3DModel.from_pretrained(tiny_folder("wan", "t2v"), subfolder="transformer")
    path = write_gguf(transformer, tmp_path / "tiny-wan-transformer.gguf")
    result = generate(card, MemoryPlan(gguf=str(path)))
    pipe = cached_pipeline(card)
    from diffusers.quantizers.gguf.utils import GGUFParameter

    assert any(isinstance(p, GGUFParameter) for p in pipe.transformer.parameters())
    assert in_place(pipe)["transformer"]["quantized"]
    assert frame_diff(result.frames, plain_frames(card))[1] <= LOSSY_MEAN_LEVELS


@pytest.mark.slow
def test_regional_compile_on_a_tiny_transformer() -> None:
    card = resolve("tiny-wan")
    result = generate(card, MemoryPlan(compile="regional", compile_fullgraph=True))
    pipe = cached_pipeline(card)
    assert in_place(pipe)["transformer"]["compiled"] == len(pipe.transformer.blocks)
    assert frame_diff(result.frames, plain_frames(card))[0] <= LOSSLESS_LEVELS
    generate(card, "none")  # compile undone in place
    assert in_place(cached_pipeline(card))["transformer"]["compiled"] == 0
