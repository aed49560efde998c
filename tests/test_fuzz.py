"""Property: any spec, however wrong, either passes every check that runs before weights load, or is a
SpecError naming a VideoSpec field — never another exception, and never a weight loaded.

Specs mix valid values (for the chosen tiny model), wrong types, None, huge / negative / nan / inf
numbers, odd strings and nested junk for extra, memory, loras and scheduler. Three kinds of spec:
all valid (must pass), one bad field (when dropping that field makes the spec pass, the error names
it) and several bad fields. The counts are printed (`pytest -s`) and checked at the end.
"""

from __future__ import annotations

import math
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videogen.catalog.lookup import resolve
from videogen.errors import MissingDependencyError, SpecError
from videogen.families import get_family
from videogen.generation.flow import check_before_load, prepare
from videogen.loading.schedulers import FLOW_SCHEDULERS, usable_schedulers
from videogen.memory.plans import MemoryPlan
from videogen.spec.inputs import MEDIA_FIELDS
from videogen.spec.videospec import SPEC_FIELDS, TASKS

MODELS = (
    "tiny-wan",
    "tiny-wan-i2v",
    "tiny-svd",
    "tiny-ltx",
    "tiny-ltx2",
    "tiny-cogvideox",
    "tiny-framepack",
    "tiny-modelscope",
    "tiny-i2vgen-xl",
    "tiny-hunyuanvideo",
)
IMAGE = image(32, 32)
MEDIA = MEDIA_FIELDS  # every input (spec/inputs.py)
#: fields a bad value can be named by besides its own (a wrong task asks for the input that task needs)
ALSO = {
    "task": {"image", "last_image", "video", "prompt"},
    # a memory plan and a step cache that can't run together (compile + hooks): either field may be named
    "memory": {"cache"},
    "cache": {"memory"},
    # a parallel setting refuses the memory plan, step cache or text length it doesn't combine with
    "parallel": {"memory", "cache", "extra"},
}
EXAMPLES = 2500

# ---- junk ------------------------------------------------------------------------------------------
numbers_junk = st.one_of(
    st.sampled_from(
        [
            math.nan,
            math.inf,
            -math.inf,
            0,
            -1,
            -(2**63),
            2**63,
            2**64,
            10**12,
            10**100,
            1e308,
            -0.0,
            0.5,
            1.5,
            2**31,
            True,
            False,
            np.float32("nan"),
            np.int64(-5),
            np.float64(1e20),
        ]
    ),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
)
text_junk = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "\n",
            "\x00",
            "nan",
            "inf",
            "-1",
            "None",
            "auto",
            "true",
            "no",
            "a" * 300,
            "é\u202e🎞",
            "../..",
            "org/repo@",
            "tiny-wa",
            "UniPCMultistepScheduler",
        ]
    ),
    st.text(max_size=12),
    st.just("~nosuchuser-videogen/model"),
)
scalar_junk = st.one_of(
    numbers_junk,
    text_junk,
    st.none(),
    st.binary(max_size=4),
    st.just(object()),
    st.just(Path("/nonexistent/x")),
    st.just(np.zeros((2, 2))),
    st.just(np.array(["a"])),
    st.just(IMAGE),
)
junk = st.recursive(
    scalar_junk,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(text_junk, st.integers()), inner, max_size=3),
    ),
    max_leaves=6,
)

EXTRA_KEYS = (
    "strength",
    "max_sequence_length",
    "frame_rate",
    "decode_chunk_size",
    "true_cfg_scale",
    "sampling_type",
    "latent_window_size",
    "clip_skip",
    "target_fps",
    "conditions",
    "frame_index",
    "timesteps",
    "noise_aug_strength",
    "motion_bucket_id",
    "attention_kwargs",
    "guidance_rescale",
    "height",
    "generator",
    "num_inference_steps",
    "decode_timestep",
    "nonsense",
)
PLAN_FIELDS = tuple(f for f in MemoryPlan.__dataclass_fields__ if f != "notes")
PLAN_VALUES = st.one_of(
    junk,
    st.sampled_from(
        [
            "none",
            "model",
            "sequential",
            "group",
            "block_level",
            "leaf_level",
            "resident",
            "regional",
            "full",
            "torchao-int8",
            "bnb-4bit",
            "float8_e4m3fn",
            "bfloat16",
            "native",
            "max-autotune",
            "/tmp/off",
            1,
            2,
            True,
        ]
    ),
    st.dictionaries(
        st.sampled_from(["transformer", "vae", "text_encoder", "default", "unet", "x"]),
        st.one_of(
            junk,
            st.sampled_from(["resident", "block_level", "float16"]),
            st.dictionaries(st.sampled_from(["offload", "blocks_per_group", "x"]), junk),
        ),
        max_size=2,
    ),
)
SCHEDULER_KEYS = (
    "flow_shift",
    "shift",
    "solver_order",
    "num_train_timesteps",
    "beta_schedule",
    "use_karras_sigmas",
    "prediction_type",
    "use_flow_sigmas",
    "timestep_spacing",
    "flow_shfit",
    "nonsense",
)
SCHEDULER_NAMES = st.sampled_from(
    list(FLOW_SCHEDULERS)
    + [
        "DDIMScheduler",
        "EulerDiscreteScheduler",
        "UniPCMultistepSchedule",
        "FlaxDDIMScheduler",
        "SchedulerMixin",
        "Scheduler",
        "",
    ]
)

