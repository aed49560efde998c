"""Allegro: the catalog card, the VAE's tiling on for every call, a step cache in the cache context videogen sets,
context parallelism refused before load. Text-to-video against the direct diffusers call: tests/test_matrix.py;
the rules (the VAE's tile grid, frames): tests/checks/test_spec_errors.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import videogen
from videogen.families.allegro import FAMILY
from videogen.loading.pipelines import CACHE

PROMPT = "a white ferret leaps into a stream"


def test_catalog_card() -> None:
    card = videogen.resolve("allegro")
    assert card.repo == "rhymes-ai/Allegro" and card.tasks == ("t2v",)
    assert (card.height, card.width, card.num_frames, card.fps, card.frame_rule) == (720, 1280, 88, 15, (16, 8))
    assert card.call_defaults == {"clean_caption": False}


def test_the_vae_tiles_in_every_call_whatever_a_plan_left() -> None:
    class Vae:
        use_tiling = False

        def enable_tiling(self) -> None:
            self.use_tiling = True

    pipe = SimpleNamespace(vae=Vae(), transformer=None)  # a plan's undo turned tiling off
    spec = videogen.VideoSpec(model="tiny-allegro", prompt=PROMPT)
    with FAMILY.call_context(pipe, spec):
        assert pipe.vae.use_tiling


def test_taylorseer_skips_work_in_the_cache_context() -> None:
    cache = {"method": "taylorseer", "interval": 2, "warmup": 2}
    result = videogen.generate(model="tiny-allegro", prompt=PROMPT, steps=6, cache=cache, seed=3, progress=False)
    assert result.metadata["cache"]["method"] == "taylorseer" and result.metadata["cache"]["skipped"] > 0.2


def test_context_parallelism_is_refused_before_load(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    loads = CACHE.loads
    with pytest.raises(videogen.SpecError, match="allegro model, whose transformer declares no context-parallel"):
        videogen.prepare(model="tiny-allegro", prompt=PROMPT, parallel="ulysses=2")
    assert CACHE.loads == loads


def test_every_plan_records_the_tiling_the_vae_always_runs_with() -> None:
    """Allegro's VAE decodes only in tiles: a plan that leaves tiling off (int8) says it is on, with a note."""
    plan = videogen.prepare(model="tiny-allegro", prompt="a ferret", memory="int8").plan
    assert plan.vae_tiling and any("allegro always runs with it" in note for note in plan.notes)
    assert not videogen.prepare(model="tiny-wan", prompt="a ferret", memory="int8").plan.vae_tiling
