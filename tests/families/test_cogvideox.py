"""CogVideoX: the breakages videogen handles (text length, sample size, 8k+1), v2v step counting, snapping, local
and unknown cards. Every task against the direct diffusers call: tests/test_matrix.py; the rules (the real
checkpoints' included): tests/checks/test_spec_errors.py."""

from __future__ import annotations

import pytest
from helpers import direct_pipeline, image, video
from PIL import Image

import videogen
from videogen.checks.rules import complete
from videogen.families import get_family
from videogen.testing import tiny_folder

PROMPT = "a panda strums a guitar in a bamboo forest"


@pytest.mark.parametrize("variant", ["t2v", "i2v"])
def test_text_length_must_be_the_checkpoints_and_videogen_passes_it(variant: str) -> None:
    """Breakage 7: max_sequence_length must equal transformer.config.max_text_seq_length (the
    pipelines' default 226 fails on a 16-token model); videogen passes the card's value."""
    cls = "CogVideoXImageToVideoPipeline" if variant == "i2v" else "CogVideoXPipeline"
    pipe = direct_pipeline(cls, str(tiny_folder("cogvideox", variant)))  # a plain from_pretrained
    assert pipe.transformer.config.max_text_seq_length == 16
    extra = {"image": Image.fromarray(image(16, 16))} if variant == "i2v" else {}
    with pytest.raises(RuntimeError, match="size of tensor"):
        pipe(prompt=PROMPT, height=16, width=16, num_frames=9, num_inference_steps=1, output_type="np", **extra)
    model = "tiny-cogvideox-i2v" if variant == "i2v" else "tiny-cogvideox"
    inputs = {"image": image(16, 16)} if variant == "i2v" else {}
    assert videogen.generate(model=model, prompt=PROMPT, seed=1, progress=False, **inputs).num_frames == 9


def test_i2v_runs_only_at_its_sample_size() -> None:
    """Breakage 7: 5b-I2V (learned positions) fails at any other size; videogen refuses it first."""
    pipe = direct_pipeline("CogVideoXImageToVideoPipeline", str(tiny_folder("cogvideox", "i2v")))
    with pytest.raises(ValueError, match="different resolution"):
        pipe(
            image=Image.fromarray(image(32, 32)),
            prompt=PROMPT,
            height=32,
            width=32,
            num_frames=9,
            num_inference_steps=1,
            max_sequence_length=16,
            output_type="np",
        )
    with pytest.raises(videogen.SpecError) as info:
        videogen.generate(
            model="tiny-cogvideox-i2v", prompt=PROMPT, image=image(32, 32), height=32, width=32, progress=False
        )
    assert info.value.field == "height" and "16x16" in str(info.value)


def test_frames_other_than_8k_plus_1_come_out_longer() -> None:
    """Why 8k+1: 13 frames (4k+1, k odd) decode to 16."""
    pipe = direct_pipeline("CogVideoXPipeline", str(tiny_folder("cogvideox", "t2v")))
    out = pipe(
        prompt=PROMPT,
        height=16,
        width=16,
        num_frames=13,
        num_inference_steps=1,
        max_sequence_length=16,
        output_type="np",
    )
    assert out.frames.shape[1] == 16
    with pytest.raises(videogen.SpecError, match="8k\\+1"):
        videogen.generate(model="tiny-cogvideox", prompt=PROMPT, num_frames=13, progress=False)


def test_video_to_video_counts_the_steps_strength_runs() -> None:
    ticks: list[tuple[int, int]] = []
    videogen.generate(
        model="tiny-cogvideox",
        prompt=PROMPT,
        video=video(9, 16, 16),
        steps=4,
        seed=2,
        extra={"strength": 0.5},
        progress=False,
        on_step=lambda i, n: ticks.append((i, n)),
    )
    assert ticks == [(1, 2), (2, 2)]


