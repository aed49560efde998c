"""Loading pipelines (from the Hub, local folders or the built tiny models) and the pipeline cache."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelNotFoundError, VideoGenError

if TYPE_CHECKING:
    from ..catalog.lookup import ModelCard
    from ..families.base import Family

logger = logging.getLogger("videogen")


def pipeline_class(name: str) -> Any:
    """The diffusers pipeline class called `name` (first import under the process-wide load lock).

    Any: the class is looked up by name at run time (and diffusers is not followed by the type check)."""
    from ..runtime.lock import diffusers_attr

    return diffusers_attr(name)


def call_parameters(cls: type) -> set[str]:
    import inspect

    return set(inspect.signature(cls.__call__).parameters) - {"self"}


def locate(card: ModelCard, family: Family) -> tuple[ModelCard, str | None]:
    """The card pointed at a local folder holding the weights, and the revision it is at.

    Tiny models are built on first use; Hub repos are downloaded (or found in the Hub cache) by
    diffusers. Cards assembled from several repos are left to the family's `load`.
    """
    if card.tiny:
        from ..testing import tiny_folder

        folder = tiny_folder(card.family, card.tiny)
        return card.with_path(folder), f"tiny:{folder.name}"
    if card.path:
        return card, None
    if card.components:
        return card, card.revision
    from diffusers import DiffusionPipeline

    from ..catalog.hub import download_hint, unreachable_reason

    offline = unreachable_reason()
    at = f" at revision {card.revision!r}" if card.revision else ""
    try:
        folder = DiffusionPipeline.download(
            card.repo,
            revision=card.revision,
            variant=card.variant,
            use_safetensors=True,
            local_files_only=offline is not None,
        )
    except Exception as exc:
        if offline is not None:
            raise ModelNotFoundError(
                f"model={card.name!r}: {card.repo}{at} is not in the local Hub cache and the Hub can't be "
                f"used ({offline}); {download_hint(card.repo or card.name)}",
                field="model",
            ) from None
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise ModelNotFoundError(
            f"model={card.name!r}: could not get {card.repo}{at} from the Hub ({type(exc).__name__}: "
            f"{first_line}). Check the network, the revision and HF_TOKEN (gated models need an accepted "
            "licence), or download the repo and pass its local folder as model",
            field="model",
        ) from None
    match = re.search(r"snapshots/([0-9a-f]{40})", str(folder))
    return card.with_path(folder), (match.group(1) if match else card.revision)


@dataclass
class CacheEntry:
    """A loaded model: its pipelines by class (sharing components), a lock serialising calls."""

    key: Hashable
    base: Any
    revision: str | None
    load_seconds: float
    lock: threading.RLock = field(default_factory=threading.RLock)
    pipelines: dict[str, Any] = field(default_factory=dict)
    #: state applied after load (memory plan, LoRAs), owned by the modules that apply it
    state: dict[str, Any] = field(default_factory=dict)
    #: the planner's figure for its weights (what the cache's memory bound counts); None: unknown
    weight_bytes: int | None = None

    def pipeline(self, cls: Any) -> Any:
        """The pipeline of class `cls` over this entry's components (from_pipe: no reload)."""
        name = cls.__name__
        if name not in self.pipelines:
            if type(self.base) is cls:
                self.pipelines[name] = self.base
            else:
                from ..runtime.lock import LOAD_LOCK

                with LOAD_LOCK:
                    self.pipelines[name] = cls.from_pipe(self.base)
        return self.pipelines[name]


#: the cache's memory bound: GiB ("48", "48GiB") or a share of this machine's memory ("75%"); docs/embedding.md
CACHE_MEMORY_ENV = "VIDEOGEN_CACHE_MEMORY"
DEFAULT_CACHE_MEMORY = "75%"


