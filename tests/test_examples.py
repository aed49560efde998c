"""Every example script runs offline against its tiny counterpart (`--tiny`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from videogen.media.read import read_video

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


def test_there_is_one_example_per_seed_example_of_the_docs() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {
        "wan_t2v_group_offload",
        "ltx_t2v",
        "cogvideox_compile",
        "wan_lora",
        "svd_microconditioning",
        "framepack_flf2v",
        "framepack_vanilla",
        "i2vgen_xl",
        "modelscope_dpmsolver",
    } <= names


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_with_tiny(script: Path, tmp_path: Path, capsys) -> None:
    spec = importlib.util.spec_from_file_location(f"example_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / f"{script.stem}.mp4"
    result = module.main(["--tiny", "-o", str(out)])
    assert capsys.readouterr().out.strip() == str(out)
    frames, _ = read_video(out)
    assert frames.shape == result.frames.shape
    assert result.spec.model.startswith("tiny-")
