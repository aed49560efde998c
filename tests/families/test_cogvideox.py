"""CogVideoX: every task end to end on tiny models, equal to the direct diffusers call; CogVideoX's rules."""

from __future__ import annotations

import pytest
from helpers import assert_frames_close, direct_frames, image, video
from PIL import Image

import videogen
from videogen.families import get_family
from videogen.testing import tiny_folder
from videogen.validate import complete

PROMPT = "a panda strums a guitar in a bamboo forest"

CASES = {
    # name: (catalog model, pipeline class, inputs, tiny variant, frames)
    "t2v": ("tiny-cogvideox", "CogVideoXPipeline", {}, "t2v", 9),
    "v2v": ("tiny-cogvideox", "CogVideoXVideoToVideoPipeline", {"video": video(9, 16, 16)}, "t2v", 9),
    "i2v": ("tiny-cogvideox-i2v", "CogVideoXImageToVideoPipeline", {"image": image(16, 16)}, "i2v", 9),
    "1.5-t2v": ("tiny-cogvideox1.5", "CogVideoXPipeline", {}, "1.5", 17),
}


@pytest.mark.parametrize("case", list(CASES))
def test_cogvideox_task_matches_direct_diffusers_call(case: str) -> None:
    model, cls, inputs, variant, num_frames = CASES[case]
    result = videogen.generate(model=model, prompt=PROMPT, seed=9, progress=False, **inputs)
    assert result.metadata["model"]["pipeline"] == cls
    assert result.frames.shape == (num_frames, 16, 16, 3) and result.spec.num_frames == num_frames

    direct = {k: ([Image.fromarray(f) for f in v] if k == "video" else Image.fromarray(v))
              for k, v in inputs.items()}
    kwargs = dict(prompt=PROMPT, height=16, width=16, num_inference_steps=2, guidance_scale=6.0,
                  max_sequence_length=16, **direct)
    if case != "v2v":
        kwargs["num_frames"] = num_frames
    expected = direct_frames(cls, tiny_folder("cogvideox", variant), seed=9, **kwargs)
    assert_frames_close(result.frames, expected)


@pytest.mark.parametrize("variant", ["t2v", "i2v"])
def test_text_length_must_be_the_checkpoints_and_videogen_passes_it(variant: str) -> None:
    """Breakage 7: max_sequence_length must equal transformer.config.max_text_seq_length (the
    pipelines' default 226 fails on a 16-token model); videogen passes the card's value."""
    import diffusers

    cls = "CogVideoXImageToVideoPipeline" if variant == "i2v" else "CogVideoXPipeline"
    pipe = getattr(diffusers, cls).from_pretrained(tiny_folder("cogvideox", variant))
    assert pipe.transformer.config.max_text_seq_length == 16
    extra = {"image": Image.fromarray(image(16, 16))} if variant == "i2v" else {}
    with pytest.raises(RuntimeError, match="size of tensor"):
        pipe(prompt=PROMPT, height=16, width=16, num_frames=9, num_inference_steps=1, output_type="np",
             **extra)
    model = "tiny-cogvideox-i2v" if variant == "i2v" else "tiny-cogvideox"
    inputs = {"image": image(16, 16)} if variant == "i2v" else {}
    assert videogen.generate(model=model, prompt=PROMPT, seed=1, progress=False, **inputs).num_frames == 9


def test_i2v_runs_only_at_its_sample_size() -> None:
    """Breakage 7: 5b-I2V (learned positions) fails at any other size; videogen refuses it first."""
    import diffusers

    pipe = diffusers.CogVideoXImageToVideoPipeline.from_pretrained(tiny_folder("cogvideox", "i2v"))
    with pytest.raises(ValueError, match="different resolution"):
        pipe(image=Image.fromarray(image(32, 32)), prompt=PROMPT, height=32, width=32, num_frames=9,
             num_inference_steps=1, max_sequence_length=16, output_type="np")
    with pytest.raises(videogen.SpecError) as info:
        videogen.generate(model="tiny-cogvideox-i2v", prompt=PROMPT, image=image(32, 32), height=32, width=32,
                          progress=False)
    assert info.value.field == "height" and "16x16" in str(info.value)


def test_frames_other_than_8k_plus_1_come_out_longer() -> None:
    """Why 8k+1: 13 frames (4k+1, k odd) decode to 16."""
    import diffusers

    pipe = diffusers.CogVideoXPipeline.from_pretrained(tiny_folder("cogvideox", "t2v"))
    out = pipe(prompt=PROMPT, height=16, width=16, num_frames=13, num_inference_steps=1,
               max_sequence_length=16, output_type="np")
    assert out.frames.shape[1] == 16
    with pytest.raises(videogen.SpecError, match="8k\\+1"):
        videogen.generate(model="tiny-cogvideox", prompt=PROMPT, num_frames=13, progress=False)


