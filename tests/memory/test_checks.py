"""Plans are checked against the family's components and the machine before any weight loads."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from memtools import FAMILY_CARDS, FAMILY_IDS, fields_for

import videogen
from videogen.catalog.lookup import resolve
from videogen.memory import MemoryPlan, preset
from videogen.memory.checks import resolve as resolve_plan_rules
from videogen.memory.context import context


def prepare(model: str, memory: Any, **extra: Any) -> Any:
    return videogen.prepare(
        **{k: v for k, v in fields_for(resolve(model), memory=memory, **extra).items() if k != "progress"}
    )


def refused(model: str, memory: Any, *words: str, error: type = videogen.SpecError) -> None:
    with pytest.raises(error) as info:
        prepare(model, memory)
    if isinstance(info.value, videogen.SpecError):
        assert info.value.field == "memory"
    for word in words:
        assert word in str(info.value), (word, str(info.value))


CASES = [
    # (model, plan, words the message must hold: the rule and a valid alternative)
    ("tiny-svd", MemoryPlan(vae_tiling=True), ["AutoencoderKLTemporalDecoder", "decode_chunk_size"]),
    ("tiny-svd", MemoryPlan(vae_slicing=True), ["AutoencoderKLTemporalDecoder", "decode_chunk_size"]),
    ("tiny-wan", MemoryPlan(forward_chunking=True), ["WanTransformer3DModel", "UNet"]),
    ("tiny-wan", MemoryPlan(decode_chunk_size=2), ["WanPipeline", "vae_tiling=True"]),
    ("tiny-wan", MemoryPlan(placement="sequential", compile="regional"), ["sequential", "compile=None"]),
    ("tiny-wan", MemoryPlan(placement="model"), ["needs a GPU", "memory='none'"]),
    ("tiny-wan", "balanced", ["memory='balanced'", "needs a GPU", "memory='none'"]),
    ("tiny-wan", MemoryPlan(placement="sequential"), ["needs a GPU"]),
    ("tiny-wan", MemoryPlan(placement="group", use_stream=True), ["CUDA", "use_stream=False"]),
    ("tiny-wan", MemoryPlan(placement="group", record_stream=True), ["use_stream=True"]),
    ("tiny-wan", MemoryPlan(placement="group", low_cpu_mem_usage=True), ["use_stream=True"]),
    ("tiny-wan", MemoryPlan(offload_to_disk="/tmp/x"), ["placement='group'"]),
    (
        "tiny-wan",
        MemoryPlan(placement="group", offload_to_disk="/tmp/x", quantization="torchao-int8"),
        ["torchao", "quanto-int8"],
    ),
    ("tiny-wan", MemoryPlan(components={"transformer": "leaf_level"}), ["placement='group'"]),
    ("tiny-wan", MemoryPlan(placement="group", components={"unet": "leaf_level"}), ["no component 'unet'"]),
    ("tiny-wan", MemoryPlan(quantization="bnb-4bit"), ["GPU only", "torchao-int8"]),
    # torchao's int4 kernels need a GPU: on a CPU diffusers warned and kept every weight as it was
    ("tiny-wan", MemoryPlan(quantization="torchao-int4"), ["torchao-int4", "GPU", "torchao-int8", "quanto-int4"]),
    ("tiny-wan", MemoryPlan(quantize_components=("transformer",)), ["without quantization", "torchao-int8"]),
    ("tiny-wan", MemoryPlan(layerwise_components=("transformer",)), ["without layerwise_casting", "float8_e4m3fn"]),
    ("tiny-wan", MemoryPlan(quantization="torchao-int8", quantize_components=("vae",)), ["VAE"]),
    ("tiny-wan", MemoryPlan(quantization="torchao-int8", layerwise_casting="float8_e4m3fn"), ["choose one"]),
    ("tiny-framepack", MemoryPlan(placement="group"), ["image_encoder", "MultiheadAttention", "'resident'"]),
    ("tiny-wan", MemoryPlan(layerwise_casting="float8_e4m3fn", layerwise_components=("unet",)), ["'unet'"]),
    ("tiny-wan", MemoryPlan(gguf="/no/such/file.gguf"), ["no file", ".gguf"]),
    ("tiny-wan", MemoryPlan(dtypes={"transformer": "float8_e4m3fn"}), ["layerwise_casting"]),
    ("tiny-wan", MemoryPlan(dtypes={"unet": "float16"}), ["no component 'unet'"]),
    ("tiny-wan", MemoryPlan(attention_backend="flash"), ["needs a GPU", "native"]),
    ("tiny-wan", MemoryPlan(attention_backend="fast"), ["not a diffusers attention backend"]),
    ("tiny-cogvideox", MemoryPlan(attention_backend="native"), ["CogVideoXTransformer3DModel", "silently"]),
    ("tiny-modelscope", MemoryPlan(attention_backend="native"), ["UNet3DConditionModel", "silently"]),
    ("tiny-cogvideox", MemoryPlan(attention_backend="auto"), ["'auto'", "CogVideoXTransformer3DModel", "silently"]),
    ("tiny-svd", MemoryPlan(attention_backend="auto"), ["'auto'", "UNetSpatioTemporalConditionModel"]),
    ("tiny-modelscope", MemoryPlan(compile="regional"), ["repeated blocks", "compile='full'"]),
    ("tiny-wan", MemoryPlan(compile_mode="max-autotune"), ["compile='regional'"]),
    (
        "tiny-wan",
        MemoryPlan(placement="group", compile="regional", compile_mode="reduce-overhead"),
        ["CUDA graphs", "placement='none'"],
    ),
    ("tiny-cogvideox", MemoryPlan(vae_tiling=True), ["tile", "two latent pixels"]),
    ("tiny-wan", {"vae_tilling": True}, ["did you mean 'vae_tiling'"]),
    ("tiny-wan", "lowest", ["not a preset", "minimal"]),
]


@pytest.mark.parametrize(("model", "plan", "words"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_incompatible_plans_are_spec_errors_naming_an_alternative(model: str, plan: Any, words: list[str]) -> None:
    refused(model, plan, *words)


def test_missing_quantization_backend_names_the_pip_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.split(".")[0] in ("torchao", "optimum", "gguf") else real(name, *a),
    )
    refused("tiny-wan", "int8", "videogen-diffusers[quant]", error=videogen.MissingDependencyError)
    refused(
        "tiny-wan",
        MemoryPlan(quantization="quanto-int8"),
        "videogen-diffusers[quant]",
        error=videogen.MissingDependencyError,
    )


def test_gpu_only_rules_checked_against_a_cuda_context() -> None:
    """Rules that only bite on a GPU, checked without one: the context says the device is CUDA."""
    ctx = context(resolve("tiny-framepack"), "HunyuanVideoFramepackPipeline", "cuda")
    with pytest.raises(videogen.SpecError, match="MultiheadAttention"):
        resolve_plan_rules(MemoryPlan(placement="group", components={"image_encoder": "block_level"}), ctx)
    with pytest.raises(videogen.SpecError, match="blocks_per_group=1"):
        resolve_plan_rules(
            MemoryPlan(
                placement="group", use_stream=True, blocks_per_group=2, components={"image_encoder": "resident"}
            ),
            ctx,
        )
    # the preset keeps SigLIP resident and says so
    minimal = resolve_plan_rules(preset("minimal"), ctx, fix=True, refuse=False)
    assert minimal.component("image_encoder").offload == "resident"
    assert any("MultiheadAttention" in n for n in minimal.notes)
    assert resolve_plan_rules(minimal, ctx).use_stream  # streams stay on with a GPU
    with pytest.raises(videogen.MissingDependencyError, match=r"videogen-diffusers\[bnb\]"):
        if importlib.util.find_spec("bitsandbytes") is not None:
            pytest.skip("bitsandbytes is installed")
        resolve_plan_rules(preset("nf4"), ctx, fix=True)


@pytest.mark.parametrize("card", FAMILY_CARDS, ids=FAMILY_IDS)
def test_every_preset_resolves_or_refuses_on_a_cpu_for_every_family(card: Any) -> None:
    from videogen.memory import PRESETS

    for name in PRESETS:
        try:
            plan = prepare(card.name, name).plan
        except videogen.SpecError as exc:
            assert name in ("balanced", "nf4"), (name, str(exc))  # the GPU-only presets
            assert "GPU" in str(exc)
            continue
        assert plan.name == name and not plan.use_stream
    auto = prepare(card.name, "auto").plan
    assert auto.name == "none" and auto.oom_retry and "no GPU" in auto.notes[-1]


def test_a_changed_preset_adapts_like_the_preset_and_a_custom_plan_is_strict() -> None:
    low = prepare("tiny-wan", preset("low", oom_retry=True)).plan
    assert low.oom_retry and not low.use_stream  # streams dropped on a CPU, as for "low"
    refused("tiny-wan", preset("low").replace(name="custom"), "use_stream=False")


def test_presets_adapt_to_the_components_and_say_so() -> None:
    svd = prepare("tiny-svd", "low").plan
    assert not svd.vae_tiling and svd.decode_chunk_size == 4
    assert any("decode_chunk_size=4 instead" in n for n in svd.notes)
    wan = prepare("tiny-wan", "minimal").plan
    assert wan.vae_tiling and wan.decode_chunk_size is None and not wan.forward_chunking
    assert prepare("tiny-modelscope", "minimal").plan.forward_chunking
    assert prepare("tiny-wan", "fast").plan.compile == "regional"


@pytest.mark.parametrize("model", ["tiny-svd", "tiny-modelscope", "tiny-i2vgen-xl", "tiny-framepack"])
def test_fast_compiles_no_whole_model_on_a_cpu(model: str) -> None:
    """Whole-model compile of a tiny SVD UNet took 442 s on a CPU: `fast` leaves it off there and says so.
    Only plans are resolved here: nothing compiles."""
    from videogen.families import get_family

    card = resolve(model)
    fast = prepare(model, "fast").plan
    assert fast.compile is None and not fast.compile_fullgraph
    assert any("compile off" in n and "minutes on a CPU" in n and "compile='full'" in n for n in fast.notes)
    gpu_ctx = context(card, card.pipeline_class(card.tasks[0], get_family(card.family)), "cuda")
    gpu = resolve_plan_rules(preset("fast"), gpu_ctx, fix=True, refuse=False)
    assert gpu.compile == "full" and any("compile='full'" in n for n in gpu.notes)  # a GPU compiles it whole
    assert prepare(model, MemoryPlan(compile="full")).plan.compile == "full"  # asked for explicitly: kept


def test_the_resolved_plan_names_the_components_it_applies_to() -> None:
    """One resolved plan: the checks, the load and the metadata read the same defaults."""
    plan = prepare("tiny-wan", MemoryPlan(quantization="quanto-int8")).plan
    assert plan.quantize_components == ("text_encoder", "transformer")
    plan = prepare("tiny-wan", MemoryPlan(layerwise_casting="float8_e4m3fn")).plan
    assert plan.layerwise_components == ("transformer",)
    assert plan.summary()["layerwise_components"] == ["transformer"]
    assert prepare("tiny-svd", "int8").plan.quantize_components == ("unet",)  # no text encoder; not the VAE


def test_default_quantization_leaves_out_a_gguf_denoiser(tmp_path: Any) -> None:
    """A GGUF transformer with quantization for the rest: the default list skips the GGUF component (it was
    refused as "both GGUF-quantized and in quantize_components" though the plan named no components)."""
    path = tmp_path / "t.gguf"
    path.write_bytes(b"")  # only its existence is checked before loading
    plan = prepare("tiny-wan", MemoryPlan(gguf=str(path), quantization="quanto-int8")).plan
    assert plan.quantize_components == ("text_encoder",)
    refused("tiny-svd", MemoryPlan(gguf={"unet": str(path)}, quantization="quanto-int8"), "no component left")


def test_one_rule_table_fixes_a_preset_and_refuses_a_custom_plan() -> None:
    """Every rule runs in one of two modes: a preset is fixed with a note, the same plan as a custom one is
    refused with the rule's message (so fixing and checking can't disagree)."""
    wan = context(resolve("tiny-wan"), "WanPipeline", "cpu")
    svd = context(resolve("tiny-svd"), "StableVideoDiffusionPipeline", "cpu")
    for ctx, plan, field, note in [
        (
            wan,
            MemoryPlan(name="low", placement="group", use_stream=True, record_stream=True),
            "use_stream",
            "CUDA streams off",
        ),
        (
            svd,
            MemoryPlan(name="low", vae_tiling=True, decode_chunk_size=2),
            "vae_tiling",
            "vae_tiling off: AutoencoderKLTemporalDecoder does not support it; decode_chunk_size=2 instead",
        ),
        (wan, MemoryPlan(name="low", forward_chunking=True), "forward_chunking", None),  # template: silent
        (wan, MemoryPlan(name="low", decode_chunk_size=4), "decode_chunk_size", None),
        (svd, MemoryPlan(name="fast", compile="regional"), "compile", "compile off"),
    ]:
        fixed = resolve_plan_rules(plan, ctx, fix=True)
        assert getattr(fixed, field) in (False, None), (field, fixed)
        if note:
            assert any(note in n for n in fixed.notes), fixed.notes
        assert resolve_plan_rules(fixed, ctx) == fixed  # a fixed preset passes the strict run
        with pytest.raises(videogen.SpecError) as info:
            resolve_plan_rules(plan.replace(name="custom"), ctx)
        assert info.value.field == "memory" and field in str(info.value)


def test_auto_attention_backend_resolves_to_native_sdpa_on_a_cpu_before_load() -> None:
    prepared = videogen.prepare(model="tiny-wan", prompt="x", memory=MemoryPlan(attention_backend="auto"))
    assert prepared.plan.attention_backend == "native"
    assert any("'auto' → 'native'" in note for note in prepared.plan.notes)


def test_auto_attention_backend_on_a_gpu_takes_the_first_installed_fast_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers.models import attention_dispatch

    from videogen.memory import attention

    installed = {"sage"}

    def requirements(backend: Any) -> None:
        if backend.value not in installed:
            raise RuntimeError("not installed")

    monkeypatch.setattr(attention_dispatch, "_check_attention_backend_requirements", requirements)
    monkeypatch.setattr(attention, "_is_hopper", lambda: True)
    assert attention.fastest_backend(cuda=True)[0] == "sage"
    installed.add("flash")
    assert attention.fastest_backend(cuda=True)[0] == "flash"
    installed.add("_flash_3")
    assert attention.fastest_backend(cuda=True)[0] == "_flash_3"
    monkeypatch.setattr(attention, "_is_hopper", lambda: False)  # FlashAttention 3 runs on Hopper only
    assert attention.fastest_backend(cuda=True)[0] == "flash"
    installed.clear()
    assert attention.fastest_backend(cuda=True)[0] == "native"
