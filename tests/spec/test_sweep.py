"""Sweeps: `videogen.expand` over any fields, seed ranges and prompt files for the CLI. Pure Python."""

from __future__ import annotations

from pathlib import Path

import pytest

import videogen
from videogen import LoRA, SpecError, VideoSpec
from videogen.spec.sweep import MAX_SPECS, expand, parse_seeds, read_prompts


def test_expand_is_the_cartesian_product_last_field_fastest() -> None:
    base = VideoSpec(model="tiny-wan", steps=2)
    specs = videogen.expand(base, prompt=["a", "b"], seed=[1, 2, 3])
    assert [(s.prompt, s.seed) for s in specs] == [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2), ("b", 3)]
    assert all(s.model == "tiny-wan" and s.steps == 2 for s in specs)
    assert base.seed is None  # the base spec is untouched


def test_expand_takes_single_values_ranges_dicts_and_list_valued_fields() -> None:
    specs = expand({"model": "tiny-wan"}, seed=range(3), guidance_scale=4.0, loras=[[], ["a.safetensors", "b"]])
    assert len(specs) == 6 and {s.guidance_scale for s in specs} == {4.0}
    assert [s.seed for s in specs[:3]] == [0, 0, 1] and specs[0].loras == ()
    assert specs[1].loras == (LoRA("a.safetensors"), LoRA("b"))
    # a tuple is one value: a (source, weight) LoRA, not two sweep options
    assert [s.loras for s in expand(loras=("style.safetensors", 0.8))] == [(LoRA("style.safetensors", 0.8),)]
    assert expand(VideoSpec(model="x")) == [VideoSpec(model="x")]
    assert [s.memory for s in expand(memory=[{"vae_tiling": True}, "low"])] == [{"vae_tiling": True}, "low"]


def test_expand_refuses_unknown_fields_empty_lists_and_huge_products() -> None:
    with pytest.raises(SpecError, match="did you mean 'seed'") as info:
        expand(VideoSpec(), seeds=[1, 2])
    assert info.value.field == "seeds"
    with pytest.raises(SpecError, match=r"prompt=\[\] sweeps over nothing") as info:
        expand(VideoSpec(), prompt=[])
    assert info.value.field == "prompt"
    with pytest.raises(SpecError, match="101 seed × 100 steps is 10,100 specs, more than 10,000"):
        expand(VideoSpec(), seed=range(101), steps=list(range(1, 101)))
    assert len(expand(VideoSpec(), seed=range(MAX_SPECS))) == MAX_SPECS
    with pytest.raises(SpecError, match="cache=3"):  # each spec is checked as it is made
        expand(VideoSpec(), cache=["fbc", 3])
    with pytest.raises(SpecError, match="must be a VideoSpec"):
        expand("tiny-wan", seed=[1])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "seeds"),
    [
        ("1-8", [1, 2, 3, 4, 5, 6, 7, 8]),
        ("3,7,42", [3, 7, 42]),
        ("1-3,9", [1, 2, 3, 9]),
        (" 5 - 6 , 0 ", [5, 6, 0]),
        ("7", [7]),
        ("4-4", [4]),
    ],
)
def test_parse_seeds(text: str, seeds: list[int]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "names no seed"),
        ("1-", "'1-' in '1-' is not a seed or a range"),
        ("a,b", "'a' in 'a,b' is not a seed"),
        ("-3", "is not a seed"),
        ("1.5", "is not a seed"),
        ("8-1", "runs backwards; write 1-8"),
        ("1-3,2", "names seed 2 twice"),
        ("1,,2", "'' in '1,,2' is not a seed"),
        ("0-10000", "more than 10,000 seeds"),
    ],
)
def test_bad_seed_text_is_a_spec_error(text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_seeds(text)
    assert message in str(info.value) and info.value.field == "seed"


def test_read_prompts_one_per_line_with_comments(tmp_path: Path) -> None:
    path = tmp_path / "prompts.txt"
    path.write_text(
        "\ufeff# tonight's queue\na ferret leaps into a stream\n\n   \n  a cat #1 on a sofa  \n# done\nwaves\n",
        encoding="utf-8",
    )
    assert read_prompts(path) == ["a ferret leaps into a stream", "a cat #1 on a sofa", "waves"]
    specs = expand(VideoSpec(model="tiny-wan"), prompt=read_prompts(path), seed=parse_seeds("1-2"))
    assert len(specs) == 6 and specs[-1].prompt == "waves" and specs[-1].seed == 2


def test_read_prompts_refuses_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file") as info:
        read_prompts(tmp_path / "missing.txt")
    assert info.value.field == "prompt"
    (tmp_path / "empty.txt").write_text("# only a comment\n\n")
    with pytest.raises(SpecError, match="holds no prompts"):
        read_prompts(tmp_path / "empty.txt")
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(SpecError, match="cannot read it"):
        read_prompts(tmp_path / "binary.txt")
