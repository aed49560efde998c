"""Validation: generic rules, their messages, the speed of a rejection, snapping arithmetic."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import videogen
from videogen.catalog.lookup import list_models
from videogen.checks.rules import (
    MAX_GUIDANCE,
    MAX_STEPS,
    complete,
    frames_limit,
    nearest_frame_count,
    nearest_multiple,
    size_limit,
)
from videogen.families import get_family
from videogen.generation.flow import build_spec, check_before_load, load_media, prepare
from videogen.loading.schedulers.build import parse_scheduler


@given(st.integers(1, 1000), st.sampled_from([(4, 1), (8, 1), (16, 1), (2, 0)]))
def test_nearest_frame_count_is_valid_and_nearest(n: int, rule: tuple[int, int]) -> None:
    step, offset = rule
    valid = nearest_frame_count(n, step, offset)
    assert valid >= 1 and (valid - offset) % step == 0
    # no valid count is strictly nearer
    for other in (valid - step, valid + step):
        if other >= 1:
            assert abs(other - n) >= abs(valid - n)


@given(st.integers(1, 4096), st.sampled_from([8, 16, 32]))
def test_nearest_multiple_is_a_multiple_and_nearest(n: int, m: int) -> None:
    v = nearest_multiple(n, m)
    assert v % m == 0 and v >= m
    assert abs(v - n) <= m / 2 or v == m


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"prompt": None}, "prompt", ["prompt is required"]),
        ({"prompt": "  "}, "prompt", ["prompt is required"]),
        ({"steps": 0}, "steps", ["at least 1"]),
        ({"steps": 2.5}, "steps", ["whole number"]),
        ({"seed": -1}, "seed", ["at least 0"]),
        ({"guidance_scale": "high"}, "guidance_scale", ["must be a finite number"]),
        ({"fps": 0}, "fps", ["at least 1"]),
        ({"model": "wan2.1-t2v-1.3"}, "model", ["wan2.1-t2v-1.3b", "videogen models"]),
        ({"model": None}, "model", ["model is required"]),
        ({"model": "/nonexistent/folder/x"}, "model", ["not a catalog name"]),
        ({"image": "/nonexistent.png", "model": "tiny-wan-i2v"}, "image", ["no file"]),
        ({"extra": {"generator": 1}}, "extra", ["set by videogen"]),
        ({"extra": {"num_inference_steps": 3}}, "extra", ["steps"]),
        ({"scheduler": 42}, "scheduler", ["scheduler class name"]),
    ],
)
def test_generic_rules_raise_spec_errors_with_the_fix(fields: dict, field: str, words: list[str]) -> None:
    spec = {"model": "tiny-wan", "prompt": "a ferret", **fields}
    with pytest.raises(videogen.SpecError) as info:
        videogen.generate(progress=False, **spec)
    assert info.value.field == field
    for word in words:
        assert word in str(info.value), str(info.value)


def test_unknown_keyword_is_a_spec_error_with_a_suggestion() -> None:
    with pytest.raises(videogen.SpecError, match="did you mean 'num_frames'"):
        videogen.generate(model="tiny-wan", prompt="a", num_frame=9)


def test_unknown_scheduler_and_incompatible_scheduler() -> None:
    with pytest.raises(videogen.SpecError, match="did you mean 'UniPCMultistepScheduler'"):
        videogen.generate(model="tiny-wan", prompt="a", scheduler="UniPCMultistepSchedule", progress=False)
    with pytest.raises(videogen.SpecError, match="can't drive tiny-wan") as info:
        videogen.generate(model="tiny-wan", prompt="a", scheduler="DDIMScheduler", progress=False)
    assert "FlowMatchEulerDiscreteScheduler" in str(info.value)


def test_a_bad_spec_is_rejected_without_importing_torch() -> None:
    """Spec errors come back before any heavy import, so in milliseconds."""
    code = (
        "import sys, time, videogen\n"
        "t = time.perf_counter()\n"
        "try:\n"
        "    videogen.generate(model='wan2.1-t2v-14b', prompt='a', num_frames=80)\n"
        "except videogen.SpecError as e:\n"
        "    print('SpecError', round((time.perf_counter() - t) * 1000, 2), 'torch' in sys.modules,"
        " 'diffusers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    kind, _ms, torch_loaded, diffusers_loaded = out.split()
    assert kind == "SpecError"
    assert torch_loaded == "False" and diffusers_loaded == "False"


def test_an_extra_value_the_pipeline_refuses_is_a_spec_error_not_a_deep_traceback() -> None:
    import numpy as np

    clip = np.zeros((5, 32, 32, 3), np.uint8)
    with pytest.raises(videogen.SpecError, match=r"strength.*\(0, 1\]") as info:  # checked before loading
        videogen.generate(model="tiny-wan", prompt="a", video=clip, extra={"strength": "high"}, progress=False)
    assert info.value.field == "extra"
    # a value of the wrong type for the pipeline's annotated parameter: refused before loading
    with pytest.raises(videogen.SpecError, match=r"max_sequence_length.*does not fit WanPipeline.*int") as info:
        check_before_load(videogen.prepare(model="tiny-wan", prompt="a", extra={"max_sequence_length": "long"}))
    assert info.value.field == "extra"
    # a value only the pipeline knows is wrong: its error comes back as a SpecError on extra
    with pytest.raises(videogen.SpecError, match=r"extra: WanPipeline refused.*prompt_embeds") as info:
        videogen.generate(model="tiny-wan", prompt="a", extra={"prompt_embeds": "x"}, progress=False)
    assert info.value.field == "extra"


@pytest.fixture
def no_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks run before weights load: any attempt to load fails the test."""
    import videogen.loading.pipelines as pipeline

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("weights were loaded while checking a spec")

    monkeypatch.setattr(pipeline, "load_pipeline", refuse)
    monkeypatch.setattr(pipeline.PipelineCache, "get", refuse)


