"""MemoryPlan and presets as values: normalisation, equality, load keys, errors. No torch needed."""

from __future__ import annotations

import math
import re
import subprocess
import sys

import numpy as np
import pytest

import videogen
from videogen.memory import PRESETS, ComponentPlan, MemoryPlan, preset
from videogen.memory.plans import plan_from


def test_mapping_fields_become_hashable_pairs() -> None:
    plan = MemoryPlan(
        placement="group",
        components={"vae": "resident", "transformer": "leaf_level"},
        dtypes={"transformer": "bfloat16"},
        gguf="/x.gguf",
    )
    assert plan.component("vae") == ComponentPlan("resident")
    assert dict(plan.gguf) == {"transformer": "/x.gguf"}
    assert hash(plan) == hash(
        MemoryPlan(
            placement="group",
            dtypes={"transformer": "bfloat16"},
            gguf="/x.gguf",
            components={"transformer": "leaf_level", "vae": "resident"},
        )
    )


def test_post_load_options_stay_out_of_the_load_key() -> None:
    base = MemoryPlan()
    for post in (
        {"placement": "group"},
        {"vae_tiling": True},
        {"compile": "regional"},
        {"attention_backend": "native"},
        {"forward_chunking": True},
        {"placement": "model"},
    ):
        assert MemoryPlan(**post).load_part() == base.load_part(), post
    for load in (
        {"quantization": "torchao-int8"},
        {"layerwise_casting": "float8_e4m3fn"},
        {"dtypes": {"default": "float16"}},
        {"gguf": "/x.gguf"},
        {"placement": "sequential"},
        {"placement": "group", "offload_to_disk": "/tmp/off"},
    ):
        assert MemoryPlan(**load).load_part() != base.load_part(), load
    disk = MemoryPlan(placement="group", offload_to_disk="/tmp/off")
    assert disk.load_part() != disk.replace(offload_type="leaf_level").load_part()  # can't change in place


def test_compile_true_means_regional() -> None:
    assert MemoryPlan(compile=True).compile == "regional" and MemoryPlan(compile=False).compile is None


def test_notes_do_not_change_equality() -> None:
    assert MemoryPlan(notes=("a",)) == MemoryPlan()


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"placement": "gpu"}, ["placement", "group"]),
        ({"offload_type": "blocks"}, ["offload_type", "leaf_level"]),
        ({"compile": "yes"}, ["regional"]),
        ({"quantization": "int8"}, ["torchao-int8"]),
        ({"layerwise_casting": "float8"}, ["float8_e4m3fn"]),
        ({"components": {"vae": "gpu"}}, ["resident"]),
        ({"blocks_per_group": 0}, ["at least 1"]),
        # wrongly typed fields: a SpecError naming the sub-field, never a TypeError / ValueError / OverflowError
        ({"blocks_per_group": "x"}, ["blocks_per_group='x'", "whole number"]),
        ({"blocks_per_group": math.inf}, ["blocks_per_group=inf"]),
        ({"blocks_per_group": 1.5}, ["blocks_per_group=1.5"]),
        ({"blocks_per_group": True}, ["blocks_per_group=True"]),
        ({"decode_chunk_size": math.nan}, ["decode_chunk_size=nan"]),
        ({"decode_chunk_size": 0}, ["decode_chunk_size=0", "at least 1"]),
        ({"components": {"vae": {"foo": 1}}}, ["components['vae']: 'foo' is not a ComponentPlan field"]),
        ({"components": {"vae": {"blocks_per_group": "two"}}}, ["blocks_per_group='two'"]),
        ({"components": {"vae": 5}}, ["components['vae']", "resident"]),
        ({"components": {5: "resident"}}, ["key 5 must be a component name"]),
        ({"components": [("vae", "resident"), ("vae", "resident")]}, ["'vae' is given twice"]),
        ({"components": "vae"}, ["components must be a mapping"]),
        ({"vae_tiling": "yes"}, ["vae_tiling='yes' must be True or False"]),
        ({"use_stream": 1}, ["use_stream=1"]),
        ({"oom_retry": None}, ["oom_retry=None"]),
        ({"dtypes": {"default": 1}}, ["dtypes['default']=1", "bfloat16"]),
        ({"dtypes": {"transformer": None}}, ["dtypes['transformer']=None"]),
        ({"gguf": 5}, ["gguf must be a mapping"]),
        ({"gguf": {"transformer": 5}}, ["gguf['transformer']=5"]),
        ({"layerwise_components": 5}, ["layerwise_components=5"]),
        ({"quantize_components": [1]}, ["quantize_components=[1]"]),
        ({"quantization": ["torchao-int8"]}, ["quantization=['torchao-int8']"]),
        ({"placement": ["group"]}, ["placement=['group']"]),
        ({"offload_type": None}, ["offload_type=None"]),
        ({"offload_to_disk": 5}, ["offload_to_disk=5"]),
        ({"offload_to_disk": ""}, ["offload_to_disk=''"]),
        ({"compile_mode": 3}, ["compile_mode=3"]),
        ({"attention_backend": 3}, ["attention_backend=3"]),
        ({"name": None}, ["name=None"]),
    ],
)
def test_invalid_fields_are_spec_errors(kwargs: dict, words: list[str]) -> None:
    with pytest.raises(videogen.SpecError) as info:
        MemoryPlan(**kwargs)
    assert info.value.field == "memory"
    for word in words:
        assert word in str(info.value)


