"""Simulated activation memory: the pipeline's real call, at full size, on fake tensors. Opt-in.

Nothing on the default path imports this module: `memory="auto"` decides from the fitted formulas
(estimate.py). It runs for `videogen.plan(..., simulate=True)` / `videogen plan --simulate`, the memory
bench's comparison and the tests that fit and check the formulas (benchmarks/simulate_catalog.py).

`simulate(prepared)` builds the full-size pipeline from its configs with *fake* weights (PyTorch's
`FakeTensorMode`: shapes and dtypes, no storage, no compute), runs the diffusers pipeline's own
`__call__` at the spec's size and counts the bytes of every tensor it creates while that tensor is
alive. Per component it records the tensors alive when the component starts (latents, embeddings: the
pipeline's state) and the most allocated above that while it runs (its activations). Weights are not
counted here; the planner adds them from the plan's placement (estimate.py).

Small tensors (masks, timesteps, indices) carry their real value beside the fake one, so what the
pipeline reads back from them (`.item()`, `nonzero`, an `if`) is real; a value read from a large tensor
is guessed (0, one match) and listed in `Simulation.guessed`. Repeated calls (steps, tiles, frames,
feed-forward chunks) are replayed instead of recomputed. `measure_call` counts the same way on a real
pipeline: tests compare the two on every tiny model. What it cannot see: the CUDA allocator's rounding
and fragmentation, cuDNN / cuBLAS workspaces and a GPU attention kernel different from the CPU one;
those are the margin `estimate.OVERHEAD_*` allows for.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import inspect
import json
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import VideoGenError
from .estimate import activation_parts
from .plans import MemoryPlan

if TYPE_CHECKING:
    from ..catalog.lookup import ModelCard

__all__ = [
    "PhaseMemory",
    "Simulation",
    "Subject",
    "activation_parts",
    "measure_call",
    "simulate",
    "simulate_plans",
    "subject_of",
]

logger = logging.getLogger("videogen")


@dataclass(frozen=True)
class PhaseMemory:
    """One component's run: the pipeline's tensors alive when it starts and the most it adds."""

    entry_bytes: int
    activation_bytes: int
    calls: int

    @property
    def total_bytes(self) -> int:
        return self.entry_bytes + self.activation_bytes


@dataclass
class Simulation:
    """Per component (the VAE's encode and decode together as "vae"), the simulated activation memory."""

    phases: dict[str, PhaseMemory]
    #: the most bytes alive at once over the whole call (weights excluded)
    peak_bytes: int
    seconds: float
    #: ops whose data-dependent result was guessed
    guessed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Subject:
    """What a simulation runs: a checked spec, its card and family, its media, the pipeline class."""

    spec: Any
    card: Any
    family: Any
    media: Mapping[str, Any]
    class_name: str


def subject_of(prepared: Any) -> Subject:
    """The Subject of a `generation.Prepared` (anything with its spec, card, family, media, class_name)."""
    return Subject(prepared.spec, prepared.card, prepared.family, prepared.media, prepared.class_name)


#: part of every cache key: bump it when what a simulation measures changes
SIMULATION_VERSION = 2
_MEMO: dict[str, Simulation] = {}
_RUNNING = threading.Lock()
#: replay repeated VAE encoder/decoder calls (tiles, frames); off only to check that replay changes nothing
REPLAY_INNER = True
#: VAEs whose encoder/decoder keep state between chunk calls on their modules (EasyAnimate's Magvit: each causal
#: convolution holds the previous chunk's features), which a replay can't make: their calls all run
STATEFUL_VAES = frozenset({"AutoencoderKLMagvit"})


def simulate(subject: Subject | Any, plan: MemoryPlan | None = None) -> Simulation:
    """The activation memory of `subject`'s pipeline call under `plan`, simulated on fake full-size weights.

    Seconds to minutes on a CPU (docs/benchmarks.md); kept in memory and under `$VIDEOGEN_CACHE/simulations`.
    Raises VideoGenError when the pipeline can't run on fake tensors.
    """
    if plan is None:
        if isinstance(subject, Subject):
            raise TypeError("simulate(subject): a Subject carries no plan; pass plan= (a Prepared carries its own)")
        plan = subject.plan
    return simulate_plans(subject, [plan])[activation_parts(plan)]


def simulate_plans(subject: Subject | Any, plans: list[MemoryPlan]) -> dict[tuple, Simulation]:
    """Simulations for each distinct activation part of `plans` (one fake pipeline per dtype set)."""
    if not isinstance(subject, Subject):
        subject = subject_of(subject)
    out: dict[tuple, Simulation] = {}
    todo: dict[tuple, list[tuple[str, MemoryPlan]]] = {}
    queued: set[tuple] = set()
    for plan in plans:
        parts = activation_parts(plan)
        if parts in out or parts in queued:
            continue
        queued.add(parts)
        key = _key(subject, parts)
        found = _MEMO.get(key) or _read(key)
        if found is not None:
            out[parts] = _MEMO[key] = found
        else:
            todo.setdefault(parts[-1], []).append((key, plan))
    for group in todo.values():
        with _RUNNING:  # one simulation at a time (the dispatch mode and the cast hook are process-wide)
            results = _run(subject, [p for _, p in group])
        for (key, plan), sim in zip(group, results):
            out[activation_parts(plan)] = _MEMO[key] = sim
            _write(key, sim)
    return out


def _key(subject: Subject, parts: tuple) -> str:
    from ..runtime.devices import versions
    from .components import pipeline_components

    spec = subject.spec
    components, _ = pipeline_components(subject.card, subject.class_name)
    media = {k: getattr(v, "shape", None) or getattr(v, "size", None) for k, v in subject.media.items()}
    described = {
        "simulation": SIMULATION_VERSION,
        "versions": versions(),
        "pipeline": subject.class_name,
        "card": subject.card.name,
        "dtypes": dict(subject.card.dtypes),
        "components": {c.name: [c.class_name, c.config] for c in components},
        "spec": {
            k: getattr(spec, k)
            for k in ("task", "height", "width", "num_frames", "steps", "guidance_scale", "negative_prompt")
        },
        "extra": dict(spec.extra or {}),
        "media": media,
        "parts": parts,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=repr).encode()).hexdigest()[:32]


