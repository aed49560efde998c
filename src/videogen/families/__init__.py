"""The family registry: one line per family.

Adding a family = one module under `families/` (its `Family` subclass, its cards, `FAMILY = <Subclass>(CARDS)`)
+ one line here (+ `configs/<arch>.json` for its real cards). Modules are imported on first use, by name.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Family

FAMILY_MODULES: dict[str, str] = {
    "wan": "videogen.families.wan",
    "ltx": "videogen.families.ltx",
    "ltx2": "videogen.families.ltx2",
    "cogvideox": "videogen.families.cogvideox",
    "hunyuanvideo": "videogen.families.hunyuanvideo",
    "framepack": "videogen.families.framepack",
    "modelscope": "videogen.families.modelscope",
    "i2vgen_xl": "videogen.families.i2vgen_xl",
    "svd": "videogen.families.svd",
    "hunyuanvideo15": "videogen.families.hunyuanvideo15",
    "kandinsky5": "videogen.families.kandinsky5",
    "skyreels_v2": "videogen.families.skyreels_v2",
    "wan_vace": "videogen.families.wan_vace",
    "wan_animate": "videogen.families.wan_animate",
    "mochi": "videogen.families.mochi",
    "sana_video": "videogen.families.sana_video",
    "easyanimate": "videogen.families.easyanimate",
    "allegro": "videogen.families.allegro",
    "animatediff": "videogen.families.animatediff",
    "helios": "videogen.families.helios",
    "latte": "videogen.families.latte",
}
#: the fallback for a video pipeline no family above wraps: `catalog.lookup` turns to it only when
#: `family_for_class` finds none, so a wrapped class always goes to its family. Not in `all_families()` (no cards).
GENERIC_MODULE = "videogen.families.generic"


def get_family(name: str) -> Family:
    """The family object registered under `name`."""
    return _load(name)


@cache
def _load(name: str) -> Family:
    if name == "generic":
        return importlib.import_module(GENERIC_MODULE).FAMILY
    if name not in FAMILY_MODULES:
        from ..errors import SpecError

        raise SpecError(f"family={name!r} is not a videogen family; known: {', '.join(FAMILY_MODULES)}", field="family")
    return importlib.import_module(FAMILY_MODULES[name]).FAMILY


def all_families() -> list[Family]:
    return [_load(name) for name in FAMILY_MODULES]


def family_for_class(class_name: str) -> Family | None:
    """The family that drives a diffusers pipeline class (exact name match)."""
    for fam in all_families():
        if class_name in fam.pipeline_classes():
            return fam
    return None


def known_pipeline_classes() -> set[str]:
    return {cls for fam in all_families() for cls in fam.pipeline_classes()}