def test_a_single_component_name_is_one_name_and_whole_floats_are_ints() -> None:
    plan = MemoryPlan(
        layerwise_casting="float8_e4m3fn",
        layerwise_components="transformer",
        blocks_per_group=2.0,
        decode_chunk_size=np.int64(4),
    )
    assert plan.layerwise_components == ("transformer",)  # not one component per character
    assert plan.blocks_per_group == 2 and type(plan.blocks_per_group) is int and plan.decode_chunk_size == 4
    assert plan.replace(vae_tiling=True).layerwise_components == ("transformer",)  # replace re-checks cleanly


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({0: None}, "key 0 must be a MemoryPlan field name"),
        ({"vae_tilling": True}, "did you mean 'vae_tiling'"),
        (5, "memory=5 is not a preset name"),
    ],
)
def test_plan_from_refuses_non_field_keys(value: object, words: str) -> None:
    with pytest.raises(videogen.SpecError, match=re.escape(words)) as info:
        plan_from(value)
    assert info.value.field == "memory"


def test_unknown_preset_and_dict_fields_suggest_the_right_name() -> None:
    with pytest.raises(videogen.SpecError, match="did you mean 'minimal'"):
        preset("minmal")
    with pytest.raises(videogen.SpecError, match="did you mean 'vae_tiling'"):
        plan_from({"vae_tilling": True})
    assert plan_from({"vae_tiling": True}) == MemoryPlan(name="custom", vae_tiling=True)


def test_presets_and_summary() -> None:
    assert {"none", "balanced", "low", "minimal", "int8", "nf4", "low-fp8", "fast"} <= set(PRESETS)
    assert preset("low", oom_retry=True).oom_retry
    summary = preset("minimal").summary()
    assert summary["name"] == "minimal" and summary["offload_type"] == "leaf_level"
    assert summary["components"]["vae"] == "resident"


def test_docs_memory_md_presets_table_is_generated_from_the_presets() -> None:
    from pathlib import Path

    from videogen.memory.presets import DOCS, markdown

    assert list(DOCS) == list(PRESETS) + ["auto"]  # every preset documented, in order
    docs = (Path(__file__).parents[2] / "docs" / "memory.md").read_text()
    assert markdown() + "\n\n" in docs, "paste videogen.memory.presets.markdown() into docs/memory.md"


def test_one_dtype_resolver_reads_the_card_the_device_and_the_plan() -> None:
    """`from_pretrained`'s dtype mapping: the card's on a GPU, float32 on a CPU, the plan's entries key by key;
    a component without an entry takes "default" (as diffusers reads the mapping)."""
    from videogen.catalog.lookup import resolve
    from videogen.runtime.devices import component_dtype, component_dtypes

    card = resolve("wan2.1-t2v-14b")  # default bfloat16, vae float32
    assert component_dtypes(card, "cpu") == {"default": "float32"}
    assert component_dtype(card, "vae", "cuda") == "float32"
    assert component_dtype(card, "transformer", "cuda") == "bfloat16"
    plan = MemoryPlan(dtypes={"default": "float16", "text_encoder": "bfloat16"})
    assert component_dtype(card, "transformer", "cuda", plan) == "float16"
    assert component_dtype(card, "vae", "cuda", plan) == "float32"  # its own entry beats the plan's default
    assert component_dtype(card, "text_encoder", "cpu", plan) == "bfloat16"
    assert component_dtype(card, "vae", "cpu", plan) == "float16"


def test_importing_the_memory_module_imports_no_torch() -> None:
    code = "import sys, videogen.memory, videogen; videogen.MemoryPlan; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
