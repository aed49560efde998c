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

    from ..cards.hub import download_hint, unreachable_reason

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


class PipelineCache:
    """A bounded, least-recently-used cache of loaded pipelines, safe to use from several threads."""

    def __init__(self, max_entries: int | None = None):
        self.max_entries = max_entries or int(os.environ.get("VIDEOGEN_CACHE_SIZE", "2"))
        self._entries: OrderedDict[Hashable, CacheEntry] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Hashable, threading.Lock] = {}
        self.loads = 0

    def get(self, key: Hashable, loader: Callable[[], tuple[Any, str | None]]) -> CacheEntry:
        """The entry for `key`, loading it once (concurrent callers for one key wait for that load).

        Loads of different keys run one at a time, under the process-wide `imports.LOAD_LOCK`
        (loading patches torch process-wide); hits don't wait for a load in progress.
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
                start = time.perf_counter()
                base, revision = loader()
            entry = CacheEntry(key=key, base=base, revision=revision, load_seconds=time.perf_counter() - start)
            with self._lock:
                self.loads += 1
                self._entries[key] = entry
                self._loading.pop(key, None)
                while len(self._entries) > self.max_entries:
                    old_key, _ = self._entries.popitem(last=False)
                    logger.info("pipeline cache: evicted %s", old_key)
            return entry

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
        from ..cards.hub import unreachable_reason

        offline = unreachable_reason()
        if offline is not None:
            kwargs["local_files_only"] = True
    try:
        with loading_bars(progress):
            pipe = family.load(located, cls, kwargs)
    except VideoGenError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        if offline is not None:
            from ..cards.hub import download_hint

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
    return pipe, revision