NAN, INF = math.nan, math.inf
UNIPC = "UniPCMultistepScheduler"


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        # numbers: whole, finite, not bools, bounded by what the model can take
        ({"steps": INF}, "steps", ["steps=inf", "whole number"]),
        ({"steps": NAN}, "steps", ["whole number"]),
        ({"height": NAN}, "height", ["height=nan", "whole number"]),
        ({"height": True}, "height", ["whole number"]),
        ({"width": "32"}, "width", ["whole number"]),
        ({"num_frames": 8.5}, "num_frames", ["whole number"]),
        ({"fps": 1e300}, "fps", ["at most 240"]),
        ({"fps": 241}, "fps", ["at most 240"]),
        ({"steps": 1001}, "steps", ["at most 1000", "timesteps"]),
        ({"guidance_scale": INF}, "guidance_scale", ["finite"]),
        ({"guidance_scale": NAN}, "guidance_scale", ["finite"]),
        ({"guidance_scale": True}, "guidance_scale", ["finite number"]),
        ({"guidance_scale": 101}, "guidance_scale", ["at most 100", "black"]),
        ({"height": 10**12, "width": 10**12}, "height", ["at most 2048 for tiny-wan", "4× its default 32"]),
        ({"width": 2**20}, "width", ["at most 2048"]),
        ({"num_frames": 10**9 + 1}, "num_frames", ["at most 257 for tiny-wan", "8× its default 9"]),
        ({"seed": 2**63}, "seed", ["at most 9223372036854775807"]),
        ({"seed": 1.5}, "seed", ["whole number"]),
        ({"seed": np.float64(NAN)}, "seed", ["whole number"]),
        # model: a string (or os.PathLike), never a TypeError
        ({"model": 42}, "model", ["must be a string", "catalog name"]),
        ({"model": ["tiny-wan"]}, "model", ["must be a string"]),
        ({"model": {}}, "model", ["must be a string"]),
        ({"model": b"tiny-wan"}, "model", ["must be a string"]),
        # extra: a dict of str keys; numbers in it finite and within 64 bits; values fit the annotations
        ({"extra": 42}, "extra", ["must be a dict"]),
        ({"extra": "abc"}, "extra", ["must be a dict"]),
        ({"extra": {1: 2}}, "extra", ["key 1 must be a string"]),
        (
            {"extra": {"attention_kwargs": {"scale": NAN}}},
            "extra",
            ["extra['attention_kwargs']['scale']=nan", "finite"],
        ),
        ({"extra": {"max_sequence_length": 10**30}}, "extra", ["64 bits"]),
        ({"extra": {"max_sequence_length": 2.5}}, "extra", ["does not fit WanPipeline", "int"]),
        ({"extra": {"max_sequence_length": 0}}, "extra", ["between 1 and 8192"]),
        # loras: one LoRA or a list; sources strings; weights finite and bounded
        ({"loras": 5}, "loras", ["loras=5 is not a LoRA"]),
        ({"loras": [{}]}, "loras", ["has no 'source'"]),
        ({"loras": [{"source": "a", "wieght": 1}]}, "loras", ["unknown key 'wieght'"]),
        ({"loras": [(42,)]}, "loras", ["source 42", "non-empty string"]),
        ({"loras": [b"x"]}, "loras", ["not a LoRA"]),
        ({"loras": [("org/lora", NAN)]}, "loras", ["weight nan", "finite"]),
        ({"loras": [("org/lora", INF)]}, "loras", ["finite"]),
        ({"loras": [("org/lora", "heavy")]}, "loras", ["finite number"]),
        ({"loras": [("org/lora", 1e6)]}, "loras", ["between -100.0 and 100.0"]),
        ({"loras": [("org/lora", 1.0, "a.b")]}, "loras", ["name 'a.b'", "no dots"]),
        ({"loras": "/nonexistent/x.safetensors"}, "loras", ["no file or folder at '/nonexistent/x.safetensors'"]),
        ({"loras": "~nosuchuser-videogen/x.safetensors"}, "loras", ["no file or folder"]),
        # memory: every MemoryPlan field typed; the error names the sub-field
        ({"memory": {"blocks_per_group": "x"}}, "memory", ["blocks_per_group='x'", "whole number"]),
        ({"memory": {"blocks_per_group": INF}}, "memory", ["blocks_per_group=inf"]),
        ({"memory": {"decode_chunk_size": NAN}}, "memory", ["decode_chunk_size=nan"]),
        ({"memory": {0: None}}, "memory", ["key 0 must be a MemoryPlan field name"]),
        (
            {"memory": {"placement": "group", "components": {"vae": {"foo": 1}}}},
            "memory",
            ["components['vae']: 'foo' is not a ComponentPlan field", "blocks_per_group"],
        ),
        (
            {"memory": {"placement": "group", "components": {"transformer": {"blocks_per_group": 0}}}},
            "memory",
            ["blocks_per_group=0", "at least 1"],
        ),
        ({"memory": {"vae_tiling": "yes"}}, "memory", ["vae_tiling='yes' must be True or False"]),
        ({"memory": {"oom_retry": 1}}, "memory", ["oom_retry=1 must be True or False"]),
        ({"memory": {"dtypes": {"default": 1}}}, "memory", ["dtypes['default']=1", "bfloat16"]),
        ({"memory": {"dtypes": "bfloat16"}}, "memory", ["dtypes must be a mapping"]),
        ({"memory": {"layerwise_components": 5}}, "memory", ["layerwise_components=5", "list of component"]),
        ({"memory": {"offload_to_disk": 5}}, "memory", ["offload_to_disk=5"]),
        ({"memory": {"attention_backend": 3}}, "memory", ["attention_backend=3"]),
        ({"memory": {"compile": "regional", "compile_mode": "bogus"}}, "memory", ["compile_mode='bogus'"]),
        ({"memory": {"compile_mode": 3}}, "memory", ["compile_mode=3"]),
        ({"memory": {"placement": ["group"]}}, "memory", ["placement=['group'] is not one of"]),
        ({"memory": np.array([1, 2])}, "memory", ["not a preset name"]),
        # scheduler: a name (str) and arguments its __init__ takes, checked before loading
        (
            {"scheduler": {"name": UNIPC, "flow_shfit": 3.0}},
            "scheduler",
            ["'flow_shfit' is not an argument of UniPCMultistepScheduler", "did you mean 'flow_shift'"],
        ),
        ({"scheduler": {"name": 5}}, "scheduler", ["scheduler class name"]),
        ({"scheduler": ["x"]}, "scheduler", ["scheduler class name"]),
        ({"scheduler": {"name": UNIPC, 1: 2}}, "scheduler", ["argument name 1 must be a string"]),
        ({"scheduler": {"name": UNIPC, "solver_order": 10**9}}, "scheduler", ["too large"]),
        ({"scheduler": {"name": UNIPC, "beta_schedule": "bogus"}}, "scheduler", ["refuses them", "bogus"]),
        ({"scheduler": {"name": "FlowMatchEulerDiscreteScheduler", "shift": NAN}}, "scheduler", ["finite"]),
        ({"scheduler": "DDIMScheduler"}, "scheduler", ["can't drive tiny-wan", "FlowMatchEulerDiscreteScheduler"]),
        # snap, task, prompts, revision
        ({"snap": "no"}, "snap", ["snap='no' must be True or False"]),
        ({"snap": 1}, "snap", ["True or False"]),
        ({"task": 5}, "task", ["task=5", "t2v, i2v"]),
        ({"task": np.array(["t2v", "i2v"])}, "task", ["t2v, i2v"]),
        ({"negative_prompt": 5}, "negative_prompt", ["must be a string"]),
        ({"revision": 5}, "revision", ["revision=5", "revision='main'"]),
        ({"revision": ""}, "revision", ["revision=''"]),
        ({"revision": "main branch"}, "revision", ["without spaces"]),
    ],
)
def test_bad_values_are_spec_errors_naming_the_field_before_loading(
    no_loading: None, fields: dict, field: str, words: list[str]
) -> None:
    spec = {"model": "tiny-wan", "prompt": "a ferret", **fields}
    with pytest.raises(videogen.SpecError) as info:
        check_before_load(prepare(**spec))
    assert info.value.field == field, str(info.value)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_values_of_other_numeric_types_that_mean_the_same_are_accepted(no_loading: None) -> None:
    p = prepare(
        model="tiny-wan",
        prompt="a",
        height=np.int64(32),
        width=32.0,
        num_frames=np.int32(9),
        guidance_scale=np.float32(4.5),
        seed=np.uint64(7),
        snap=None,
        loras=None,
        extra=None,
        memory={"placement": "group", "blocks_per_group": 2.0},
    )
    check_before_load(p)
    assert (p.spec.height, p.spec.width, p.spec.num_frames, p.spec.seed) == (32, 32, 9, 7)
    assert type(p.spec.height) is int and type(p.spec.seed) is int and p.spec.guidance_scale == 4.5
    assert p.plan.blocks_per_group == 2 and type(p.plan.blocks_per_group) is int


