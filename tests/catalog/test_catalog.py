"""Catalog: names, repo ids, local folders recognised by model_index.json, every card well formed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import videogen
from videogen.catalog.lookup import list_models, resolve
from videogen.families import all_families, get_family
from videogen.testing import tiny_pipeline


def test_every_card_is_well_formed() -> None:
    names = [c.name for c in list_models()]
    assert len(names) == len(set(names)), "duplicate catalog names"
    for card in list_models():
        family = get_family(card.family)
        assert card.tasks, card.name
        for task in card.tasks:
            assert card.pipeline_class(task, family), (card.name, task)
        assert card.height % card.size_multiple == 0 or card.sizes, card.name
        assert card.width % card.size_multiple == 0 or card.sizes, card.name
        if card.frame_rule:
            step, offset = card.frame_rule
            assert (card.num_frames - offset) % step == 0, card.name
        assert bool(card.tiny) != bool(card.repo or card.components), card.name


def test_every_family_has_a_tiny_model_per_task() -> None:
    for family in all_families():
        tasks = {t for c in family.cards if not c.tiny for t in c.tasks}
        tiny_tasks = {t for c in family.cards if c.tiny for t in c.tasks}
        assert tasks <= tiny_tasks, (family.name, tasks - tiny_tasks)


def test_resolve_by_name_is_case_insensitive_and_by_repo_id() -> None:
    assert resolve("WAN2.1-T2V-1.3B").name == "wan2.1-t2v-1.3b"
    assert resolve("Wan-AI/Wan2.1-T2V-1.3B-Diffusers").name == "wan2.1-t2v-1.3b"


def test_local_folder_outside_the_catalog_gets_its_familys_rules(tmp_path: Path) -> None:
    folder = tmp_path / "my-wan"
    shutil.copytree(tiny_pipeline("wan", "t2v"), folder)
    card = resolve(str(folder))
    assert card.family == "wan" and card.path == str(folder)
    assert card.frame_rule == (4, 1) and card.size_multiple == 16
    # the TI2V layout (VAE ×16) is recognised from its configs: multiples of 32
    ti2v = tmp_path / "my-ti2v"
    shutil.copytree(videogen.testing.tiny_folder("wan", "ti2v"), ti2v)
    assert resolve(str(ti2v)).size_multiple == 32
    # and generates through the same path
    result = videogen.generate(
        model=str(folder), prompt="a", height=32, width=32, num_frames=5, steps=1, progress=False
    )
    assert result.frames.shape == (5, 32, 32, 3)


def test_folder_without_model_index_or_with_an_unknown_pipeline(tmp_path: Path) -> None:
    with pytest.raises(videogen.ModelNotFoundError, match="model_index.json"):
        resolve(str(tmp_path))
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(videogen.SpecError, match="StableDiffusionPipeline.*supported pipelines"):
        resolve(str(tmp_path))


def test_unknown_repo_id_offline_is_a_clear_error() -> None:
    with pytest.raises(videogen.ModelNotFoundError, match="not in the catalog"):
        resolve("someone/not-a-model")


def test_docs_models_md_is_in_sync_with_the_catalog(capsys) -> None:
    from videogen.catalog.markdown import models_markdown
    from videogen.cli.command import main

    docs = Path(__file__).parents[2] / "docs" / "models.md"
    assert docs.read_text() == models_markdown() + "\n", "run: videogen models --markdown > docs/models.md"
    assert main(["models", "--markdown"]) == 0
    assert capsys.readouterr().out == docs.read_text()


def test_a_family_builds_its_cards_from_its_defaults() -> None:
    """`Family.card`: the family's card_defaults, then layers, then tiny_defaults for tiny cards, then fields."""
    from videogen.families.cogvideox import V10, CogVideoXFamily

    real = CogVideoXFamily.card("x", "org/x", ["t2v"], V10, steps=7)
    assert (real.family, real.tasks, real.height, real.steps, real.guidance_scale) == (
        "cogvideox",
        ("t2v",),
        480,
        7,
        6.0,
    )
    tiny = CogVideoXFamily.card("tiny-x", None, ("t2v",), V10, tiny="t2v", num_frames=9)
    assert (tiny.height, tiny.sizes, tiny.num_frames, tiny.steps) == (16, ((16, 16),), 9, 2)
    assert tiny.call_defaults == {"max_sequence_length": 16}
    with pytest.raises(ValueError, match="another family"):
        CogVideoXFamily([get_family("wan").cards[0]])


#: the layers of the package, top to bottom (docs/architecture.md); a module imports only from layers below it
LAYERS = [
    ("videogen.generation.flow",),
    ("videogen.loading.pipelines", "videogen.loading.lora", "videogen.loading.schedulers"),
    ("videogen.memory",),
    ("videogen.checks.rules",),
    ("videogen.catalog.lookup", "videogen.catalog.hub"),
    ("videogen.testing",),
    ("videogen.families",),  # the cards (families.card, archs) and the tiny builders (tiny, tiny_parts) included
    ("videogen.spec.videospec", "videogen.errors", "videogen.runtime.devices", "videogen.runtime.lock"),
]


@pytest.mark.parametrize("low", range(LAYERS.index(("videogen.catalog.lookup", "videogen.catalog.hub")), len(LAYERS)))
def test_catalog_families_and_tiny_models_import_nothing_above_them(low: int) -> None:
    """Counting imports inside functions and under TYPE_CHECKING, as import-linter does: no chain leads from the
    catalog layer or below to a layer above it (so none of these modules is in an import cycle)."""
    grimp = pytest.importorskip("grimp")
    graph = _graph(grimp)
    for low_pkg in LAYERS[low]:
        for high in LAYERS[:low]:
            for high_pkg in high:
                chain = graph.find_shortest_chains(importer=low_pkg, imported=high_pkg, as_packages=True)
                assert not chain, f"{low_pkg} imports {high_pkg}: {sorted(chain)[0]}"


def _graph(grimp):
    global _GRAPH
    if _GRAPH is None:
        _GRAPH = grimp.build_graph("videogen")
    return _GRAPH


_GRAPH = None


def test_hub_repo_outside_the_catalog_loads_from_the_hub_cache_offline(tmp_path: Path) -> None:
    """The real Hub path (model_index.json by hf_hub_download, weights by DiffusionPipeline.download),
    served from a Hub cache laid out by hand, offline: the family is recognised, the revision recorded."""
    import os
    import subprocess
    import sys

    sha = "0123456789abcdef0123456789abcdef01234567"
    repo_dir = tmp_path / "hub" / "models--someone--my-wan"
    shutil.copytree(tiny_pipeline("wan", "t2v"), repo_dir / "snapshots" / sha)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(sha)
    code = (
        "import videogen\n"
        "card = videogen.resolve('someone/my-wan')\n"
        "assert card.family == 'wan' and card.frame_rule == (4, 1), card\n"
        "r = videogen.generate(model='someone/my-wan', prompt='a', height=32, width=32, num_frames=5,"
        " steps=1, progress=False)\n"
        "print(r.metadata['model']['revision'], r.frames.shape)\n"
    )
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split()[0] == sha
    assert "(5, 32, 32, 3)" in out.stdout