def test_snap_rounds_frames_and_text_length_with_warnings() -> None:
    with pytest.warns(videogen.SnapWarning) as caught:
        result = videogen.generate(
            model="tiny-cogvideox",
            prompt=PROMPT,
            num_frames=12,
            height=20,
            snap=True,
            extra={"max_sequence_length": 77},
            seed=3,
            progress=False,
        )
    assert {str(w.message).split("=")[0] for w in caught} == {
        "snap: num_frames",
        "snap: height",
        "snap: extra['max_sequence_length']",
    }
    assert result.frames.shape == (9, 16, 16, 3)
    assert result.spec.extra["max_sequence_length"] == 16
    assert result.metadata["snapped"]["extra['max_sequence_length']"]["used"] == 16


def test_snap_fits_the_15_i2v_side_rule_without_loading() -> None:
    card = videogen.resolve("THUDM/CogVideoX1.5-5B-I2V")
    spec = videogen.VideoSpec(model=card.name, prompt=PROMPT, image="x.png", height=1360, width=704, snap=True)
    with pytest.warns(videogen.SnapWarning):
        done, rules = complete(spec, card, get_family("cogvideox"), {"image": Image.new("RGB", (8, 8))})
    assert (done.height, done.width, done.num_frames, done.fps) == (1360, 768, 81, 16)
    assert rules.snapped == {
        "width": {
            "requested": 704,
            "used": 768,
            "rule": ("the shorter side must be 768 and the longer side 768 to 1360"),
        }
    }


@pytest.mark.parametrize(
    ("variant", "tasks", "frame_rule"),
    [("t2v", ("t2v", "v2v"), (8, 1)), ("i2v", ("i2v",), (8, 1)), ("1.5", ("t2v",), (16, 1))],
)
def test_local_folders_are_recognised(variant: str, tasks: tuple, frame_rule: tuple) -> None:
    card = videogen.resolve(str(tiny_folder("cogvideox", variant)))
    assert card.family == "cogvideox" and card.tasks == tasks and card.frame_rule == frame_rule
    assert card.call_defaults == {"max_sequence_length": 16} and card.size_multiple == 16
    if variant != "1.5":
        assert card.sizes == ((16, 16),) and card.num_frames == 9


def test_local_folder_runs_like_the_tiny_card() -> None:
    fields = {"prompt": PROMPT, "num_frames": 9, "steps": 2, "seed": 4, "progress": False}
    a = videogen.generate(model=str(tiny_folder("cogvideox", "t2v")), **fields)
    b = videogen.generate(model="tiny-cogvideox", **fields)
    assert a.spec.height == 16 and (a.frames == b.frames).all()


def test_card_for_an_unknown_2b_repo_keeps_fp16() -> None:
    configs = {
        "transformer": {
            "num_attention_heads": 30,
            "sample_height": 60,
            "sample_width": 90,
            "sample_frames": 49,
            "max_text_seq_length": 226,
        }
    }
    card = get_family("cogvideox").card_for_pipeline(
        "someone/cogvideox-2b-ft", "CogVideoXPipeline", {}, lambda c: configs.get(c, {})
    )
    assert card.tasks == ("t2v", "v2v") and card.dtypes == {"default": "float16"}
    assert (card.height, card.width, card.num_frames, card.fps) == (480, 720, 49, 8)


def test_card_for_an_unknown_5b_i2v_repo() -> None:
    configs = {
        "transformer": {
            "sample_height": 60,
            "sample_width": 90,
            "sample_frames": 49,
            "patch_size": 2,
            "max_text_seq_length": 226,
            "use_learned_positional_embeddings": True,
            "in_channels": 32,
        },
        "vae": {"block_out_channels": [128, 256, 256, 512]},
    }
    card = get_family("cogvideox").card_for_pipeline(
        "someone/cogvideox-i2v-ft", "CogVideoXImageToVideoPipeline", {}, lambda c: configs.get(c, {})
    )
    assert card.tasks == ("i2v",) and card.sizes == ((480, 720),) and card.num_frames == 49
    assert card.call_defaults == {"max_sequence_length": 226} and card.arch is None
