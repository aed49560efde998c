"""MemoryPlan and presets as values: normalisation, equality, load keys, errors. No torch needed."""

from __future__ import annotations

import subprocess
import sys

import pytest

import videogen
from videogen.memory import PRESETS, ComponentPlan, MemoryPlan, preset
from videogen.memory.plans import plan_from


def test_mapping_fields_become_hashable_pairs() -> None:
    plan = MemoryPlan(placement="group", components={"vae": "resident", "transformer": "leaf_level"},
                      dtypes={"transformer": "bfloat16"}, gguf="/x.gguf")
    assert plan.component("vae") == ComponentPlan("resident")
    assert dict(plan.gguf) == {"transformer": "/x.gguf"}
    assert hash(plan) == hash(MemoryPlan(placement="group", dtypes={"transformer": "bfloat16"}, gguf="/x.gguf",
                                         components={"transformer": "leaf_level", "vae": "resident"}))


def test_post_load_options_stay_out_of_the_load_key() -> None:
    base = MemoryPlan()
    for post in ({"placement": "group"}, {"vae_tiling": True}, {"compile": "regional"},
                 {"attention_backend": "native"}, {"forward_chunking": True}, {"placement": "model"}):
        assert MemoryPlan(**post).load_part() == base.load_part(), post
    for load in ({"quantization": "torchao-int8"}, {"layerwise_casting": "float8_e4m3fn"},
                 {"dtypes": {"default": "float16"}}, {"gguf": "/x.gguf"}, {"placement": "sequential"},
                 {"placement": "group", "offload_to_disk": "/tmp/off"}):
        assert MemoryPlan(**load).load_part() != base.load_part(), load
    disk = MemoryPlan(placement="group", offload_to_disk="/tmp/off")
    assert disk.load_part() != disk.replace(offload_type="leaf_level").load_part()  # can't change in place


def test_compile_true_means_regional() -> None:
    assert MemoryPlan(compile=True).compile == "regional" and MemoryPlan(compile=False).compile is None


def test_notes_do_not_change_equality() -> None:
    assert MemoryPlan(notes=("a",)) == MemoryPlan()


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"placement": "gpu"}, ["placement", "group"]),
    ({"offload_type": "blocks"}, ["offload_type", "leaf_level"]),
    ({"compile": "yes"}, ["regional"]),
    ({"quantization": "int8"}, ["torchao-int8"]),
    ({"layerwise_casting": "float8"}, ["float8_e4m3fn"]),
    ({"components": {"vae": "gpu"}}, ["resident"]),
    ({"blocks_per_group": 0}, ["at least 1"]),
])
def test_invalid_fields_are_spec_errors(kwargs: dict, words: list[str]) -> None:
    with pytest.raises(videogen.SpecError) as info:
        MemoryPlan(**kwargs)
    assert info.value.field == "memory"
    for word in words:
        assert word in str(info.value)


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


def test_docs_table_lists_every_preset() -> None:
    from pathlib import Path

    docs = (Path(__file__).parents[2] / "docs" / "memory.md").read_text()
    for name in list(PRESETS) + ["auto"]:
        assert f"| `{name}` |" in docs, name


def test_importing_the_memory_module_imports_no_torch() -> None:
    code = "import sys, videogen.memory, videogen; videogen.MemoryPlan; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
