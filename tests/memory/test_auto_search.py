"""`memory="auto"` searches the plan space and takes the fastest predicted plan that fits, lossless first: checked
for every catalog model at its default size on every (GPU, RAM) pair of the docs table, and for the machine
of the issue that asked for it (Wan 2.1 14B at 480×832×81 on a 12 GB GPU with 32 GB of RAM)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import videogen
from videogen.generation.plan_report import TableEntry, plan_table, table_markdown
from videogen.memory.gpus import GPUS, parse_gpu
from videogen.memory.pick import choosable
from videogen.memory.search import LOSSLESS, Candidate

DOCS = Path(__file__).resolve().parents[2] / "docs" / "memory.md"


@pytest.fixture(scope="module")
def table() -> list[TableEntry]:
    return plan_table()


def _chosen(entry: TableEntry) -> Candidate:
    assert entry.choice is not None, entry.error
    return next(c for c in entry.choice.candidates if c.plan.name == entry.choice.plan.name)


def _named(reason: str, cands: list[Candidate]) -> set[str]:
    """Names of searched plans the reason mentions (whole names: 'block' is not 'block+fp8')."""
    return {c.name for c in cands if re.search(rf"(?<![\w+-]){re.escape(c.name)}(?![\w+-])", reason)}


def test_auto_takes_the_fastest_plan_that_fits_on_every_machine_of_the_table(table: list[TableEntry]) -> None:
    checked = 0
    for entry in table:
        where = f"{entry.model} on {entry.gpu_gib} GB / {entry.ram_gib} GB"
        choice = entry.choice
        if choice is None:  # the card's own defaults are refused (the catalog's tests say so)
            assert entry.error, where
            continue
        if not choice.known:  # a size the planner can't count: said so, not a made-up fit
            assert "unknown" in choice.reason, where
            continue
        usable = [c for c in choice.candidates if choosable(c)]
        fitting = [c for c in usable if c.fits]
        chosen = _chosen(entry)
        if fitting:
            tier = min(c.fidelity for c in fitting)  # lossless first, then 8-bit, then 4-bit weights
            fastest = min(c.seconds for c in fitting if c.fidelity == tier)
            assert chosen.fits and chosen.fidelity == tier, (where, choice.reason)
            assert chosen.seconds <= fastest, (where, chosen.name, chosen.seconds, fastest)
            assert chosen.prediction is not None and f"{chosen.seconds:.3g} s/step" in choice.reason
        else:  # nothing fits: the closest, said to be so, with the smallest machine that fits
            assert not chosen.fits and "comes closest" in choice.reason, where
            assert "smallest GPU it fits" in choice.reason or "won't fit any GPU" in choice.reason, where
        for hint in choice.hints:  # every plan suggested fits
            assert next(c for c in usable if c.name == hint).fits, (where, hint)
        assert _named(choice.reason, choice.candidates) <= {chosen.name, *choice.hints}, (where, choice.reason)
        checked += 1
    assert checked >= 12 * 20  # every known model on every machine of the table


def test_docs_table_is_the_generated_one(table: list[TableEntry]) -> None:
    text = DOCS.read_text()
    assert table_markdown(table) in text, "regenerate: videogen plan --table, into docs/memory.md"


def test_wan14b_on_12gb_gpu_and_32gb_ram_takes_a_fitting_8bit_plan_with_offload() -> None:
    report = videogen.plan(model="wan2.1-t2v-14b", height=480, width=832, num_frames=81, gpu="12GB", ram="32GB")
    plan = report.plan
    assert plan.name != "minimal" and plan.placement == "group"
    assert plan.layerwise_casting == "float8_e4m3fn" or plan.quantization == "torchao-int8"
    row = next(r for r in report.presets if r.name == plan.name)
    assert row.fits and row.seconds_per_step is not None and row.weights == "8-bit weights"
    assert "RTX 3060" in (report.speed_gpu or "") and report.prediction is not None
    assert "no lossless plan fits" in report.reason and "consider" not in report.reason
    lossless = videogen.plan(model="wan2.1-t2v-14b", height=480, width=832, gpu="12GB", ram="32GB", quality="lossless")
    assert lossless.plan.layerwise_casting is None and lossless.plan.quantization is None
    assert lossless.hints and all(next(r for r in lossless.presets if r.name == h).fits for h in lossless.hints)


def test_quality_any_takes_the_fastest_fitting_plan_whatever_its_weights() -> None:
    (entry,) = plan_table(["wan2.1-t2v-14b"], gpus=(24,), rams=(32,), quality="any")
    chosen = _chosen(entry)
    assert entry.choice is not None
    fitting = [c for c in entry.choice.candidates if choosable(c) and c.fits]
    assert chosen.seconds == min(c.seconds for c in fitting)
    (strict,) = plan_table(["wan2.1-t2v-14b"], gpus=(24,), rams=(32,), quality="lossless")
    assert _chosen(strict).fidelity == LOSSLESS


def test_a_searched_plan_is_asked_for_by_its_name() -> None:
    prepared = videogen.prepare(model="tiny-wan", prompt="x", memory="block+int8+tiled")
    plan = prepared.plan
    assert plan.placement == "group" and plan.quantization == "torchao-int8" and plan.vae_tiling
    assert dict(plan.components)["vae"].offload == "resident"  # adapted to the pipeline as presets are


@pytest.mark.parametrize(
    ("value", "key", "gib"),
    [("12GB", "rtx3060", 12), ("rtx4090", "rtx4090", 24), ("H100", "h100", 80), (16, "rtx4080", 16)],
)
def test_gpu_is_a_size_or_a_name_of_the_table(value: object, key: str, gib: int) -> None:
    gpu = parse_gpu(value)
    assert gpu.key == key and gpu.memory_gib == gib and gpu.bf16_tflops == GPUS[key].bf16_tflops


@pytest.mark.parametrize(("gpu", "ram", "field"), [("lots", None, "gpu"), ("12GB", "-3", "ram")])
def test_a_machine_that_is_not_one_is_a_spec_error(gpu: str, ram: str | None, field: str) -> None:
    with pytest.raises(videogen.SpecError, match="e.g.|such as") as info:
        videogen.plan(model="wan2.1-t2v-1.3b", gpu=gpu, ram=ram)
    assert info.value.field == field


def test_plan_cli_for_a_described_machine_prints_seconds_per_step_without_torch() -> None:
    code = (
        "import sys\n"
        "from videogen.cli.command import main\n"
        "main(['plan', '--gpu', '12GB', '--ram', '32GB', '-m', 'wan2.1-t2v-14b',\n"
        "      '--height', '480', '--width', '832'])\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    env = {**os.environ, "VIDEOGEN_ASSUME_GPU_GIB": "", "VIDEOGEN_ASSUME_RAM_GIB": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    assert "s/step on RTX 3060 (12 GB)" in out and "<- chosen" in out
    assert "measured on a GPU: nothing yet" in out
    chosen = next(line for line in out.splitlines() if "<- chosen" in line)
    assert re.search(r"\s\d+(\.\d+)?\s+8-bit weights", chosen), chosen


def test_docs_gpu_table_is_the_data() -> None:
    from videogen.memory.gpus import markdown

    assert markdown() in DOCS.read_text()


def test_an_out_of_memory_retry_keeps_the_lossy_weights_auto_found_fitting() -> None:
    from videogen.memory.context import context
    from videogen.memory.oom import candidates, next_plan
    from videogen.memory.points import point

    chosen = point("block+fp8")
    assert chosen is not None and candidates(chosen)[0] == "leaf+fp8+tiled"
    card = videogen.resolve("wan2.1-t2v-14b")
    retry = next_plan(chosen, context(card, "WanPipeline", "cuda"))
    assert retry is not None and retry.name == "leaf+fp8+tiled" and retry.layerwise_casting == "float8_e4m3fn"