def machine_memory_bytes() -> int:
    """The memory cached weights can sit in: RAM, plus the GPU's memory where CUDA is in use."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    import sys

    torch = sys.modules.get("torch")  # only when already imported: a cache is never bounded before a load
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        total += torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
    return int(total)


def cache_memory_bytes(value: str | None = None) -> int:
    """The most bytes of weights the cached pipelines may hold together (`VIDEOGEN_CACHE_MEMORY`)."""
    text = (value if value is not None else os.environ.get(CACHE_MEMORY_ENV, "") or DEFAULT_CACHE_MEMORY).strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(%|gib|gb|g)?", text.lower())
    if match is None:
        raise VideoGenError(
            f"{CACHE_MEMORY_ENV}={text!r}: give GiB (e.g. 48) or a share of this machine's memory (e.g. 75%)"
        )
    number, unit = float(match.group(1)), match.group(2)
    if unit == "%":
        return int(machine_memory_bytes() * number / 100)
    return int(number * 2**30)


class PipelineCache:
    """A least-recently-used cache of loaded pipelines, safe to use from several threads, bounded twice: by
    memory (the planner's figure for each entry's weights, against `VIDEOGEN_CACHE_MEMORY`, default 75 % of
    RAM plus GPU memory) and by count (`VIDEOGEN_CACHE_SIZE`, default 2). Room is made before a load: the
    least recently used entries go first; an entry bigger than the whole budget is still loaded, alone."""

    def __init__(self, max_entries: int | None = None, max_bytes: int | None = None):
        self.max_entries = max_entries or int(os.environ.get("VIDEOGEN_CACHE_SIZE", "2"))
        self._max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, CacheEntry] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Hashable, threading.Lock] = {}
        self.loads = 0
        self.evictions = 0

    @property
    def max_bytes(self) -> int:
        """The memory bound in bytes (read from the environment when not given)."""
        return self._max_bytes if self._max_bytes is not None else cache_memory_bytes()

    def held_bytes(self) -> int:
        """The weights the cached entries hold together, by the planner's figures (unknown counts 0)."""
        with self._lock:
            return sum(e.weight_bytes or 0 for e in self._entries.values())

    def get(
        self, key: Hashable, loader: Callable[[], tuple[Any, str | None]], weight_bytes: int | None = None
    ) -> CacheEntry:
        """The entry for `key`, loading it once (concurrent callers for one key wait for that load).

        `weight_bytes` (the planner's figure for the weights it loads) makes room before a load: least
        recently used entries are dropped until it fits beside the others. Loads of different keys run one at
        a time, under the process-wide `LOAD_LOCK` (loading patches torch process-wide); hits don't wait for a
        load in progress.
        """
        from ..runtime.lock import LOAD_LOCK

        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
                    return entry
            with LOAD_LOCK:
                self._make_room(weight_bytes or 0, slots=1)
                start = time.perf_counter()
                base, revision = loader()
            entry = CacheEntry(
                key=key,
                base=base,
                revision=revision,
                load_seconds=time.perf_counter() - start,
                weight_bytes=weight_bytes,
            )
            with self._lock:
                self.loads += 1
                self._entries[key] = entry
                self._loading.pop(key, None)
            self._make_room(0, slots=0)
            return entry

    def _make_room(self, incoming: int, slots: int) -> None:
        """Drop least recently used entries until `slots` more entries and `incoming` more bytes fit."""
        budget = self.max_bytes
        dropped = []
        with self._lock:
            while self._entries and (
                len(self._entries) + slots > self.max_entries
                or (incoming and sum(e.weight_bytes or 0 for e in self._entries.values()) + incoming > budget)
            ):
                old_key, old = self._entries.popitem(last=False)
                self.evictions += 1
                dropped.append(old)
                logger.info("pipeline cache: evicted %s (%s bytes of weights)", old_key, old.weight_bytes)
        if dropped and incoming:  # what they held is freed before the next load takes memory
            del dropped
            from ..runtime.devices import free_memory

            free_memory()

    def evict(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
        from ..runtime.devices import free_memory

        free_memory()

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._entries)

    def peek(self, key: Hashable) -> CacheEntry | None:
        """The entry for `key` if it is loaded (no load, no change to the order)."""
        with self._lock:
            return self._entries.get(key)


