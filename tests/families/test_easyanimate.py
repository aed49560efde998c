"""EasyAnimate: the catalog cards, cache-dit's DBCache on its transformer (the diffusers hooks refused), context
parallelism refused before load. Every task (t2v; i2v and flf2v through the InP pipeline's masked video) against the
direct diffusers call: tests/test_matrix.py; the rules: tests/checks/test_spec_errors.py."""

from __future__ import annotations

import pytest

import videogen
from videogen.families.easyanimate import FAMILY
from videogen.loading.pipelines import CACHE

PROMPT = "a white ferret leaps into a stream"


def test_catalog_cards() -> None:
    t2v, inp = videogen.resolve("easyanimate-v5.1-12b"), videogen.resolve("easyanimate-v5.1-12b-inp")
    assert t2v.repo == "alibaba-pai/EasyAnimateV5.1-12b-zh-diffusers" and t2v.tasks == ("t2v",)
    assert inp.repo == "alibaba-pai/EasyAnimateV5.1-12b-zh-InP-diffusers" and inp.tasks == ("i2v", "flf2v")
    assert {inp.pipeline_class(t, FAMILY) for t in inp.tasks} == {"EasyAnimateInpaintPipeline"}
    assert (t2v.num_frames, t2v.max_frames, t2v.fps, t2v.frame_rule) == (49, 49, 8, (4, 1))


def test_dbcache_skips_work() -> None:
    cache = {"method": "dbcache", "Fn": 1, "Bn": 0, "warmup": 2, "threshold": 0.5}
    result = videogen.generate(model="tiny-easyanimate", prompt=PROMPT, steps=8, cache=cache, seed=3, progress=False)
    assert result.metadata["cache"]["method"] == "dbcache" and result.metadata["cache"]["skipped"] > 0.05


def test_context_parallelism_is_refused_before_load(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    loads = CACHE.loads
    with pytest.raises(videogen.SpecError, match="easyanimate model, whose transformer declares no context-parallel"):
        videogen.prepare(model="tiny-easyanimate", prompt=PROMPT, parallel="ulysses=2")
    assert CACHE.loads == loads
