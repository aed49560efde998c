"""LTX-2's memory planning: the components diffusers exports only from `diffusers.pipelines.ltx2` (the text
connectors and the vocoder) are counted, for LTX-2.0 and LTX-2.3, from the stored data (no torch) and from a
pipeline folder (tiny-ltx2's model_index.json names them with the library "ltx2")."""

from __future__ import annotations

import videogen
from videogen.memory.components import component_class, folder_components
from videogen.testing import tiny_folder


def _params(model: str) -> dict[str, tuple[str, int]]:
    report = videogen.plan(model=model)
    return {c.name: (c.class_name, c.params or 0) for c in report.components}


def test_ltx2_plan_counts_the_connectors_and_the_vocoder() -> None:
    parts = _params("ltx-2")
    assert parts["connectors"][0] == "LTX2TextConnectors"
    assert abs(parts["connectors"][1] / 1.4315e9 - 1) < 0.01
    assert parts["vocoder"][0] == "LTX2Vocoder"
    assert abs(parts["vocoder"][1] / 55.59e6 - 1) < 0.01
    total = sum(n for _, n in parts.values())
    assert 33.8e9 < total < 34.0e9  # Gemma 3 12B + the 19B transformer + VAEs + connectors + vocoder


def test_ltx2_3_cards_have_a_stored_architecture_of_22b() -> None:
    for model in ("ltx-2.3", "ltx-2.3-distilled"):
        report = videogen.plan(model=model)
        assert report.source.endswith("configs/ltx2.3-22b.json"), report.source
        parts = {c.name: (c.class_name, c.params) for c in report.components}
        assert all(n for _, n in parts.values()), parts  # no "?" sizes
        assert parts["vocoder"][0] == "LTX2VocoderWithBWE"
        # the published "22B": the transformer and the (8-layer, per-modality) connectors
        assert 22.0e9 < parts["transformer"][1] + parts["connectors"][1] < 22.4e9
        assert report.estimated_peak_gpu_bytes


def test_pipeline_package_classes_resolve_and_folders_name_them() -> None:
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    assert component_class("LTX2TextConnectors", "diffusers") is LTX2TextConnectors
    assert component_class("LTX2Vocoder", "diffusers") is LTX2Vocoder
    found = {c.name: c for c in folder_components(tiny_folder("ltx2", "t2v")) or ()}
    assert found["connectors"].library == "diffusers" and found["connectors"].config
    assert found["vocoder"].class_name == "LTX2Vocoder"
    tiny = {c.name for c in videogen.plan(model="tiny-ltx2").components}
    assert {"connectors", "vocoder"} <= tiny
