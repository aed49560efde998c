"""Shared set-up for the memory tests: one tiny model per family, its inputs, and its plain run."""

from __future__ import annotations

from typing import Any

import numpy as np
from helpers import image, video

import videogen

_PLAIN: dict[tuple, np.ndarray] = {}


def tiny_per_family() -> list[Any]:
    """The first tiny card of every family in the catalog (families added later are picked up)."""
    cards: dict[str, Any] = {}
    for card in videogen.list_models():
        if card.tiny and card.family not in cards and set(card.tasks) & {"t2v", "i2v", "v2v", "flf2v"}:
            cards[card.family] = card
    return list(cards.values())


FAMILY_CARDS = tiny_per_family()
FAMILY_IDS = [c.family for c in FAMILY_CARDS]


def fields_for(card: Any, **extra: Any) -> dict[str, Any]:
    """A generate() call for `card`'s first task at its tiny default size."""
    from videogen.families import get_family

    task = next(t for t in card.tasks if t in ("t2v", "i2v", "flf2v", "v2v"))
    fields: dict[str, Any] = {"model": card.name, "seed": 5, "task": task, "progress": False}
    if get_family(card.family).accepts_prompt:
        fields["prompt"] = "a ferret in a stream"
    if task in ("i2v", "flf2v"):
        fields["image"] = image(card.height, card.width)
    if task == "flf2v":
        fields["last_image"] = image(card.height, card.width, seed=1)
    if task == "v2v":
        fields["video"] = video(card.num_frames, card.height, card.width)
    fields.update(extra)
    return fields


def generate(card: Any, memory: Any = "none", **extra: Any) -> Any:
    return videogen.generate(**fields_for(card, memory=memory, **extra))


def plain_frames(card: Any, **extra: Any) -> np.ndarray:
    """Frames of the plain run (memory='none'), computed once per card and extra fields."""
    key = (card.name, tuple(sorted((k, repr(v)) for k, v in extra.items())))
    if key not in _PLAIN:
        _PLAIN[key] = generate(card, "none", **extra).frames
    return _PLAIN[key]


def frame_diff(a: np.ndarray, b: np.ndarray) -> tuple[int, float]:
    """(max, mean) absolute difference in 8-bit levels."""
    assert a.shape == b.shape, (a.shape, b.shape)
    d = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return int(d.max()), float(d.mean())


def cached_pipeline(card: Any) -> Any:
    """The pipeline object the last generate() of `card` ran (from the pipeline cache)."""
    from videogen.loading.pipelines import CACHE

    for key in reversed(CACHE.keys()):
        if key[0] == card.name:
            entry = CACHE._entries[key]
            return next(iter(entry.pipelines.values()))
    raise AssertionError(f"{card.name} is not in the pipeline cache")
