"""The stored signatures (configs/signatures.json) are what the installed diffusers says, and the checks made
from them agree with the checks made from the live classes."""

from __future__ import annotations

import importlib.util
import inspect
import numbers
import types
import typing
from typing import Any

import pytest

import videogen
from videogen.catalog import signatures
from videogen.catalog.signatures import REGENERATE, dumps, generate, pipeline_signature, stored

SAMPLES = [
    None,
    0,
    7,
    -1,
    1.5,
    0.03,
    True,
    False,
    "x",
    "",
    [1, 2],
    [0.5, 1],
    ["a"],
    [True],
    [],
    (1,),
    ("a", "b"),
    [None],
    {"a": 1},
    object(),
]


def test_stored_signatures_match_the_installed_diffusers() -> None:
    fresh = generate()
    data = signatures.FILE.read_text(encoding="utf-8")
    import json

    saved = json.loads(data)
    hint = f"diffusers changed: regenerate the stored signatures with `{REGENERATE}`"
    assert saved["diffusers"] == fresh["diffusers"], hint
    assert sorted(saved["pipelines"]) == sorted(fresh["pipelines"]), hint
    for name, entry in fresh["pipelines"].items():
        assert saved["pipelines"][name] == entry, f"{name}: {hint}"
    assert saved["schedulers"] == fresh["schedulers"], hint
    assert data == dumps(fresh), f"formatting: {hint}"


def test_the_stored_version_is_the_installed_one_read_without_importing_diffusers() -> None:
    import diffusers

    assert signatures.installed_diffusers_version() == diffusers.__version__
    assert stored() is not None


def _fits_live(annotation: Any, value: Any) -> bool | None:
    """The check made from a live annotation (what videogen did before signatures were stored)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        verdicts = [_fits_live(member, value) for member in typing.get_args(annotation)]
        return True if any(verdicts) else None if None in verdicts else False
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if origin is list and isinstance(value, (list, tuple)):
        (item,) = typing.get_args(annotation) or (Any,)
        if item in (int, float):
            return all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
        verdicts = [_fits_live(item, v) for v in value]
        return None if None in verdicts else all(verdicts)
    if origin is list:
        return False
    if origin is typing.Literal:
        return any(type(value) is type(v) and value == v for v in typing.get_args(annotation))
    return None


def test_types_checked_from_stored_trees_agree_with_the_live_annotations() -> None:
    from videogen.checks.arguments import _fits
    from videogen.runtime.lock import diffusers_attr

    checked = 0
    for name in stored()["pipelines"]:
        params = inspect.signature(diffusers_attr(name).__call__).parameters
        sig = pipeline_signature(name)
        assert sig.names == set(params) - {"self"}
        assert sig.takes_loras == hasattr(diffusers_attr(name), "load_lora_weights")
        for key, param in params.items():
            if param.annotation is inspect.Parameter.empty:
                continue
            for value in SAMPLES:
                assert _fits(sig.params[key]["type"], value) == _fits_live(param.annotation, value), (name, key, value)
                checked += 1
    assert checked > 1000


@pytest.fixture
def live_only(monkeypatch: pytest.MonkeyPatch):
    """As if the installed diffusers were another version than the stored one: everything read live."""

    def clear() -> None:
        for f in (signatures.stored, signatures.pipeline_signature, signatures._live_scheduler_info):
            f.cache_clear()

    clear()
    monkeypatch.setattr(signatures, "installed_diffusers_version", lambda: "0.0.0-not-stored")
    yield
    monkeypatch.undo()
    clear()


def test_another_diffusers_version_reads_the_classes_live(live_only: None) -> None:
    assert stored() is None
    with pytest.raises(videogen.SpecError, match="not a parameter of WanPipeline") as info:
        videogen.prepare(model="tiny-wan", prompt="a", extra={"nonsense": 1})
    assert info.value.field == "extra"
    with pytest.raises(videogen.SpecError, match="did you mean 'flow_shift'"):
        videogen.prepare(model="tiny-wan", prompt="a", scheduler={"name": "UniPCMultistepScheduler", "flow_shfit": 1})
    with pytest.raises(videogen.SpecError, match="did you mean 'UniPCMultistepScheduler'"):
        videogen.prepare(model="tiny-wan", prompt="a", scheduler="UniPCMultistepSchedule")


def test_live_descriptions_equal_the_stored_ones() -> None:
    data = stored()
    for name, entry in data["schedulers"].items():
        assert signatures._live_scheduler_info(name) == entry, name


@pytest.mark.parametrize(
    ("name", "package"), [("LMSDiscreteScheduler", "scipy"), ("DPMSolverSDEScheduler", "torchsde")]
)
def test_a_scheduler_whose_package_is_missing_is_named_before_loading(name: str, package: str) -> None:
    from videogen.generation.flow import check_before_load

    spec = {"model": "tiny-modelscope", "prompt": "a"}
    if importlib.util.find_spec(package) is None:
        with pytest.raises(videogen.SpecError, match=f"needs {package}.*pip install {package}") as info:
            videogen.prepare(**spec, scheduler=name)
        assert info.value.field == "scheduler"
    else:  # installed: the arguments are read from the class once it is imported
        with pytest.raises(videogen.SpecError, match="not an argument"):
            check_before_load(videogen.prepare(**spec, scheduler={"name": name, "bogus_argument": 1}))


def test_scheduler_argument_trees_agree_with_the_live_annotations() -> None:
    """Scheduler `__init__` annotations (Literal included) checked from the stored trees as from the classes."""
    from videogen.catalog.signatures import fits
    from videogen.runtime.lock import diffusers_attr

    checked = 0
    for name, entry in stored()["schedulers"].items():
        if "init" not in entry:
            continue
        params = inspect.signature(diffusers_attr(name).__init__).parameters
        for key, described in entry["init"].items():
            if params[key].annotation is inspect.Parameter.empty:
                continue
            for value in [*SAMPLES, "linear", "trailing", "epsilon", "flow_prediction"]:
                assert fits(described["type"], value) == _fits_live(params[key].annotation, value), (name, key, value)
                checked += 1
    assert checked > 5000


class _Scheduler:
    def set_timesteps(self, *args: Any, **kwargs: Any) -> None: ...


def retrieve_timesteps(
    scheduler: Any, num_inference_steps: Any, device: Any, timesteps: Any = None, sigmas: Any = None, **kw: Any
) -> None:
    """diffusers' helper, as the pipelines copy it (only its name and parameters matter here)."""


