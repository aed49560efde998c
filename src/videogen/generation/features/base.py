"""`Feature`: one cross-cutting part of a generation, plugged into the one flow (generation.run).

The flow calls every registered feature at each phase; a feature whose spec field is unset does nothing there.
Each hook has a default that does nothing, so a feature overrides only the phases it takes part in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...generation.flow import Prepared


class Feature:
    """The phases of a generation a feature can take part in, in the order the flow calls them."""

    #: what the feature is called in logs and docs
    name: str = ""

    def check(self, prepared: Prepared) -> Prepared:
        """Before load, pure: refuse what can't work (SpecError) or settle the spec; returns the prepared spec."""
        return prepared

    def check_options(self, prepared: Prepared) -> Prepared:
        """Before load, pure: check what the caller passed to `generate` besides the spec (`prepared.options`,
        e.g. on_preview) that is this feature's; refuse with a SpecError or settle it."""
        return prepared

    def check_before_load(self, prepared: Prepared) -> None:
        """Before load, with the pipeline's classes imported (e.g. building the asked-for scheduler)."""

    def cache_key(self, prepared: Prepared) -> Any:
        """This feature's part of the pipeline cache key: pipelines differing in it are never shared."""
        return None

    def shows_progress(self, prepared: Prepared) -> bool:
        """Whether this process shows a progress bar (e.g. only one rank of a parallel run does)."""
        return True

    def may_retry(self, prepared: Prepared) -> bool:
        """Whether an out-of-memory error may be retried with a more frugal plan."""
        return True

    def before_load(self, prepared: Prepared) -> None:
        """Right before this process loads the pipeline (only when it loads: a cached pipeline skips it)."""

    def after_load(self, pipe: Any, prepared: Prepared) -> None:
        """Right after the load, before the pipeline enters the cache."""

    def prepare_pipeline(self, pipe: Any, prepared: Prepared, state: dict[str, Any]) -> None:
        """Before each call, under the cached pipeline's lock; `state` is kept with the cached pipeline."""

    def call_arguments(self, prepared: Prepared, params: AbstractSet[str]) -> dict[str, Any]:
        """Arguments this feature adds to the pipeline call (the spec's `extra` wins over them)."""
        return {}

    def around_call(self, pipe: Any, prepared: Prepared) -> AbstractContextManager[Any]:
        """Entered around the pipeline call only; what it yields is handed to `record`."""
        return contextlib.nullcontext()

    def record(self, pipe: Any, prepared: Prepared, during: Any) -> dict[str, Any]:
        """What the metadata records of this feature (its keys), after the call."""
        return {}