bad_values: dict[str, Any] = {
    "model": st.one_of(junk, st.sampled_from(["tiny-wa", "org/repo", "/nonexistent", "", "TINY-SVD"])),
    "prompt": st.one_of(junk, st.sampled_from(["", "  ", "\n"])),
    "negative_prompt": junk,
    "height": numbers_junk | junk,
    "width": numbers_junk | junk,
    "num_frames": numbers_junk | junk,
    "fps": numbers_junk | junk,
    "steps": numbers_junk | junk,
    "guidance_scale": numbers_junk | junk,
    "seed": numbers_junk | junk,
    "task": st.one_of(junk, st.sampled_from(TASKS + ("T2V", "img2vid"))),
    "memory": st.one_of(
        junk,
        st.sampled_from(["minmal", "balanced", "nf4", "low", "fast", "int8", "low-fp8"]),
        st.dictionaries(
            st.one_of(st.sampled_from(PLAN_FIELDS + ("vae_tilling",)), st.integers()), PLAN_VALUES, max_size=3
        ),
    ),
    "scheduler": st.one_of(
        junk,
        SCHEDULER_NAMES,
        st.fixed_dictionaries(
            {"name": st.one_of(SCHEDULER_NAMES, junk)},
            optional={
                k: st.one_of(junk, st.sampled_from([1, 2, 3.0, "linear", "trailing", True, 10**9]))
                for k in SCHEDULER_KEYS
            },
        ),
    ),
    "loras": st.one_of(
        junk,
        st.sampled_from(["x.safetensors", "org/lora"]),
        st.lists(
            st.one_of(
                junk,
                st.just({}),
                st.tuples(junk),
                st.tuples(st.just("org/l"), junk),
                st.dictionaries(st.sampled_from(["source", "weight", "name", "x"]), junk),
                st.builds(lambda w: {"source": "org/l", "weight": w}, numbers_junk),
            ),
            max_size=3,
        ),
    ),
    "extra": st.one_of(
        junk,
        st.dictionaries(
            st.one_of(st.sampled_from(EXTRA_KEYS), st.integers()), st.one_of(junk, numbers_junk), max_size=3
        ),
    ),
    "snap": junk,
    "revision": st.one_of(junk, st.sampled_from(["", " ", "main branch", "main", "a\tb"])),
    "cache": st.one_of(
        junk,
        st.sampled_from(["fbcc", "FBC!", "", "magcache", "auto", "deepcache"]),
        st.dictionaries(
            st.one_of(
                st.sampled_from(["method", "threshold", "interval", "warmup", "mag_ratios", "branch", "x"]),
                st.integers(),
            ),
            st.one_of(junk, numbers_junk, st.sampled_from(["fbc", "pab", "taylorseer", "deepcache"])),
            max_size=3,
        ),
    ),
    "parallel": st.one_of(
        junk,
        st.sampled_from(["ulysses=1", "ring", "tensor=2", "ulysses=2,ulysses=2", "ring=0", "ulysses=2", "ring=2"]),
        st.dictionaries(st.one_of(st.sampled_from(["ulysses", "ring", "x"]), st.integers()), junk, max_size=2),
    ),
    "fit": st.one_of(junk, st.sampled_from(["Follow", "cover", "", "none", " pad"])),
    "audio": st.one_of(junk, st.sampled_from(["yes", 0, 1, "false"])),
}
assert set(bad_values) == set(SPEC_FIELDS) - set(MEDIA), set(SPEC_FIELDS) ^ set(bad_values)


