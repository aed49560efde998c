"""Model cards and the catalog: names, Hub repo ids and local folders → `ModelCard`.

Lookup is exact: a catalog name, a Hub repo id of a card, or the `_class_name` in a pipeline folder's
`model_index.json`. Never substrings, never order.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ModelNotFoundError

if TYPE_CHECKING:
    from .families.base import Family


@dataclass(frozen=True)
class ModelCard:
    """What videogen knows about one checkpoint: where it lives, what it does, its defaults and rules."""

    name: str
    family: str
    repo: str | None
    tasks: tuple[str, ...]
    height: int
    width: int
    num_frames: int
    fps: int
    steps: int
    guidance_scale: float
    #: num_frames must be `step*k + offset` (e.g. (4, 1) for 4k+1); None: any count.
    frame_rule: tuple[int, int] | None = (4, 1)
    #: height and width must be multiples of this.
    size_multiple: int = 16
    #: when not empty, the only (height, width) pairs the checkpoint runs at.
    sizes: tuple[tuple[int, int], ...] = ()
    max_frames: int | None = None
    #: component → dtype name on a GPU ("default" for the rest). On a CPU everything runs in float32.
    dtypes: Mapping[str, str] = field(default_factory=lambda: {"default": "bfloat16"})
    #: keyword arguments the checkpoint needs at call time (e.g. FramePack's sampling_type).
    call_defaults: Mapping[str, Any] = field(default_factory=dict)
    #: task → pipeline class name, where the card differs from its family.
    pipelines: Mapping[str, str] = field(default_factory=dict)
    #: component → (repo or folder, subfolder) for models assembled from several repos.
    components: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    revision: str | None = None
    variant: str | None = None
    #: a local pipeline folder (unknown local models, built tiny models).
    path: str | None = None
    #: key of the tiny model the family builds for this card (tiny-* entries).
    tiny: str | None = None
    #: key of the stored full-size architecture config (memory planning, benchmarks).
    arch: str | None = None
    description: str = ""

    @property
    def source(self) -> str:
        """Where `from_pretrained` loads from: a local folder or a Hub repo id."""
        return self.path or self.repo or self.name

    def pipeline_class(self, task: str, family: Family) -> str:
        return self.pipelines.get(task) or family.pipelines[task]

    def with_path(self, path: str | os.PathLike) -> ModelCard:
        return replace(self, path=str(path))


def all_cards() -> list[ModelCard]:
    from .families import all_families

    return [card for fam in all_families() for card in fam.cards]


def list_models(family: str | None = None, *, include_tiny: bool = True) -> list[ModelCard]:
    """Every catalog entry (optionally of one family), real models first, then the tiny ones."""
    cards = [c for c in all_cards() if family is None or c.family == family]
    if not include_tiny:
        cards = [c for c in cards if not c.tiny]
    return sorted(cards, key=lambda c: (bool(c.tiny), c.family, c.name))


def models_markdown() -> str:
    """docs/models.md, generated from the catalog (`videogen models --markdown`)."""
    from .families import all_families

    lines = ["# Models", "",
             "Generated from the catalog by `videogen models --markdown > docs/models.md`; a test keeps it in sync.",
             "Sizes are width x height; frames and size rules are checked before any weight loads.", ""]
    for fam in all_families():
        lines += [f"## {fam.name}", "",
                  "| name | tasks | Hub repo | default size | frames | fps | steps | guidance | rules |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for c in sorted(fam.cards, key=lambda c: (bool(c.tiny), c.name)):
            rules = []
            if c.frame_rule:
                step, offset = c.frame_rule
                rules.append(f"frames {step}k+{offset}" if offset else f"frames multiple of {step}")
            if c.max_frames:
                rules.append(f"at most {c.max_frames} frames")
            rules.append("sizes " + ", ".join(f"{w}x{h}" for h, w in c.sizes) if c.sizes
                         else f"multiples of {c.size_multiple}")
            repo = c.repo or ("built offline (tiny)" if c.tiny else "")
            if c.components:
                repo = " + ".join(sorted({r for r, _ in c.components.values()} | ({c.repo} if c.repo else set())))
            lines.append(f"| `{c.name}` | {', '.join(c.tasks)} | {repo} | {c.width}x{c.height} | {c.num_frames} "
                         f"| {c.fps} | {c.steps} | {c.guidance_scale:g} | {'; '.join(rules)} |")
        lines.append("")
    return "\n".join(lines)


def _by_name() -> dict[str, ModelCard]:
    return {c.name.lower(): c for c in all_cards()}


def _by_repo() -> dict[str, ModelCard]:
    table: dict[str, ModelCard] = {}
    for card in all_cards():
        if card.repo and not card.tiny:
            table.setdefault(card.repo.lower(), card)
    return table


def resolve(model_ref: str | os.PathLike | None) -> ModelCard:
    """The card for a catalog name, a Hub repo id or a local diffusers pipeline folder."""
    if model_ref is None or str(model_ref).strip() == "":
        raise ModelNotFoundError(
            "model is required: give a catalog name (e.g. model='wan2.1-t2v-1.3b', or 'tiny-wan' to try "
            "videogen offline), a Hub repo id or a local pipeline folder; `videogen models` lists the catalog",
            field="model",
        )
    ref = os.fspath(model_ref)
    card = _by_name().get(ref.lower())
    if card is not None:
        return card
    card = _by_repo().get(ref.lower())
    if card is not None:
        return card
    path = Path(ref).expanduser()
    if path.is_dir():
        return card_from_folder(path)
    if _looks_like_repo_id(ref):
        return _card_from_hub(ref)
    raise ModelNotFoundError(_not_found_message(ref), field="model")


def card_from_folder(path: Path) -> ModelCard:
    """A card for a local pipeline folder, from its `model_index.json` and component configs."""
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise ModelNotFoundError(
            f"model={str(path)!r} is a folder without model_index.json, so it is not a diffusers pipeline; "
            "point model at the folder save_pretrained wrote (the one holding model_index.json)",
            field="model",
        )
    index = json.loads(index_file.read_text())

    def read_config(component: str) -> dict[str, Any]:
        for name in ("config.json",):
            f = path / component / name
            if f.is_file():
                return json.loads(f.read_text())
        return {}

    card = _card_from_index(str(path), index, read_config)
    return card.with_path(path)


def _card_from_hub(repo_id: str) -> ModelCard:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        index = json.loads(Path(hf_hub_download(repo_id, "model_index.json")).read_text())
    except LocalEntryNotFoundError:
        raise ModelNotFoundError(
            f"model={repo_id!r} is not in the catalog, is not in the local Hub cache and the Hub can't be "
            "reached (offline); connect, or download the repo and pass its local folder as model",
            field="model",
        ) from None
    except (RepositoryNotFoundError, EntryNotFoundError) as exc:
        raise ModelNotFoundError(
            f"model={repo_id!r}: the Hub has no diffusers pipeline there ({type(exc).__name__}). "
            + _not_found_message(repo_id),
            field="model",
        ) from None
    except Exception as exc:  # offline, no cache, network errors
        raise ModelNotFoundError(
            f"model={repo_id!r} is not in the catalog and its model_index.json could not be fetched "
            f"({type(exc).__name__}: {exc}); check the repo id and your network, or download it and pass "
            "the local folder",
            field="model",
        ) from None

    def read_config(component: str) -> dict[str, Any]:
        try:
            return json.loads(Path(hf_hub_download(repo_id, "config.json", subfolder=component)).read_text())
        except Exception:
            return {}

    return _card_from_index(repo_id, index, read_config)


def _card_from_index(ref: str, index: Mapping[str, Any], read_config: Callable[[str], dict]) -> ModelCard:
    from .families import family_for_class

    class_name = index.get("_class_name", "")
    family = family_for_class(class_name)
    if family is None:
        from .families import known_pipeline_classes

        raise ModelNotFoundError(
            f"model={ref!r} is a {class_name or 'unnamed'} pipeline, which videogen does not drive; "
            f"supported pipelines: {', '.join(sorted(known_pipeline_classes()))}",
            field="model",
        )
    return family.card_for_pipeline(ref, class_name, index, read_config)


def _looks_like_repo_id(ref: str) -> bool:
    parts = ref.split("/")
    return len(parts) == 2 and all(parts) and not ref.startswith((".", "/", "~")) and " " not in ref


def _not_found_message(ref: str) -> str:
    names = sorted(_by_name())
    close = difflib.get_close_matches(ref.lower(), names, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return (
        f"model={ref!r} is not a catalog name, a local pipeline folder or a Hub repo id; {hint}"
        "`videogen models` lists the catalog (e.g. 'wan2.1-t2v-1.3b', or 'tiny-wan' offline)"
    )