class _Pipeline:
    scheduler = _Scheduler()

    def __call__(self, prompt: str = "", timesteps: Any = None, sigmas: Any = None, steps: int = 2) -> None:
        mu = 0.5
        retrieve_timesteps(self.scheduler, steps, "cpu", timesteps, sigmas=[1.0] * steps, mu=mu)
        timesteps, steps = retrieve_timesteps(self.scheduler, steps, "cpu", None, sigmas)  # a result, assigned after
        self.scheduler.set_timesteps(steps, device="cpu")
        self.scheduler.set_begin_index(0)


class _Computed:
    scheduler = _Scheduler()

    def __call__(self, timesteps: Any = None, steps: int = 2) -> None:
        if timesteps is None:
            timesteps = [999] * steps  # assigned before the call: the call always passes it
        retrieve_timesteps(self.scheduler, steps, "cpu", timesteps)


class _Branches:
    scheduler = _Scheduler()

    def __call__(self, timesteps: Any = None, steps: int = 2, enforce: bool = False) -> None:
        if not enforce:  # AnimateDiff video-to-video: the other branch's result is not this call's argument
            timesteps, steps = retrieve_timesteps(self.scheduler, steps, "cpu", timesteps)
        else:
            timesteps, steps = retrieve_timesteps(self.scheduler, steps * 2, "cpu", timesteps)


def test_the_timestep_arguments_a_call_passes_are_read_from_its_source() -> None:
    """None: always passed (computed in the call); a name: the caller's parameter, passed only when given."""
    from videogen.catalog.signatures import schedule_arguments, sets_begin_index

    assert schedule_arguments(_Pipeline.__call__) == {"mu": None, "sigmas": None, "timesteps": "timesteps"}
    assert schedule_arguments(_Computed.__call__) == {"timesteps": None}
    assert schedule_arguments(_Branches.__call__) == {"timesteps": "timesteps"}
    assert pipeline_signature("AnimateDiffVideoToVideoPipeline").schedule == {
        "sigmas": "sigmas",
        "timesteps": "timesteps",
    }
    assert sets_begin_index(_Pipeline) and not sets_begin_index(_Computed)
    # what the stored signatures say of the pipelines whose schedulers crashed
    assert pipeline_signature("LTXPipeline").schedule == {"mu": None, "sigmas": None, "timesteps": "timesteps"}
    assert pipeline_signature("LTXConditionPipeline").schedule == {"timesteps": None}
    assert pipeline_signature("HunyuanVideoFramepackPipeline").schedule == {"mu": None, "sigmas": None}
    assert pipeline_signature("StableVideoDiffusionPipeline").schedule == {"sigmas": "sigmas"}
    assert pipeline_signature("WanPipeline").schedule == {} and pipeline_signature("WanPipeline").begin_index
    assert "sigmas" not in signatures.scheduler_info("DPMSolverMultistepScheduler")["set_timesteps"]
    assert "timesteps" not in signatures.scheduler_info("UniPCMultistepScheduler")["set_timesteps"]
    assert "CogVideoXDPMScheduler" not in signatures.scheduler_info("CogVideoXDDIMScheduler")["compatibles"]
