"""Context parallelism (`VideoSpec.parallel`, docs/scale.md): the setting's forms, every refusal a SpecError
before any weight loads, the tables kept equal to what diffusers declares, and a real `torchrun --nproc-per-node 2`
run on the CPU (gloo, Ulysses degree 2) whose frames equal the single-process run exactly."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import videogen
from videogen.errors import SpecError
from videogen.generation.flow import cache_key, prepare
from videogen.loading.pipelines import CACHE
from videogen.spec.videospec import VideoSpec
from videogen.speed.parallel import checks as parallel
from videogen.testing import sample_image

WORKER = Path(__file__).with_name("cp_worker.py")
TINY = {"prompt": "a ferret", "seed": 3}


# ---- the setting ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored", "text"),
    [
        ("ulysses=2", {"ulysses": 2, "ring": 1}, "ulysses=2"),
        ("ring=2", {"ulysses": 1, "ring": 2}, "ring=2"),
        (" Ulysses = 2 , ring=4", {"ulysses": 2, "ring": 4}, "ulysses=2,ring=4"),
        ({"ulysses": 2, "ring": 1}, {"ulysses": 2, "ring": 1}, "ulysses=2"),
        ({"ring": np.int64(3)}, {"ulysses": 1, "ring": 3}, "ring=3"),
    ],
)
def test_forms_are_stored_as_one_plain_dict_that_round_trips(value: object, stored: dict, text: str) -> None:
    spec = VideoSpec(parallel=value)
    assert spec.parallel == stored and type(spec.parallel["ring"]) is int
    assert parallel.describe(spec.parallel) == text
    again = json.loads(json.dumps(spec.summary()))["parallel"]  # spec files write fields as JSON
    assert VideoSpec(parallel=again).parallel == stored
    assert VideoSpec(parallel=text).parallel == stored
    assert VideoSpec(parallel=None).parallel is None and VideoSpec(parallel="none").parallel is None


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("ulysses=1", "one GPU"),
        ("tensor=2", "is not one of ulysses, ring"),
        ("ulysses=2,ulysses=2", "given twice"),
        ("ulysses", "is not kind=N"),
        ("ulysses=²", "is not kind=N"),
        ("ring=0", "from 1 to"),
        ({"ulysses": 2.0}, "whole number"),
        ({"ulysses": True}, "whole number"),
        (2, "is not a parallelism setting"),
    ],
)
def test_bad_settings_are_spec_errors_naming_a_valid_value(value: object, words: str) -> None:
    with pytest.raises(SpecError, match="parallel='ulysses=2'") as err:
        VideoSpec(parallel=value)
    assert err.value.field == "parallel" and words in str(err.value)


def test_is_main_process_reads_torchruns_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RANK", raising=False)
    assert parallel.is_main_process()
    monkeypatch.setenv("RANK", "0")
    assert parallel.is_main_process()
    monkeypatch.setenv("RANK", "1")
    assert not parallel.is_main_process()


# ---- refusals before load -------------------------------------------------------------------------


@pytest.fixture
def torchrun_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """What `torchrun --nproc-per-node 2` sets (no process group starts: these specs never load)."""
    for name, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def _refused(field: str, *words: str, call: object = prepare, **fields: object) -> SpecError:
    loads = CACHE.loads
    with pytest.raises(SpecError) as err:
        call(**{**TINY, **fields})  # type: ignore[operator]
    assert err.value.field == field, err.value
    for word in words:
        assert word in str(err.value), (word, str(err.value))
    assert CACHE.loads == loads  # nothing loaded
    return err.value


def test_a_family_without_a_plan_is_refused(torchrun_env: pytest.MonkeyPatch) -> None:
    _refused("parallel", "cogvideox", "no context-parallel plan", "wan2.1-t2v-1.3b", model="tiny-cogvideox",
             parallel="ulysses=2")  # fmt: skip


def test_ring_attention_on_ltx_is_refused_while_diffusers_breaks_it(torchrun_env: pytest.MonkeyPatch) -> None:
    torchrun_env.setenv("VIDEOGEN_DEVICE", "cuda")  # past the CPU's own ring refusal: LTX's is the one left
    _refused("parallel", "ring=2", "LTXVideoTransformer3DModel", "#14316", "ulysses=N", model="tiny-ltx",
             parallel="ring=2", memory={"attention_backend": "_native_cudnn"})  # fmt: skip


@pytest.mark.parametrize("task", ["i2v", "conditioned"])
def test_ltx_image_and_condition_pipelines_are_refused(torchrun_env: pytest.MonkeyPatch, task: str) -> None:
    # their timestep per token isn't in LTX's context-parallel plan: RuntimeError (16 vs 32) when tried on the CPU
    fields = (
        {"image": sample_image(32, 32)} if task == "i2v" else {"task": "conditioned", "image": sample_image(32, 32)}
    )
    _refused("parallel", "timestep per token", "LTXPipeline", model="tiny-ltx", parallel="ulysses=2", **fields)


def test_a_ulysses_degree_must_divide_the_heads(torchrun_env: pytest.MonkeyPatch) -> None:
    torchrun_env.setenv("WORLD_SIZE", "4")
    # the tiny Wan transformer has 2 heads (the real 1.3B has 12)
    _refused("parallel", "2 attention heads", "ulysses=2", model="tiny-wan", parallel="ulysses=4")


def test_the_sequence_must_split_evenly(torchrun_env: pytest.MonkeyPatch) -> None:
    # Wan 2.2 TI2V: VAE ×16, patch 2: 32×32 is one token per latent frame, 3 latent frames
    _refused("parallel", "3 latent tokens", "multiple of 2", "width=64", model="tiny-wan2.2-ti2v", parallel="ulysses=2")
    prepare(**TINY, model="tiny-wan2.2-ti2v", width=64, parallel="ulysses=2")  # 6 tokens: fine


def test_a_text_sequence_split_must_divide_too(torchrun_env: pytest.MonkeyPatch) -> None:
    # LTX splits its text tokens as well
    _refused("extra", "max_sequence_length", model="tiny-ltx", parallel="ulysses=2", extra={"max_sequence_length": 127})


def test_ring_attention_needs_a_backend_that_returns_the_lse(torchrun_env: pytest.MonkeyPatch) -> None:
    err = _refused("parallel", "log-sum-exp", "_native_cudnn", "ulysses=2", model="tiny-wan", parallel="ring=2")
    assert "CPU" in str(err)
    torchrun_env.setenv("VIDEOGEN_DEVICE", "cuda")  # the pure checks only: a GPU run passes with such a backend
    prepared = prepare(**TINY, model="tiny-wan", parallel="ring=2", memory={"attention_backend": "_native_cudnn"})
    assert prepared.spec.parallel == {"ulysses": 1, "ring": 2}


def test_a_backend_that_cant_run_context_parallel_is_refused(torchrun_env: pytest.MonkeyPatch) -> None:
    _refused("memory", "_native_math", "native", model="tiny-wan", parallel="ulysses=2",
             memory={"attention_backend": "_native_math"})  # fmt: skip


def test_outside_torchrun_it_says_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    spec = {**TINY, "model": "tiny-wan", "parallel": "ulysses=2"}
    assert prepare(**spec).spec.parallel == {"ulysses": 2, "ring": 1}  # the rules check without torchrun,
    videogen.plan(**spec)  # so `videogen plan` works before the launch
    _refused("parallel", "torchrun --nproc-per-node 2 -m videogen generate", call=_generate, **spec)


def test_the_world_size_must_be_the_product_of_the_degrees(torchrun_env: pytest.MonkeyPatch) -> None:
    torchrun_env.setenv("WORLD_SIZE", "4")
    _refused("parallel", "WORLD_SIZE=4", "ulysses × ring = 2", call=_generate, model="tiny-wan", parallel="ulysses=2")


def _generate(**fields: object) -> object:
    return videogen.generate(**fields, progress=False)


@pytest.mark.parametrize(
    ("field", "words", "fields"),
    [
        ("memory", ("placement='model'", "GPU 0"), {"memory": "balanced"}),
        ("memory", ("placement='sequential'",), {"memory": {"placement": "sequential"}}),
        ("memory", ("compile_fullgraph=True", "regional"), {"memory": "fast"}),
        ("cache", ("'fbc'", "taylorseer"), {"cache": "fbc"}),
        ("cache", ("'magcache'",), {"cache": {"method": "magcache", "mag_ratios": [1.0, 1.0]}}),
        pytest.param(
            "cache",
            ("'dbcache'", "untested"),
            {"cache": "dbcache", "steps": 12},  # past its 8 warm-up steps
            marks=pytest.mark.skipif(importlib.util.find_spec("cache_dit") is None, reason="the [cachedit] extra"),
        ),
    ],
)
def test_plans_and_caches_that_dont_combine_are_refused(
    torchrun_env: pytest.MonkeyPatch, field: str, words: tuple[str, ...], fields: dict
) -> None:
    torchrun_env.setenv("VIDEOGEN_DEVICE", "cuda")  # offload plans need a GPU to get this far
    _refused(field, "doesn't combine with parallel", *words, model="tiny-wan", parallel="ulysses=2", **fields)


def test_the_cache_key_holds_the_setting(torchrun_env: pytest.MonkeyPatch) -> None:
    one = prepare(**TINY, model="tiny-wan")
    split = prepare(**TINY, model="tiny-wan", parallel="ulysses=2")
    from videogen.generation.features import FEATURES

    parallel = next(f for f in FEATURES if f.name == "context parallelism")
    assert parallel.cache_key(split) == (2, 1) and parallel.cache_key(one) is None
    assert cache_key(one) != cache_key(split) and (2, 1) in cache_key(split)


# ---- the tables match diffusers -------------------------------------------------------------------


def _denoiser_classes(family: object) -> set[str]:
    from videogen.memory.components import pipeline_components

    names = set()
    for card in family.cards:  # type: ignore[attr-defined]
        if card.arch:  # stored full-size configs: no build, no download
            for task in card.tasks:
                comps, _ = pipeline_components(card, card.pipeline_class(task, family))
                names.update(c.class_name for c in comps if c.role == "denoiser")
    return names


def test_the_family_flag_is_the_transformers_cp_plan() -> None:
    import diffusers

    from videogen.families import FAMILY_MODULES, get_family

    for name in FAMILY_MODULES:
        family = get_family(name)
        classes = _denoiser_classes(family)
        assert classes, name
        plans = {cls: bool(getattr(getattr(diffusers, cls), "_cp_plan", None)) for cls in classes}
        assert set(plans.values()) == {family.context_parallel}, (name, plans)
        for cls in classes:
            plan = getattr(diffusers, cls)._cp_plan or {}
            splits_text = "encoder_hidden_states" in plan.get("", {})
            assert splits_text == (cls in parallel.SPLITS_TEXT), cls
    assert {get_family("wan").context_parallel, get_family("ltx").context_parallel} == {True}


def test_the_backend_tables_are_diffusers() -> None:
    from diffusers.models.attention_dispatch import _AttentionBackendRegistry

    assert set(parallel.CONTEXT_PARALLEL_BACKENDS) == set(_AttentionBackendRegistry._supports_context_parallel)
    assert set(parallel.RING_BACKENDS) <= set(parallel.CONTEXT_PARALLEL_BACKENDS)
    assert "native" not in parallel.RING_BACKENDS and "_native_npu" not in parallel.RING_BACKENDS


# ---- a real launch ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


JOBS = {
    "wan": {"model": "tiny-wan", **TINY, "parallel": "ulysses=2"},
    "wan2.2": {"model": "tiny-wan2.2", **TINY, "parallel": "ulysses=2"},  # two transformers, both split
    # without videogen's workaround for diffusers#14316: expected to fail (its error recorded), then LTX with it
    "ltx-bare": {"model": "tiny-ltx", **TINY, "parallel": "ulysses=2", "_bare": True},
    "ltx": {"model": "tiny-ltx", **TINY, "parallel": "ulysses=2"},
    # a memory plan with it: group offload's hooks around the split transformer
    "ltx-group": {"model": "tiny-ltx", **TINY, "parallel": "ulysses=2", "memory": {"placement": "group"}},
}


def test_torchrun_on_the_cpu_gives_the_single_process_frames(tmp_path: Path) -> None:
    single = {}
    for name in ("wan", "wan2.2", "ltx", "ltx-group"):
        fields = {k: v for k, v in JOBS[name].items() if k != "parallel"}
        single[name] = videogen.generate(**fields, progress=False).frames  # also builds the tiny models first
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}
    # a fresh cache: the launch builds its tiny models itself, those after the first once the process group has
    # started (transformers then saves weights on rank 0 only: the other rank must wait for rank 0's build)
    env["VIDEOGEN_CACHE"] = str(tmp_path / "cache")
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "VIDEOGEN_DEVICE"):
        env.pop(name, None)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1"]
    command += ["--master-port", env["MASTER_PORT"], str(WORKER), str(tmp_path), json.dumps(JOBS)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    for name, frames in single.items():
        got = np.load(tmp_path / f"{name}.npy")
        assert got.shape == frames.shape and np.array_equal(got, frames), name  # exact: max difference 0
        hashes = {(tmp_path / f"{name}.rank{r}.sha1").read_text() for r in (0, 1)}
        assert len(hashes) == 1, name  # every rank returned the same video
    meta = json.loads((tmp_path / "wan.json").read_text())
    assert meta["parallel"] == {"ulysses": 2, "ring": 1, "world_size": 2, "backend": "gloo",
                                "attention_backend": "native", "denoisers": ["transformer"]}  # fmt: skip
    # both experts of Wan 2.2 run split (read from the models: the frames alone can't tell)
    assert json.loads((tmp_path / "wan2.2.json").read_text())["parallel"]["denoisers"] == [
        "transformer",
        "transformer_2",
    ]
    assert meta["spec"]["parallel"] == {"ulysses": 2, "ring": 1}
    errors = [tmp_path / f"ltx-bare.rank{r}.error" for r in (0, 1)]
    assert all(e.is_file() for e in errors), (
        "diffusers now runs LTX under Ulysses itself: drop videogen.speed.parallel.run.ULYSSES_MASK_WORKAROUND (and "
        "check ring: parallel.BROKEN_PLANS) and update docs/scale.md"
    )
    assert "must match the size of tensor" in errors[0].read_text()
