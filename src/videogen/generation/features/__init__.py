"""Features that plug into the one generation flow: the memory plan on the pipeline, LoRAs, the scheduler,
the step cache, context parallelism, live previews and
cancellation inside the VAE decode. Each is one module with a `Feature` subclass (base.py)
and one line in `FEATURES`; the flow (generation.run) calls them all at each phase and names none. Imports the
packages below it (memory, parallel, loading, speed ...); only the flow imports it."""

from __future__ import annotations

from .base import Feature
from .cancel import CancelFeature
from .lora import LoraFeature
from .memory_plan import MemoryPlanFeature
from .parallel import ParallelFeature
from .preview import PreviewFeature
from .scheduler import SchedulerFeature
from .step_cache import StepCacheFeature

#: every feature, in the order each phase calls them (the step cache settles before parallelism checks it)
FEATURES: tuple[Feature, ...] = (
    MemoryPlanFeature(),
    LoraFeature(),
    SchedulerFeature(),
    StepCacheFeature(),
    ParallelFeature(),
    PreviewFeature(),
    CancelFeature(),
)

__all__ = ["FEATURES", "Feature"]