def _folder() -> Path:
    from ..families.tiny import cache_root

    return cache_root() / "simulations"


def _read(key: str) -> Simulation | None:
    path = _folder() / f"{key}.json"
    try:
        data = json.loads(path.read_text())
        phases = {k: PhaseMemory(**v) for k, v in data.pop("phases").items()}
        return Simulation(phases=phases, **data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _write(key: str, sim: Simulation) -> None:
    """Keep a simulation on disk (atomically; a cache that can't be written is only logged)."""
    from ..media.atomic import write_text_atomically

    try:
        write_text_atomically(_folder() / f"{key}.json", json.dumps(dataclasses.asdict(sim)), durable=False)
    except OSError as exc:
        logger.info("simulation not cached: %s", exc)


def _run(subject: Subject, plans: list[MemoryPlan]) -> list[Simulation]:
    """One fake pipeline, one call per plan; components whose options don't change between plans are
    measured once and replayed (their outputs made anew, their activation remembered)."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    from ..loading.pipelines import pipeline_class

    cls = pipeline_class(subject.class_name)
    fake_mode = FakeTensorMode(allow_non_fake_inputs=True)
    pipe = fake_pipeline(subject, cls, plans[0], fake_mode)
    counter = live_bytes()
    phases: dict[str, list[int]] = {}
    variant: list[Any] = [None]
    _instrument(pipe, counter, phases, variant, replay=True)
    results = []
    for plan in plans:
        _set_activation_options(pipe, plan)
        variant[0] = plan.forward_chunking
        try:
            results.append(_measured_call(subject, pipe, plan, counter, phases, fake_mode))
        except Exception as exc:  # noqa: BLE001 - a pipeline that can't run on fake tensors: say which, why
            raise VideoGenError(
                f"could not simulate {subject.class_name} on fake tensors: {type(exc).__name__}: {exc}"
            ) from exc
    return results


def measure_call(subject: Subject | Any, pipe: Any, plan: MemoryPlan) -> Simulation:
    """The same measurement on a real, loaded pipeline (CPU): what the simulation is checked against.

    Every call runs for real (no replay); the wrappers are taken off afterwards.
    """
    if not isinstance(subject, Subject):
        subject = subject_of(subject)
    counter = live_bytes(shadows=False)
    phases: dict[str, list[int]] = {}
    restore = _instrument(pipe, counter, phases, None, replay=False)
    try:
        return _measured_call(subject, pipe, plan, counter, phases, None)
    finally:
        restore()


def _measured_call(
    subject: Subject, pipe: Any, plan: MemoryPlan, counter: Any, phases: dict[str, list[int]], fake_mode: Any
) -> Simulation:
    """One pipeline call under `counter` (and `fake_mode`); the phases merged per component."""
    import torch

    from ..loading.pipelines import call_parameters
    from .apply import plan_call_kwargs

    start = time.perf_counter()
    spec = subject.spec
    media = dict(subject.media)
    if spec.task == "v2v" and "video" in media:
        media["video"] = media["video"][: spec.num_frames]
    params = call_parameters(type(pipe))
    kwargs = subject.family.call_kwargs(spec, subject.card, media, params)
    kwargs.update({k: v for k, v in plan_call_kwargs(plan, params).items() if k not in (spec.extra or {})})
    generator = torch.Generator("cpu").manual_seed(int(spec.seed))
    phases.clear()
    counter.reset()
    pipe.set_progress_bar_config(disable=True)
    _ACTIVE_COUNTER[:] = [counter]
    try:
        fake = fake_mode or contextlib.nullcontext()
        reads = _tensor_reads_shadows() if fake_mode is not None else contextlib.nullcontext()
        with torch.no_grad(), fake, counter, reads, subject.family.call_context(pipe, spec):
            pipe(**kwargs, generator=generator, output_type="pt", return_dict=True)
    finally:
        _ACTIVE_COUNTER.clear()
    merged: dict[str, PhaseMemory] = {}
    for name, (entry, act, calls) in phases.items():
        base = name.split(".")[0]
        old = merged.get(base)
        calls += old.calls if old else 0
        if old is None or entry + act > old.total_bytes:
            merged[base] = PhaseMemory(entry, act, calls)
        else:  # the VAE's encode and decode: the larger one, every call counted
            merged[base] = dataclasses.replace(old, calls=calls)
    return Simulation(merged, counter.peak, round(time.perf_counter() - start, 2), sorted(set(counter.guessed)))


@contextlib.contextmanager
def _tensor_reads_shadows() -> Iterator[None]:
    """`torch.tensor(data)` during a simulated call reads the real values of fake tensors in `data`
    (EasyAnimate: `torch.tensor([t] * batch)` of a timestep); it reads data directly, which a fake tensor
    has none of. Data with a fake tensor of unknown value is left as it is (and fails as before)."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensor
    from torch.utils._pytree import tree_map_only

    original = torch.tensor

    def known(value: Any) -> Any:
        shadow = _shadow(value)
        return value if shadow is None else shadow

    @functools.wraps(original)
    def tensor(data: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(data, (list, tuple)):
            data = tree_map_only(FakeTensor, known, data)
        return original(data, *args, **kwargs)

    torch.tensor = tensor
    try:
        yield
    finally:
        torch.tensor = original


def _set_activation_options(pipe: Any, plan: MemoryPlan) -> None:
    """VAE tiling / slicing and forward chunking as `plan` has them (off where it doesn't)."""
    from .apply import denoisers

    vae = getattr(pipe, "vae", None)
    if vae is not None:
        for flag, on, off in (
            (plan.vae_tiling, "enable_tiling", "disable_tiling"),
            (plan.vae_slicing, "enable_slicing", "disable_slicing"),
        ):
            method = getattr(vae, on if flag else off, None)
            if method is not None:
                method()
    for module in denoisers(pipe).values():
        method = getattr(
            module, "enable_forward_chunking" if plan.forward_chunking else "disable_forward_chunking", None
        )
        if method is not None:
            method()


def fake_pipeline(subject: Subject, cls: Any, plan: MemoryPlan, fake_mode: Any) -> Any:
    """`cls` with full-size components built from their configs as fake tensors in the planned dtypes.

    Tokenizers, scheduler and processors come from the family's tiny model: they set sequence lengths
    and timesteps, not sizes that depend on the checkpoint.
    """
    import torch

    from ..runtime.devices import component_dtype
    from .components import pipeline_components

    card = subject.card
    parts = small_parts(subject, cls)
    components, _ = pipeline_components(card, cls.__name__)
    for comp in components:
        if comp.config is None:
            raise VideoGenError(f"can't simulate {card.name}: the config of {comp.name} is unknown")
        dtype = getattr(torch, component_dtype(card, comp.name, "cuda", plan))
        module = _fake_module(comp, dtype, fake_mode)
        module.to = _rebuild_on_cast(module, comp, fake_mode)
        parts[comp.name] = module
        fit_image_processors(parts, module.config)
    _agree_with_tokenizer(parts)
    for value in parts.values():  # numpy inside: run on real tensors
        if hasattr(value, "preprocess") and type(value).__name__.endswith(("ImageProcessor", "ImageProcessorPil")):
            value.preprocess = _on_real_tensors(value.preprocess)
        if hasattr(value, "set_timesteps"):
            _real_scheduler(value)
    accepted = set(inspect.signature(cls.__init__).parameters)
    return cls(**{k: v for k, v in parts.items() if k in accepted}, **pipeline_config(card, cls))


def _fake_module(comp: Any, dtype: Any, fake_mode: Any) -> Any:
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    from .estimate import build_on_meta

    with unset_fake_temporarily():
        module = build_on_meta(comp).to(dtype).eval()
    with fake_mode:
        return module.to_empty(device="cpu")


def _rebuild_on_cast(module: Any, comp: Any, fake_mode: Any) -> Callable:
    """`module.to(dtype)` for fake weights: PyTorch can't swap a fake parameter in place, so a pipeline
    that casts a component during the call (SVD upcasts its half-precision VAE) gets it rebuilt in the
    new dtype. Device moves stay what they are (everything is on the fake CPU)."""
    import torch

    @functools.wraps(module.to)
    def to(*args: Any, **kwargs: Any) -> Any:
        dtype = kwargs.get("dtype") or next((a for a in args if isinstance(a, torch.dtype)), None)
        current = next(module.parameters()).dtype
        if dtype is None or dtype == current:
            return module
        counter = _ACTIVE_COUNTER[0] if _ACTIVE_COUNTER else None
        if counter is not None:
            counter.paused = True  # weights are the planner's to count, not activations
        try:
            rebuilt = _fake_module(comp, dtype, fake_mode)
        finally:
            if counter is not None:
                counter.paused = False
        for key in ("_parameters", "_buffers", "_modules"):
            setattr(module, key, getattr(rebuilt, key))
        return module

    return to


_ACTIVE_COUNTER: list[Any] = []


def small_parts(subject: Subject, cls: Any) -> dict[str, Any]:
    """Tokenizers, scheduler and processors for `cls`, from the family's tiny model."""
    import torch

    from ..loading.pipelines import load_pipeline

    family = subject.family
    tiny_card = next(
        (c for c in family.cards if c.tiny and any(c.pipeline_class(t, family) == cls.__name__ for t in c.tasks)), None
    )
    if tiny_card is None:
        raise VideoGenError(f"no tiny {family.name} model runs {cls.__name__}: nothing to borrow tokenizers from")
    tiny, _ = load_pipeline(tiny_card, family, cls, {"dtype": torch.float32}, False)
    parts = {k: v for k, v in tiny.components.items() if not isinstance(v, torch.nn.Module)}
    for name, value in parts.items():  # a fresh scheduler: none of the state an earlier call left in a shared one
        if hasattr(value, "set_timesteps") and hasattr(value, "from_config"):
            parts[name] = type(value).from_config(value.config)
    return parts


def fit_image_processors(parts: dict[str, Any], config: Any) -> None:
    """Image processors sized for a full-size encoder of images (the tiny model's are tiny): one whose
    config, or whose vision config (LLaVA), has an `image_size`."""
    vision = getattr(config, "vision_config", None) or config
    if not getattr(vision, "image_size", None):
        return
    size = int(vision.image_size)
    for name, value in list(parts.items()):
        if type(value).__name__.endswith(("ImageProcessor", "ImageProcessorPil")):
            parts[name] = type(value)(size={"height": size, "width": size}, crop_size={"height": size, "width": size})


def _agree_with_tokenizer(parts: dict[str, Any]) -> None:
    """The full-size text encoder's special token ids made those of the borrowed tokenizer: its pad
    token where the stored config names none, and LLaVA's `<image>` token (added to the tokenizer)."""
    tokenizer = parts.get("tokenizer")
    encoder = parts.get("text_encoder")
    if tokenizer is None or encoder is None:
        return
    if not hasattr(encoder.config, "pad_token_id") and getattr(tokenizer, "pad_token_id", None) is not None:
        encoder.config.pad_token_id = tokenizer.pad_token_id
    if hasattr(encoder.config, "image_token_index"):  # LLaVA (HunyuanVideo-I2V): its Llama-3 chat template too
        tokenizer.add_special_tokens(
            {"additional_special_tokens": ["<image>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]}
        )
        encoder.config.image_token_index = tokenizer.convert_tokens_to_ids("<image>")


def _on_real_tensors(method: Callable) -> Callable:
    """Image processors and schedulers' `set_timesteps` go through numpy: run them outside fake mode
    (fake tensor arguments become zeros of their shape; their outputs are real, small tensors)."""

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        import torch
        from torch._subclasses.fake_tensor import FakeTensor, unset_fake_temporarily
        from torch.utils._pytree import tree_map_only

        with unset_fake_temporarily():
            args, kwargs = tree_map_only(
                FakeTensor,
                lambda t: _shadow(t) if _shadow(t) is not None else torch.zeros(t.shape, dtype=t.dtype),
                (args, kwargs),
            )
            return method(*args, **kwargs)

    return run


def _real_scheduler(scheduler: Any) -> Any:
    """A scheduler whose `set_timesteps` runs on real tensors and whose deep copy (SkyReels-V2's
    diffusion forcing copies it per latent frame, LTX-2 for the audio latents) is made outside fake mode
    (a copy of its real tensors inside it fails: storage on the meta device) and set up the same way."""
    import copy

    scheduler.set_timesteps = _on_real_tensors(type(scheduler).set_timesteps.__get__(scheduler))

    def deepcopy(memo: dict) -> Any:
        from torch._subclasses.fake_tensor import unset_fake_temporarily

        mine = {k: vars(scheduler).pop(k) for k in ("set_timesteps", "__deepcopy__")}
        try:
            with unset_fake_temporarily():
                copied = copy.deepcopy(scheduler, memo)
        finally:
            vars(scheduler).update(mine)
        return _real_scheduler(copied)

    scheduler.__deepcopy__ = deepcopy
    return scheduler


def pipeline_config(card: ModelCard, cls: Any) -> dict[str, Any]:
    """The pipeline's own registered settings (Wan 2.2's boundary_ratio, expand_timesteps) for `cls`."""
    from .components import pipeline_settings

    stored = pipeline_settings(card)
    accepted = set(inspect.signature(cls.__init__).parameters)
    return {k: v for k, v in stored.items() if k in accepted}


# ---- counting --------------------------------------------------------------------------------------
#: tensors up to this many elements also carry their real value ("shadow"), computed on the CPU
SHADOW_NUMEL = 1 << 16
#: a constant tensor (one element expanded) takes part in real computations up to this many elements
CONSTANT_NUMEL = 1 << 24
_SHADOW = "_videogen_shadow"


def live_bytes(shadows: bool = True) -> Any:
    """A dispatch mode counting the bytes of the storages alive, and their peak.

    A storage counts from the first op that returns a tensor on it until the last such tensor is gone.
    Tensors that existed before (weights) are not counted. Small tensors (masks, timesteps, indices)
    carry their real value beside the fake one, so what a pipeline reads back from them (`.item()`,
    `nonzero`, a comparison in an `if`) is the real value; only values derived from large tensors are
    guessed (and listed in `guessed`).
    """
    return _live_bytes_class()(shadows)


@functools.cache
def _live_bytes_class() -> type:
    """The dispatch mode's class, made once (torch is imported only when a simulation runs)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class LiveBytes(TorchDispatchMode):
        def __init__(self, shadows: bool) -> None:
            super().__init__()
            self.shadows = shadows  # off on real tensors: they are their own values
            self.current = 0
            self.peak = 0
            self.guessed: list[str] = []
            #: storage key -> [bytes, tensors counted on it]
            self._live: dict[int, list[int]] = {}
            #: id(tensor) -> [a weak reference to it, the key of the storage it was counted on, that entry]
            self._held: dict[int, list[Any]] = {}
            self.paused = False

        def reset(self) -> None:
            """Forget what was counted (tensors still alive from before are not counted)."""
            self.current = 0
            self.peak = 0
            self.guessed = []
            self._live = {}
            self._held = {}

        def _track(self, tensor: Any) -> None:
            """Count `tensor`'s storage from now until the last tensor counted on it is gone. A tensor is
            counted once; one moved to another storage (`set_`, as a tensor's deep copy does) leaves the old
            one, so a freed storage is never mistaken for a new one that reuses its address."""
            if self.paused:
                return
            key = tensor.untyped_storage()._cdata
            held = self._held.get(id(tensor))
            if held is not None and held[0]() is tensor:
                if held[1] == key and self._live.get(key) is held[2]:
                    return  # an in-place op's output: counted already
                self._release(held[1], held[2])
            entry = self._live.get(key)
            if entry is None:
                nbytes = int(tensor.untyped_storage().nbytes())
                entry = self._live[key] = [nbytes, 0]
                self.current += nbytes
                self.peak = max(self.peak, self.current)
            entry[1] += 1
            tid = id(tensor)

            def gone(ref: Any, tid: int = tid) -> None:
                mine = self._held.get(tid)
                if mine is not None and mine[0] is ref:
                    del self._held[tid]
                    self._release(mine[1], mine[2])

            self._held[tid] = [weakref.ref(tensor, gone), key, entry]

        def _release(self, key: int, entry: list[int]) -> None:
            entry[1] -= 1
            if entry[1] == 0 and self._live.get(key) is entry:
                del self._live[key]
                self.current -= entry[0]

        def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
            import torch
            from torch._subclasses.fake_tensor import DataDependentOutputException, DynamicOutputShapeException
            from torch.utils._pytree import tree_map_only

            kwargs = kwargs or {}
            real = _real_values(func, args, kwargs) if self.shadows else None
            try:
                out = func(*args, **kwargs)
            except (DataDependentOutputException, DynamicOutputShapeException):
                if real is not None:
                    out = real if not isinstance(real, torch.Tensor) else torch.empty_like(real)
                    _set_shadows(out, real)
                    tree_map_only(torch.Tensor, self._track, out)
                    return out
                out = _index_by_known(func, args, kwargs) if self.shadows else None
                if out is None:
                    self.guessed.append(str(func))
                    return _guess(func, args)
            if real is not None:
                _set_shadows(out, real)
            elif self.shadows:
                _set_constant_shadow(func, args, out)
            tree_map_only(torch.Tensor, self._track, out)
            return out

    return LiveBytes


def _shadow(value: Any) -> Any:
    """The real value of a tensor argument: itself when real, its shadow when fake (None: unknown)."""
    from torch._subclasses.fake_tensor import FakeTensor

    if isinstance(value, FakeTensor):
        return getattr(value, _SHADOW, None)
    return value


def _real_values(func: Any, args: tuple, kwargs: dict) -> Any:
    """`func` run on the real values of its tensor arguments, when all are small and known; else None.

    A mutating op whose inputs are not all known drops the shadows of what it mutates."""
    import torch
    from torch._subclasses.fake_tensor import unset_fake_temporarily
    from torch.utils._pytree import tree_flatten, tree_map_only

    leaves, _ = tree_flatten((args, kwargs))
    tensors = [x for x in leaves if isinstance(x, torch.Tensor)]
    known = all(_shadow(t) is not None and _elements(_shadow(t)) <= SHADOW_NUMEL for t in tensors)
    # a constant (a large zeros/ones/full: one element expanded) is computed on only up to CONSTANT_NUMEL
    known = known and all(t.numel() <= CONSTANT_NUMEL for t in tensors)
    if not known or not tensors and not _small_factory(func, args, kwargs):
        if func._schema.is_mutable:
            _forget(tensors)
        return None
    try:
        with unset_fake_temporarily():
            real_args, real_kwargs = tree_map_only(torch.Tensor, _shadow, (args, kwargs))
            real_kwargs = {k: (torch.device("cpu") if k == "device" else v) for k, v in real_kwargs.items()}
            out = func(*real_args, **real_kwargs)
            out = tree_map_only(torch.Tensor, _as_constant, out)
    except Exception:  # noqa: BLE001 - a value we can't compute is a value we don't know
        if func._schema.is_mutable:  # e.g. written into a constant's one element: its value is unknown now
            _forget(tensors)
        return None
    outs = [x for x in tree_flatten(out)[0] if isinstance(x, torch.Tensor)]
    return out if all(_elements(x) <= SHADOW_NUMEL for x in outs) else None


def _forget(tensors: list[Any]) -> None:
    """Drop the real values of tensors a mutation changed in ways not followed (and of the tensors they view)."""
    from torch._subclasses.fake_tensor import FakeTensor

    for t in tensors:
        for held in (t, getattr(t, "_base", None)):
            if isinstance(held, FakeTensor) and hasattr(held, _SHADOW):
                delattr(held, _SHADOW)


def _as_constant(value: Any) -> Any:
    """A large real result whose elements are all equal, as that one element expanded (a constant)."""
    if _elements(value) <= SHADOW_NUMEL or value.numel() == 0:
        return value
    first = value.reshape(-1)[0]
    return first.expand(value.shape) if bool((value == first).all()) else value


def _set_constant_shadow(func: Any, args: tuple, out: Any) -> None:
    """The real value of a large zeros / ones / full (or their _like / new_ forms): one element, expanded,
    so a pipeline's test of it (HunyuanVideo 1.5: `torch.all(image_embeds == 0)`) is known, not guessed."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensor, unset_fake_temporarily

    name = func._schema.name.split("::")[-1]
    if not isinstance(out, FakeTensor) or hasattr(out, _SHADOW):
        return
    if name in ("zeros", "zeros_like", "new_zeros"):
        value: Any = 0
    elif name in ("ones", "ones_like", "new_ones"):
        value = 1
    elif name in ("full", "full_like", "new_full"):
        value = args[2 if name == "new_full" else 1] if len(args) > (2 if name == "new_full" else 1) else None
    else:
        return
    if isinstance(value, (bool, int, float)):
        with unset_fake_temporarily():
            setattr(out, _SHADOW, torch.full((), value, dtype=out.dtype).expand(out.shape))


def _index_by_known(func: Any, args: tuple, kwargs: dict) -> Any:
    """`tensor[mask]` on a large tensor with a known mask (HunyuanVideo 1.5's valid text and image tokens):
    the mask as the indices of its true elements, so the result's shape is exact. None: not such an op."""
    import torch
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    if func is not torch.ops.aten.index.Tensor or kwargs or len(args) != 2:
        return None
    indices = []
    for index in args[1]:
        value = None if index is None else _shadow(index)
        if index is not None and value is None:
            return None
        if value is not None and value.dtype in (torch.bool, torch.uint8):
            with unset_fake_temporarily():
                indices.extend(value.bool().nonzero().unbind(1))
        else:
            indices.append(value)
    return func(args[0], indices)


def _elements(tensor: Any) -> int:
    """Elements of the tensor's storage (an expanded view of a small mask is small)."""
    return tensor.untyped_storage().nbytes() // max(tensor.element_size(), 1)


def _small_factory(func: Any, args: tuple, kwargs: dict) -> bool:
    """A tensor-making op without tensor inputs (arange, zeros, full) that makes a small tensor."""
    import math

    name = func._schema.name
    if not name.startswith("aten::") or name.split("::")[1] not in (
        "arange",
        "zeros",
        "ones",
        "full",
        "linspace",
        "scalar_tensor",
        "empty",
        "lift_fresh",
    ):
        return False
    sizes = [a for a in args if isinstance(a, (list, tuple))]
    return not sizes or math.prod(int(x) for x in sizes[0]) <= SHADOW_NUMEL


def _set_shadows(out: Any, real: Any) -> None:
    import torch
    from torch.utils._pytree import tree_flatten

    fakes = [x for x in tree_flatten(out)[0] if isinstance(x, torch.Tensor)]
    reals = [x for x in tree_flatten(real)[0] if isinstance(x, torch.Tensor)]
    if len(fakes) != len(reals):
        return
    for fake, value in zip(fakes, reals):
        if tuple(fake.shape) == tuple(value.shape):
            setattr(fake, _SHADOW, value)


def _guess(func: Any, args: tuple) -> Any:
    """A data-dependent result of a large tensor: 0 / False, or one match for `nonzero`."""
    import torch

    if func is torch.ops.aten.nonzero.default:
        return torch.zeros(1, args[0].dim(), dtype=torch.long, device=args[0].device)
    if func is torch.ops.aten._local_scalar_dense.default:
        dtype = args[0].dtype
        return False if dtype == torch.bool else (0.0 if dtype.is_floating_point else 0)
    raise NotImplementedError(f"can't guess {func}")


def _instrument(
    pipe: Any, counter: Any, phases: dict[str, list[int]], variant: list[Any] | None, replay: bool
) -> Callable[[], None]:
    """Per component call, record the live bytes at entry and the most added during it; returns a
    function that takes the wrappers off again.

    With `replay`, every component but the VAE runs once per input signature (and `variant`, the
    plan's forward chunking), and so do the VAE's encoder and decoder inside a tiled or frame-by-frame
    pass and the denoisers' feed-forward layers (the same in every block, and called once per chunk
    with forward chunking); later calls with the same signature are replayed (see `_measure`). Every denoising step
    allocates the same, so the first call shows the peak; the others would only cost time (seconds
    each at full size, even on fake tensors).
    """
    import torch

    wrapped: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, method: str, label: str | None, holder: list[Any] | None) -> None:
        wrapped.append((owner, method, vars(owner).get(method, _ABSENT)))
        setattr(owner, method, _measure(getattr(owner, method), label, counter, phases if label else None, holder))

    for name, module in pipe.components.items():
        if not isinstance(module, torch.nn.Module):
            continue
        if name == "vae":
            for method in ("encode", "decode"):
                if hasattr(module, method):
                    wrap(module, method, f"vae.{method}", None)
            stateless = type(module).__name__ not in STATEFUL_VAES
            for inner in ("encoder", "decoder") if replay and REPLAY_INNER and stateless else ():
                part = getattr(module, inner, None)
                if isinstance(part, torch.nn.Module):
                    wrap(part, "forward", None, [None])
        else:
            wrap(module, "forward", name, variant if replay else None)
            for part in module.modules() if replay else ():
                if type(part).__name__ == "FeedForward":  # per block, and per chunk with forward chunking
                    wrap(part, "forward", None, [None])

    def restore() -> None:
        for owner, method, before in reversed(wrapped):
            if before is _ABSENT:
                vars(owner).pop(method, None)
            else:
                setattr(owner, method, before)

    return restore


_ABSENT = object()


def _measure(
    original: Callable,
    label: str | None,
    counter: Any,
    phases: dict[str, list[int]] | None,
    variant: list[Any] | None = None,
) -> Callable:
    """`original`, measured; with a `variant` holder, run once per input signature and replayed after.

    A replay makes new empty outputs of the shapes the first run returned, counts the activation the
    first run measured on top of what is alive now, and leaves the list arguments the first run
    changed (a VAE's causal feature cache) as that run left them (new tensors of the same shapes).
    `label`/`phases` None: replay only, record nothing.
    """
    from torch.utils._pytree import tree_flatten, tree_unflatten

    seen: dict[tuple, tuple[Any, list[Any], int, dict[Any, list[Any]]]] = {}

    def lists_of(args: tuple, kwargs: dict) -> dict[Any, list[Any]]:
        named = {**dict(enumerate(args)), **kwargs}
        return {k: v for k, v in named.items() if isinstance(v, list)}

    @functools.wraps(original)
    def measured(*args: Any, **kwargs: Any) -> Any:
        entry = counter.current
        signature = None
        if variant is not None:
            signature = (variant[0], _describe(args), _describe(kwargs))
        if signature is not None and signature in seen:
            spec, metas, activation, lists_after = seen[signature]
            counter.peak = max(counter.peak, counter.current + activation)
            for key, lst in lists_of(args, kwargs).items():
                for i, after in enumerate(lists_after.get(key, ())):
                    if i >= len(lst):
                        lst.append(_make(after))
                    elif _meta(lst[i]) != after:  # one at a time: the old one goes before the new one comes
                        lst[i] = None
                        lst[i] = _make(after)
            out = tree_unflatten([_make(m) for m in metas], spec)
        else:
            outer_peak = counter.peak
            counter.peak = entry
            try:
                out = original(*args, **kwargs)
            finally:
                activation = counter.peak - entry
                counter.peak = max(outer_peak, counter.peak)
            leaves, spec = tree_flatten(out)
            if signature is not None and all(_replayable(x) for x in leaves):
                after = {k: [_meta(x) for x in v] for k, v in lists_of(args, kwargs).items()}
                seen[signature] = (spec, [_meta(x) for x in leaves], activation, after)
        if phases is not None and label is not None:
            record = phases.setdefault(label, [0, 0, 0])
            record[0] = max(record[0], entry)
            record[1] = max(record[1], activation)
            record[2] += 1
        return out

    return measured


def _describe(value: Any) -> Any:
    """A hashable description of call arguments: shapes and dtypes of tensors, positions of Nones."""
    import torch

    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), value.dtype)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__,) + tuple(_describe(v) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple((k, _describe(v)) for k, v in value.items())
    return repr(value)[:64]


def _replayable(value: Any) -> bool:
    """Whether an output leaf can be remembered for a replay: a tensor (kept as its shape) or a plain value.
    Anything else may hold tensors (a text encoder's key/value cache): remembering it would keep them alive
    for the rest of the call, where the real run frees them with the output, so such a call is run again."""
    import torch

    return value is None or isinstance(value, (torch.Tensor, bool, int, float, str, torch.dtype, torch.Size))


@dataclass(frozen=True)
class _Meta:
    """A tensor's shape and dtype, to make a new (fake) one like it."""

    shape: tuple
    dtype: Any


def _meta(value: Any) -> Any:
    import torch

    return _Meta(tuple(value.shape), value.dtype) if isinstance(value, torch.Tensor) else value


def _make(value: Any) -> Any:
    import torch

    return torch.empty(value.shape, dtype=value.dtype) if isinstance(value, _Meta) else value