CACHE = PipelineCache()


def clear_cache() -> None:
    """Drop every pipeline this process keeps loaded (the pipeline cache) and free the memory they held.

    Files on disk stay: tiny models, MagCache ratios, the Hub cache."""
    CACHE.clear()


def _holds_variant(source: str, variant: str) -> bool:
    """A folder of `*.<variant>.safetensors` files loads only with `variant=` (locate downloads just those)."""
    folder = Path(source)
    return not folder.is_dir() or any(folder.glob(f"*/*.{variant}.*"))


@contextlib.contextmanager
def loading_bars(show: bool) -> Iterator[None]:
    """Hide diffusers' and transformers' loading progress bars while loading when `show` is False."""
    if show:
        yield
        return
    import diffusers
    import transformers

    d_log, t_log = diffusers.utils.logging, transformers.utils.logging
    d_was, t_was = d_log.is_progress_bar_enabled(), t_log.is_progress_bar_enabled()
    d_log.disable_progress_bar()
    t_log.disable_progress_bar()
    try:
        yield
    finally:
        if d_was:
            d_log.enable_progress_bar()
        if t_was:
            t_log.enable_progress_bar()


def load_pipeline(
    card: ModelCard, family: Family, cls: Any, load_kwargs: dict[str, Any], progress: bool = True
) -> tuple[Any, str | None]:
    """Locate the weights and load `cls` from them. Loading errors become VideoGenError."""
    with loading_bars(progress):
        located, revision = locate(card, family)
    logger.info("loading %s (%s) from %s", card.name, cls.__name__, located.source)
    kwargs = {"use_safetensors": True, **load_kwargs}
    if card.variant and "variant" not in kwargs and _holds_variant(located.source, card.variant):
        kwargs["variant"] = card.variant
    offline = None
    if located.components and not located.tiny:  # assembled from Hub repos by the family's load
        from ..catalog.hub import unreachable_reason

        offline = unreachable_reason()
        if offline is not None:
            kwargs["local_files_only"] = True
    from ..runtime.cancel import checkpoint

    checkpoint(f"before loading {card.name}")
    try:
        with loading_bars(progress), _cancellable_components():
            pipe = family.load(located, cls, kwargs)
    except VideoGenError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        if offline is not None:
            from ..catalog.hub import download_hint

            repos = sorted({repo for repo, _ in located.components.values()})
            raise ModelNotFoundError(
                f"model={card.name!r}: its parts ({', '.join(repos)}) are not all in the local Hub cache and "
                f"the Hub can't be used ({offline}); {download_hint(repos[0])} (each of them)",
                field="model",
            ) from None
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise VideoGenError(
            f"model={card.name!r}: loading {cls.__name__} from {located.source} failed "
            f"({type(exc).__name__}: {first_line})"
        ) from exc
    return pipe, revision  # the flow checks the token again right after: a finished load stays cached


@contextlib.contextmanager
def _cancellable_components() -> Iterator[None]:
    """During one load (under LOAD_LOCK: loads run one at a time), check the generation's cancel token before
    each component `DiffusionPipeline.from_pretrained` loads (diffusers loads them one by one through
    `load_sub_model`). Nothing is patched when the generation has no token."""
    from ..runtime.cancel import checkpoint, current

    if current() is None:
        yield
        return
    from diffusers.pipelines import pipeline_utils

    original = pipeline_utils.load_sub_model

    def checked(*args: Any, **kwargs: Any) -> Any:
        checkpoint(f"while loading (before {kwargs.get('name', 'a component')})")
        return original(*args, **kwargs)

    pipeline_utils.load_sub_model = checked
    try:
        yield
    finally:
        pipeline_utils.load_sub_model = original
