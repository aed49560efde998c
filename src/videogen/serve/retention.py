"""`--keep`: finished jobs (and their files) removed after N days, or the oldest first while the outputs take more
than N GB. Applied at start and every `EVERY_S` seconds while the server runs."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from ..errors import VideoGenError
from .store import Store

logger = logging.getLogger("videogen")
EVERY_S = 600.0
_KEEP = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(d|days?|gb|gib|mb|mib)?\s*$", re.IGNORECASE)
_UNITS = {"gb": 1e9, "gib": 2**30, "mb": 1e6, "mib": 2**20}


@dataclass(frozen=True)
class Keep:
    """How long, or how much, finished jobs are kept (None: forever)."""

    days: float | None = None
    bytes: int | None = None

    def apply(self, store: Store) -> list[str]:
        """Removes what is over the limit; returns the ids removed."""
        removed = []
        if self.days is not None:
            removed += store.expire(time.time() - self.days * 86400)
        if self.bytes is not None:
            removed += store.trim(self.bytes)
        if removed:
            logger.info("retention (%s): removed %d finished job(s)", self, len(removed))
        return removed


def parse_keep(text: str | None) -> Keep:
    """`7` or `7d` (days), `20GB`, `500MB` (the outputs' size); None keeps everything."""
    if text is None:
        return Keep()
    match = _KEEP.match(text)
    if not match:
        raise VideoGenError(f"--keep {text!r}: give days ('7', '7d') or a size of the outputs ('20GB', '500MB')")
    value, unit = float(match[1]), (match[2] or "d").lower()
    if unit in _UNITS:
        return Keep(bytes=int(value * _UNITS[unit]))
    return Keep(days=value)