# ---- valid values for one tiny model ----------------------------------------------------------------
def valid_values(name: str) -> dict[str, Any]:
    """Strategies of values valid for the tiny model `name` (one per field; media fixed)."""
    card = resolve(name)
    family = get_family(card.family)
    task = "t2v" if "t2v" in card.tasks else "i2v"
    words = st.text(min_size=1, max_size=40).filter(str.strip)
    if card.sizes:
        heights, widths = st.just(card.sizes[0][0]), st.just(card.sizes[0][1])
    else:
        m = card.size_multiple
        heights = widths = st.integers(1, 8).map(lambda k: k * m)
    if card.frame_rule:
        step, offset = card.frame_rule
        top = min(card.max_frames or 65, 65)
        frames = st.integers(0 if offset else 1, max(0, (top - offset) // step)).map(lambda k: step * k + offset)
        frames = frames.filter(lambda n: n >= 1)
    else:  # SVD: one frame takes guidance_scale 1 (its guidance ramps over the frames), so from 2
        frames = st.integers(2 if card.family == "svd" else 1, min(card.max_frames or 24, 24))
    usable = usable_schedulers(card, family, card.pipeline_class(task, family))
    schedulers = st.sampled_from(usable) if family.flow_matching else st.nothing()
    maybe = lambda s: st.one_of(st.none(), s)  # noqa: E731
    values = {
        "model": st.just(name),
        "prompt": words if family.accepts_prompt else st.none(),
        # HunyuanVideo and FramePack (guidance-distilled) refuse a negative prompt unless true_cfg_scale > 1
        "negative_prompt": (
            maybe(words) if family.accepts_prompt and card.family not in ("hunyuanvideo", "framepack") else st.none()
        ),
        "height": maybe(heights),
        "width": maybe(widths),
        "num_frames": maybe(frames),
        # LTX-2: at most 20 s of video and at least one latent frame of audio (40 ms, rounded): with at most 65
        # frames, every count is valid from 4 to 48 fps
        "fps": maybe(st.integers(4, 48) if card.family == "ltx2" else st.integers(1, 240)),
        "steps": maybe(st.integers(2 if card.family in ("ltx", "ltx2") else 1, 50)),  # LTX stretches to shift_terminal
        "guidance_scale": maybe(st.floats(1, 20)),  # SVD's: at least its min_guidance_scale, 1
        "seed": maybe(st.integers(0, 2**63 - 1)),
        "task": st.sampled_from([None, task]),
        "memory": st.sampled_from([None, "auto", "none", MemoryPlan(), {"name": "mine"}]),
        "scheduler": maybe(st.one_of(schedulers, schedulers.map(lambda n: {"name": n}))),
        "loras": st.sampled_from([None, (), []]),
        "extra": st.sampled_from([None, {}]),
        "snap": st.booleans(),
        "revision": st.none(),  # tiny models have no Hub revision to pin
        # every DiT family takes pab and fbc at any steps (TaylorSeer and MagCache depend on steps and
        # calibration); every UNet family deepcache
        "cache": st.sampled_from(
            [None, "none", *(m for m in ("pab", "fbc", "deepcache") if m in family.cache_methods)]
        ),
    }
    media = {"image": IMAGE} if task == "i2v" else {}
    return {"fields": values, "media": media}


VALID = {name: valid_values(name) for name in MODELS}


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, dict[str, Any], tuple[str, ...]]:
    """(kind, spec fields, the fields given bad values)."""
    name = draw(st.sampled_from(MODELS))
    valid = VALID[name]
    fields = {k: draw(s) for k, s in valid["fields"].items()}
    fields = {k: v for k, v in fields.items() if v is not None or k == "model"}
    fields.update(valid["media"])
    kind = draw(st.sampled_from(["valid", "one", "one", "many"]))
    bad: tuple[str, ...] = ()
    if kind == "one":
        bad = (draw(st.sampled_from(sorted(bad_values))),)
    elif kind == "many":
        bad = tuple(draw(st.lists(st.sampled_from(sorted(bad_values)), min_size=2, max_size=5, unique=True)))
    for key in bad:
        fields[key] = draw(bad_values[key])
    return kind, fields, bad


def check(fields: dict[str, Any]) -> None:
    """Everything `generate` does before loading weights."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_before_load(prepare(**fields))


def show(fields: dict[str, Any]) -> str:
    """The fields for a failure message, arrays shown by shape."""
    return repr({k: f"<array {v.shape}>" if isinstance(v, np.ndarray) and v.size > 8 else v for k, v in fields.items()})


def outcome(fields: dict[str, Any]) -> BaseException | None:
    try:
        check(fields)
    except (SpecError, MissingDependencyError) as exc:
        return exc
    return None


@pytest.fixture
def no_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to load weights fails the test. (Also: package versions read once, not per prepare —
    tiny_folder's fingerprint reads five packages' metadata on every call, ~20 ms, most of a valid prepare.)"""
    import videogen.loading.pipelines as pipeline
    import videogen.runtime.devices as runtime

    known = runtime.versions()
    monkeypatch.setattr(runtime, "versions", lambda: dict(known))

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("a weight load was attempted while checking a spec")

    monkeypatch.setattr(pipeline, "load_pipeline", refuse)
    monkeypatch.setattr(pipeline.PipelineCache, "get", refuse)


def test_fuzzed_specs_pass_or_are_spec_errors_before_any_weight_loads(no_loading: None) -> None:
    from videogen.loading.pipelines import CACHE

    for name in MODELS:  # tiny models are built on first use (prepare reads their component configs)
        check(
            {
                "model": name,
                **VALID[name]["media"],
                **({"prompt": "a ferret"} if get_family(resolve(name).family).accepts_prompt else {}),
            }
        )
    loads = CACHE.loads
    counts: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(case=cases())
    def run(case: tuple[str, dict[str, Any], tuple[str, ...]]) -> None:
        kind, fields, bad = case
        counts["tried"] += 1
        try:
            check(fields)
        except SpecError as exc:
            counts["SpecError"] += 1
            assert exc.field in SPEC_FIELDS or exc.field == "spec", (exc.field, str(exc), show(fields))
            assert kind != "valid", f"a valid spec was refused: {exc} ({show(fields)})"
            if kind == "one":
                (key,) = bad
                if exc.field != key:
                    others = {k: v for k, v in fields.items() if k != key}
                    if outcome(others) is None:  # the bad field alone made it fail: the error must name it
                        assert exc.field in ALSO.get(key, ()), (key, exc.field, str(exc), show(fields))
        except MissingDependencyError:
            counts["MissingDependencyError"] += 1
        except Exception as exc:  # never: a user's value must not raise anything but a SpecError
            counts["other"] += 1
            raise AssertionError(f"{type(exc).__name__}: {exc} for {show(fields)}") from exc
        else:
            counts["valid"] += 1
            counts[f"valid-{kind}"] += 1

    start = time.perf_counter()
    run()
    print(f"\nfuzz: {dict(counts)} in {time.perf_counter() - start:.1f} s")
    assert CACHE.loads == loads
    assert counts["other"] == 0
    assert counts["tried"] >= EXAMPLES
    # enough of each outcome to matter: valid specs of every kind, and mostly refusals when fields are bad
    assert counts["valid"] >= EXAMPLES // 5 and counts["SpecError"] >= EXAMPLES // 3, dict(counts)


def test_unknown_home_directory_in_model() -> None:
    with pytest.raises(SpecError) as info:
        prepare(model="~nosuchuser-videogen/model", prompt="a")
    assert info.value.field == "model"


def test_fixed_media_cases_pass_or_are_spec_errors(no_loading: None) -> None:
    """A few media values (the fuzz keeps media fixed: reading files is another module's job)."""
    from PIL import Image

    for media in (
        {"image": IMAGE},
        {"image": Image.fromarray(IMAGE)},
        {"image": np.zeros((0, 0, 3), np.uint8)},
        {"image": "/nonexistent.png"},
        {"image": 42},
        {"image": IMAGE, "last_image": IMAGE},
        {"video": np.zeros((9, 32, 32, 3), np.uint8)},
        {"video": [IMAGE] * 5},
        {"last_image": IMAGE},
    ):
        for name in ("tiny-wan", "tiny-wan-i2v", "tiny-svd"):
            fields = {"model": name, **media}
            if get_family(resolve(name).family).accepts_prompt:
                fields["prompt"] = "a"
            err = outcome(fields)
            assert err is None or isinstance(err, SpecError) and err.field in SPEC_FIELDS, (fields, err)