def test_known_scheduler_arguments_and_a_path_like_model_pass(no_loading: None, tmp_path: Path) -> None:
    prepared = prepare(model="tiny-wan", prompt="a", scheduler={"name": UNIPC, "flow_shift": 3.0, "solver_order": 2})
    cls, params = check_before_load(prepared)
    # the arguments reach the call unchanged, for the pipeline class the card names
    assert parse_scheduler(prepared.spec.scheduler) == (UNIPC, {"flow_shift": 3.0, "solver_order": 2})
    assert cls.__name__ == "WanPipeline" and "num_inference_steps" in params
    with pytest.raises(videogen.SpecError, match="solver_ordr"):  # the same check refuses a name the class lacks
        prepare(model="tiny-wan", prompt="a", scheduler={"name": UNIPC, "solver_ordr": 2})
    with pytest.raises(videogen.ModelNotFoundError, match="model_index.json"):  # a PathLike is a folder path
        prepare(model=tmp_path, prompt="a")


CARDS = [c for c in list_models() if c.tasks != ("v2v",)]


@pytest.mark.parametrize("card", CARDS, ids=[c.name for c in CARDS])
def test_every_catalog_card_passes_its_own_defaults_and_bounds(card) -> None:
    """The bounds are above every card's defaults: asking for them explicitly is still valid."""
    assert card.height <= size_limit(card, "height") and card.width <= size_limit(card, "width")
    assert card.num_frames <= frames_limit(card)[0]
    assert card.steps <= MAX_STEPS and card.guidance_scale <= MAX_GUIDANCE and 1 <= card.fps <= 240
    family = get_family(card.family)
    task = next(t for t in ("t2v", "i2v", "flf2v", "conditioned", "animate") if t in card.tasks)
    driving = np.zeros((card.num_frames, 16, 16, 3), np.uint8)  # Wan Animate's pose and face videos
    image = np.zeros((card.height, card.width, 3), np.uint8)
    fields = {
        "model": card.name,
        "task": task,
        "height": card.height,
        "width": card.width,
        "num_frames": card.num_frames,
        "fps": card.fps,
        "steps": card.steps,
        "guidance_scale": card.guidance_scale,
        "seed": 2**63 - 1,
        **({"image": image} if task in ("i2v", "flf2v", "conditioned", "animate") else {}),
        **({"pose_video": driving, "face_video": driving} if task == "animate" else {}),
        **({"last_image": image} if task == "flf2v" else {}),
        **({"prompt": "a ferret"} if family.accepts_prompt else {}),
    }
    spec = build_spec(None, fields)
    done, _ = complete(spec, card, family, load_media(spec))
    assert (done.height, done.width, done.steps, done.fps) == (card.height, card.width, card.steps, card.fps)


@pytest.mark.parametrize("model", ["tiny-wan", "tiny-cogvideox", "tiny-modelscope"])
def test_v2v_with_fewer_than_one_denoising_step_is_refused_before_loading(model: str) -> None:
    """`steps * strength < 1` used to die inside the VAE (`cannot reshape tensor of 0 elements`)."""
    import numpy as np

    from videogen.generation.flow import prepare
    from videogen.loading.pipelines import CACHE

    card = videogen.resolve(model)
    video = np.zeros((card.num_frames, card.height, card.width, 3), np.uint8)
    loads = CACHE.loads
    with pytest.raises(videogen.SpecError, match="at least 2") as info:
        prepare(model=model, prompt="a", video=video, steps=1, extra={"strength": 0.6})
    assert info.value.field == "steps" and info.value.valid == 2
    assert prepare(model=model, prompt="a", video=video, steps=1, extra={"strength": 0.6}, snap=True).spec.steps == 2
    assert prepare(model=model, prompt="a", video=video, steps=1, extra={"strength": 1.0}).spec.steps == 1
    assert CACHE.loads == loads
