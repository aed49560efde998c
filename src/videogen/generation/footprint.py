"""What a cached pipeline's weights take, by the memory planner's figures: the number the pipeline cache's
memory bound counts (loading/pipelines.py), known before anything loads."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .flow import Prepared

logger = logging.getLogger("videogen")


def weight_bytes(p: Prepared) -> int | None:
    """The bytes of every component's weights as the prepared spec loads them (dtype, quantization, layerwise
    casting of its plan), wherever they sit (GPU or RAM). None when a component's size is unknown."""
    from ..memory.components import pipeline_components
    from ..memory.estimate import module_stats
    from ..memory.estimate import weight_bytes as component_bytes
    from ..runtime.devices import component_dtype

    try:
        components, _ = pipeline_components(p.card, p.class_name)
        total = 0
        for comp in components:
            stats = module_stats(comp)
            if stats is None:
                return None
            dtype = component_dtype(p.card, comp.name, p.device, p.plan)
            total += component_bytes(stats, dtype, comp.name, p.plan)
        return total
    except Exception as exc:  # a figure the planner can't give only leaves the count bound in charge
        logger.debug("no weight figure for %s: %s", p.card.name, exc)
        return None
