"""The catalog: lookup of names, Hub repo ids and local folders → `ModelCard`.

Lookup is exact: a catalog name, a Hub repo id of a card, or the `_class_name` in a pipeline folder's
`model_index.json`. Never substrings, never order. The cards themselves are declared by the families
(`families/<name>.py`); `ModelCard` is `videogen.families.card`'s, re-exported here. docs/models.md is written by
`videogen.catalog.markdown.models_markdown`.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import ModelNotFoundError, SpecError
from ..families.card import ModelCard
from .hub import split_revision

__all__ = ["ModelCard", "all_cards", "card_from_folder", "list_models", "resolve"]


def all_cards() -> list[ModelCard]:
    from ..families import all_families

    return [card for fam in all_families() for card in fam.cards]


def list_models(family: str | None = None, *, include_tiny: bool = True) -> list[ModelCard]:
    """Every catalog entry (optionally of one family), real models first, then the tiny ones."""
    cards = [c for c in all_cards() if family is None or c.family == family]
    if not include_tiny:
        cards = [c for c in cards if not c.tiny]
    return sorted(cards, key=lambda c: (bool(c.tiny), c.family, c.name))


def _by_name() -> dict[str, ModelCard]:
    return {c.name.lower(): c for c in all_cards()}


def _by_repo() -> dict[str, ModelCard]:
    table: dict[str, ModelCard] = {}
    for card in all_cards():
        if card.repo and not card.tiny:
            table.setdefault(card.repo.lower(), card)
    return table


def resolve(model_ref: str | os.PathLike | None, revision: str | None = None) -> ModelCard:
    """The card for a catalog name, a Hub repo id or a local diffusers pipeline folder.

    `revision` (or `model_ref="org/repo@rev"`) pins a Hub branch, tag or commit.
    """
    if revision is not None and (
        not isinstance(revision, str) or not revision.strip() or any(c.isspace() for c in revision)
    ):
        raise SpecError(
            f"revision={revision!r} must be a Hub branch, tag or commit hash (a string without "
            "spaces), e.g. revision='main'",
            field="revision",
        )
    return _resolve_ref(model_ref, revision)


def _pin(card: ModelCard, revision: str | None) -> ModelCard:
    """The card at `revision` (None: as it is); refused where there is no Hub revision to pin."""
    if revision is None:
        return card
    what = (
        "a tiny model built on this machine"
        if card.tiny
        else "a local folder"
        if card.path
        else "assembled from several Hub repos"
        if card.components
        else ""
    )
    if what:
        raise SpecError(
            f"revision={revision!r}: {card.name} is {what} and has no Hub revision to pin; leave revision out",
            field="revision",
        )
    return replace(card, revision=revision)


def _resolve_ref(model_ref: str | os.PathLike | None, revision: str | None) -> ModelCard:
    if (
        model_ref is not None
        and not isinstance(model_ref, (str, os.PathLike))
        or (isinstance(model_ref, os.PathLike) and not isinstance(os.fspath(model_ref), str))
    ):
        raise ModelNotFoundError(
            f"model={model_ref!r} must be a string: a catalog name (e.g. 'wan2.1-t2v-1.3b', or 'tiny-wan' "
            f"offline), a Hub repo id or a local pipeline folder (a str or os.PathLike), not "
            f"{type(model_ref).__name__}; `videogen models` lists the catalog",
            field="model",
        )
    if model_ref is None or str(model_ref).strip() == "":
        raise ModelNotFoundError(
            "model is required: give a catalog name (e.g. model='wan2.1-t2v-1.3b', or 'tiny-wan' to try "
            "videogen offline), a Hub repo id or a local pipeline folder; `videogen models` lists the catalog",
            field="model",
        )
    ref = os.fspath(model_ref)
    card = _by_name().get(ref.lower()) or _by_repo().get(ref.lower())
    if card is not None:
        return _pin(card, revision)
    path = Path(os.path.expanduser(ref))  # Path.expanduser raises for an unknown ~user
    if path.is_dir():
        return _pin(card_from_folder(path), revision)
    name, pinned = split_revision(ref)
    if pinned is not None:
        if revision is not None and revision != pinned:
            raise SpecError(
                f"revision={revision!r} differs from the one in model={ref!r}; give it once", field="revision"
            )
        return _resolve_ref(name, pinned)
    if _looks_like_repo_id(ref):
        return _pin(_card_from_hub(ref, revision), revision)
    raise ModelNotFoundError(_not_found_message(ref), field="model")


def card_from_folder(path: Path) -> ModelCard:
    """A card for a local pipeline folder, from its `model_index.json` and component configs.

    A file that can't be read or parsed is a ModelNotFoundError naming the file and what is wrong.
    """
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise ModelNotFoundError(
            f"model={str(path)!r} is a folder without model_index.json, so it is not a diffusers pipeline; "
            "point model at the folder save_pretrained wrote (the one holding model_index.json)",
            field="model",
        )
    index = _read_json_file(index_file)

    def read_config(component: str) -> dict[str, Any]:
        f = path / component / "config.json"
        return _read_json_file(f) if f.is_file() else {}

    card = _card_from_index(str(path), index, read_config)
    return card.with_path(path)


def _read_json_file(file: Path) -> Any:
    """The parsed JSON of a pipeline folder's file; unreadable or invalid JSON is a ModelNotFoundError."""
    fix = "repair it or save the pipeline again with save_pretrained"
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ModelNotFoundError(
            f"model: {file} is not UTF-8 text ({exc.reason} at byte {exc.start}), so not valid JSON; {fix}",
            field="model",
        ) from None
    except OSError as exc:
        raise ModelNotFoundError(
            f"model: {file} could not be read ({type(exc).__name__}: {exc.strerror or exc}); "
            f"check its permissions, or {fix}",
            field="model",
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelNotFoundError(
            f"model: {file} is not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg}); {fix}", field="model"
        ) from None


def _card_from_hub(repo_id: str, revision: str | None = None) -> ModelCard:
    """A card for a Hub repo outside the catalog, from its model_index.json (local Hub cache when offline)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError

    from .hub import download_hint, unreachable_reason

    offline = unreachable_reason()
    at = f" at revision {revision!r}" if revision else ""

    def fetch(filename: str, subfolder: str | None = None) -> Path:
        return Path(
            hf_hub_download(
                repo_id, filename, subfolder=subfolder, revision=revision, local_files_only=offline is not None
            )
        )

    try:
        index_file = fetch("model_index.json")
    except LocalEntryNotFoundError:
        why = offline or "the Hub did not answer"
        raise ModelNotFoundError(
            f"model={repo_id!r}{at} is not in the catalog nor in the local Hub cache, and the Hub can't be "
            f"used ({why}); {download_hint(repo_id)}",
            field="model",
        ) from None
    except (RepositoryNotFoundError, EntryNotFoundError) as exc:
        raise ModelNotFoundError(
            f"model={repo_id!r}{at}: the Hub has no diffusers pipeline there ({type(exc).__name__}). "
            + _not_found_message(repo_id),
            field="model",
        ) from None
    except Exception as exc:  # revision not found, network errors, gated repos
        raise ModelNotFoundError(
            f"model={repo_id!r}{at} is not in the catalog and its model_index.json could not be fetched "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); check the repo id"
            f"{', the revision' if revision else ''} and HF_TOKEN, or download it and pass the local folder",
            field="model",
        ) from None
    index = _read_json_file(index_file)

    def read_config(component: str) -> Any:
        try:
            path = fetch("config.json", component)
        except Exception:  # no such config, or unreachable: the family falls back to its template
            return {}
        return _read_json_file(path)

    return _card_from_index(repo_id, index, read_config)


#: component names of the video pipelines (model_index.json entries that must be [library, class name])
_COMPONENTS = frozenset(
    {
        "transformer",
        "transformer_2",
        "unet",
        "vae",
        "scheduler",
        "image_encoder",
        "image_processor",
        "feature_extractor",
    }
)


def _card_from_index(ref: str, index: Any, read_config: Callable[[str], Any]) -> ModelCard:
    """The card of a pipeline from its parsed `model_index.json` and a reader of component configs.

    Shared by local folders and Hub repos: a malformed index or config is a ModelNotFoundError that names
    the file and what is wrong, never a TypeError from deep inside a family.
    """
    from ..families import family_for_class

    where = f"{ref.rstrip('/')}/model_index.json"
    if not isinstance(index, Mapping):
        raise ModelNotFoundError(
            f'model={ref!r}: {where} must be a JSON object like {{"_class_name": "WanPipeline", ...}}, '
            f"not {_json_kind(index)}; save the pipeline again with save_pretrained",
            field="model",
        )
    class_name = index.get("_class_name")
    if class_name is None or class_name == "":
        raise ModelNotFoundError(
            f"model={ref!r}: {where} has no _class_name, so the pipeline class is unknown; it must name one, "
            'e.g. "_class_name": "WanPipeline"',
            field="model",
        )
    if not isinstance(class_name, str):
        raise ModelNotFoundError(
            f"model={ref!r}: {where}: _class_name must be a string naming the pipeline class, e.g. "
            f'"WanPipeline", not {_json_kind(class_name)} {class_name!r}',
            field="model",
        )
    for name, value in index.items():
        component = name in _COMPONENTS or name.startswith(("text_encoder", "tokenizer"))
        if name.startswith("_") or not (component or isinstance(value, list)):
            continue  # pipeline settings (boundary_ratio, expand_timesteps, ...) are plain values
        if not isinstance(value, list) or len(value) != 2 or not all(v is None or isinstance(v, str) for v in value):
            raise ModelNotFoundError(
                f"model={ref!r}: {where}: component {name!r} must be [library, class name] (e.g. "
                f'["diffusers", "AutoencoderKLWan"], or [null, null] when absent), not {value!r}',
                field="model",
            )
    family = family_for_class(class_name)
    if family is None:  # no family wraps it: the generic family drives a video pipeline, or refuses it
        from ..families import get_family

        family = get_family("generic")

    def checked_config(component: str) -> dict[str, Any]:
        config = read_config(component)
        if config is None:
            return {}
        if not isinstance(config, Mapping):
            raise ModelNotFoundError(
                f"model={ref!r}: {ref.rstrip('/')}/{component}/config.json must be a JSON object (the "
                f"component's settings), not {_json_kind(config)}; save the pipeline again with save_pretrained",
                field="model",
            )
        return dict(config)

    from ..errors import VideoGenError

    try:
        return family.card_for_pipeline(ref, class_name, index, checked_config)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        if isinstance(exc, VideoGenError):
            raise  # SpecErrors are ValueErrors: already a message for the user
        raise ModelNotFoundError(
            f"model={ref!r}: the component configs of this {class_name} hold values videogen can't read "
            f"({type(exc).__name__}: {exc}); check the config.json files against a working "
            f"{class_name} checkpoint, or save the pipeline again with save_pretrained",
            field="model",
        ) from exc


def _json_kind(value: Any) -> str:
    """What a parsed JSON value is, in JSON's words (for messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


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