def test_video_to_video_counts_the_steps_strength_runs() -> None:
    ticks: list[tuple[int, int]] = []
    videogen.generate(model="tiny-cogvideox", prompt=PROMPT, video=video(9, 16, 16), steps=4, seed=2,
                      extra={"strength": 0.5}, progress=False, on_step=lambda i, n: ticks.append((i, n)))
    assert ticks == [(1, 2), (2, 2)]


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"num_frames": 13}, "num_frames", ["8k+1", "num_frames=17"]),
        ({"num_frames": 25}, "num_frames", ["at most 17", "num_frames=17"]),
        ({"height": 32}, "height", ["only runs at 16x16", "height=16"]),
        ({"width": 24}, "width", ["only runs at 16x16", "width=16"]),
        ({"extra": {"max_sequence_length": 226}}, "extra",
         ["extra['max_sequence_length']=226", "max_text_seq_length=16", "extra['max_sequence_length']=16"]),
        ({"task": "v2v"}, "video", ["video"]),
        ({"video": video(9, 16, 16), "num_frames": 17}, "num_frames", ["9 frames", "num_frames=9"]),
        ({"model": "tiny-cogvideox-i2v"}, "image", ["image-to-video", "image="]),
        ({"model": "tiny-cogvideox1.5", "num_frames": 9}, "num_frames", ["16k+1", "num_frames=17"]),
        ({"model": "tiny-cogvideox1.5", "video": video(17, 16, 16)}, "task",
         ["video-to-video", "tiny-cogvideox"]),
        ({"extra": {"max_seq_length": 16}}, "extra", ["max_seq_length", "max_sequence_length"]),
        # the real checkpoints, validated without loading anything
        ({"model": "cogvideox-5b", "num_frames": 57}, "num_frames", ["at most 49", "num_frames=49"]),
        ({"model": "cogvideox-2b", "height": 720, "width": 480}, "height", ["480x720", "height=480"]),
        ({"model": "cogvideox-5b-i2v", "image": image(), "height": 768, "width": 1360}, "height",
         ["480x720", "height=480"]),
        ({"model": "cogvideox-5b", "extra": {"max_sequence_length": 512}}, "extra", ["226", "fixed"]),
        ({"model": "cogvideox1.5-5b", "num_frames": 80}, "num_frames", ["16k+1", "num_frames=81"]),
        ({"model": "cogvideox1.5-5b", "num_frames": 200}, "num_frames", ["at most 161", "num_frames=161"]),
        ({"model": "cogvideox1.5-5b", "height": 480, "width": 720}, "height", ["768x1360", "height=768"]),
        ({"model": "cogvideox1.5-5b-i2v", "image": image(), "height": 720, "width": 1280}, "height",
         ["shorter side must be 768", "height=768"]),
        ({"model": "cogvideox1.5-5b-i2v", "image": image(), "height": 768, "width": 1440}, "width",
         ["longer side 768 to 1360", "width=1360"]),
        ({"model": "cogvideox1.5-5b-i2v", "image": image(), "height": 770}, "height",
         ["multiple of 16", "height=768"]),
        ({"model": "cogvideox1.5-5b", "video": video()}, "task", ["video-to-video"]),
    ],
)
def test_cogvideox_rules_raise_spec_error(fields: dict, field: str, words: list[str]) -> None:
    spec = {"model": "tiny-cogvideox", "prompt": PROMPT, **fields}
    with pytest.raises(videogen.SpecError) as info:
        videogen.generate(progress=False, **spec)
    assert info.value.field == field
    for word in words:
        assert word in str(info.value)


def test_snap_rounds_frames_and_text_length_with_warnings() -> None:
    with pytest.warns(videogen.SnapWarning) as caught:
        result = videogen.generate(model="tiny-cogvideox", prompt=PROMPT, num_frames=12, height=20, snap=True,
                                   extra={"max_sequence_length": 77}, seed=3, progress=False)
    assert {str(w.message).split("=")[0] for w in caught} == {
        "snap: num_frames", "snap: height", "snap: extra['max_sequence_length']"}
    assert result.frames.shape == (9, 16, 16, 3)
    assert result.spec.extra["max_sequence_length"] == 16
    assert result.metadata["snapped"]["extra['max_sequence_length']"]["used"] == 16


def test_snap_fits_the_15_i2v_side_rule_without_loading() -> None:
    card = videogen.resolve("THUDM/CogVideoX1.5-5B-I2V")
    spec = videogen.VideoSpec(model=card.name, prompt=PROMPT, image="x.png", height=1360, width=704,
                              snap=True)
    with pytest.warns(videogen.SnapWarning):
        done, rules = complete(spec, card, get_family("cogvideox"), {"image": Image.new("RGB", (8, 8))})
    assert (done.height, done.width, done.num_frames, done.fps) == (1360, 768, 81, 16)
    assert rules.snapped == {"width": {"requested": 704, "used": 768, "rule": (
        "the shorter side must be 768 and the longer side 768 to 1360")}}


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
    configs = {"transformer": {"num_attention_heads": 30, "sample_height": 60, "sample_width": 90,
                               "sample_frames": 49, "max_text_seq_length": 226}}
    card = get_family("cogvideox").card_for_pipeline(
        "someone/cogvideox-2b-ft", "CogVideoXPipeline", {}, lambda c: configs.get(c, {}))
    assert card.tasks == ("t2v", "v2v") and card.dtypes == {"default": "float16"}
    assert (card.height, card.width, card.num_frames, card.fps) == (480, 720, 49, 8)


def test_card_for_an_unknown_5b_i2v_repo() -> None:
    configs = {
        "transformer": {"sample_height": 60, "sample_width": 90, "sample_frames": 49, "patch_size": 2,
                        "max_text_seq_length": 226, "use_learned_positional_embeddings": True,
                        "in_channels": 32},
        "vae": {"block_out_channels": [128, 256, 256, 512]},
    }
    card = get_family("cogvideox").card_for_pipeline(
        "someone/cogvideox-i2v-ft", "CogVideoXImageToVideoPipeline", {}, lambda c: configs.get(c, {}))
    assert card.tasks == ("i2v",) and card.sizes == ((480, 720),) and card.num_frames == 49
    assert card.call_defaults == {"max_sequence_length": 226} and card.arch is None
