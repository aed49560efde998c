"""LTX-Video: every task end to end on the tiny model, equal to the direct diffusers call; LTX's rules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import assert_frames_close, direct_frames, image, video
from PIL import Image

import videogen
from videogen.families import get_family
from videogen.testing import tiny_folder
from videogen.validate import complete

PROMPT = "a sailboat crossing a calm bay at dawn"
#: what the tiny card (0.9.5 layout, timestep-aware VAE) passes besides the spec fields
DECODE = {"decode_timestep": 0.05, "decode_noise_scale": 0.025}


def pil(array):
    return Image.fromarray(array)


def frames(array):
    return [Image.fromarray(f) for f in array]


@pytest.fixture(scope="module")
def static_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny folder with `use_dynamic_shifting` off: what videogen runs LTXConditionPipeline with."""
    folder = tmp_path_factory.mktemp("ltx") / "static"
    shutil.copytree(tiny_folder("ltx", "t2v"), folder)
    config_file = folder / "scheduler" / "scheduler_config.json"
    config = json.loads(config_file.read_text())
    assert config["use_dynamic_shifting"] is True  # the tiny model is saved like diffusers' LTX conversion
    config["use_dynamic_shifting"] = False
    config_file.write_text(json.dumps(config))
    return folder


def condition(**kw):
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    return LTXVideoCondition(**kw)


CASES = {
    # name: (spec fields, pipeline class, direct-call arguments besides the common ones)
    "t2v": ({}, "LTXPipeline", {}),
    "i2v": ({"image": image()}, "LTXImageToVideoPipeline", {"image": pil(image())}),
    "fps-is-frame_rate": ({"fps": 12}, "LTXPipeline", {"frame_rate": 12}),
    "conditioned-image-at-frame": (
        {"task": "conditioned", "image": image(), "num_frames": 17,
         "extra": {"frame_index": 8, "strength": 0.6}},
        "LTXConditionPipeline", {"conditions": [condition(image=pil(image()), frame_index=8, strength=0.6)]}),
    "conditioned-keyframes": (
        {"task": "conditioned", "image": image(), "last_image": image(seed=1)}, "LTXConditionPipeline",
        {"conditions": [condition(image=pil(image()), frame_index=0),
                        condition(image=pil(image(seed=1)), frame_index=8)]}),
    "conditioned-video": (
        {"task": "conditioned", "video": video(9)}, "LTXConditionPipeline",
        {"conditions": [condition(video=frames(video(9)), frame_index=0)]}),
    "conditioned-objects": (
        {"task": "conditioned",
         "extra": {"conditions": [condition(image=pil(image(seed=3)), frame_index=4)]}},
        "LTXConditionPipeline", {"conditions": [condition(image=pil(image(seed=3)), frame_index=4)]}),
    "conditioned-list": (
        {"task": "conditioned", "num_frames": 17,
         "extra": {"conditions": [{"image": image(seed=2)},
                                  {"video": video(9), "frame_index": 8, "strength": 0.8}]}},
        "LTXConditionPipeline",
        {"conditions": [condition(image=pil(image(seed=2)), frame_index=0),
                        condition(video=frames(video(9)), frame_index=8, strength=0.8)]}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_ltx_task_matches_direct_diffusers_call(case: str, static_folder: Path) -> None:
    fields, cls, direct = CASES[case]
    result = videogen.generate(model="tiny-ltx", prompt=PROMPT, seed=11, progress=False, **fields)
    spec = result.spec
    assert result.metadata["model"]["pipeline"] == cls
    assert result.frames.shape == (spec.num_frames, 32, 32, 3)

    kwargs = dict(prompt=PROMPT, height=32, width=32, num_frames=spec.num_frames, num_inference_steps=2,
                  guidance_scale=3.0, frame_rate=25, **DECODE)
    if cls == "LTXConditionPipeline":
        kwargs["image_cond_noise_scale"] = 0.025
    kwargs.update(direct)
    folder = static_folder if cls == "LTXConditionPipeline" else tiny_folder("ltx", "t2v")
    assert_frames_close(result.frames, direct_frames(cls, folder, seed=11, **kwargs))


def test_fps_changes_the_video_through_frame_rate() -> None:
    a = videogen.generate(model="tiny-ltx", prompt=PROMPT, seed=11, progress=False).frames
    b = videogen.generate(model="tiny-ltx", prompt=PROMPT, seed=11, fps=12, progress=False).frames
    assert (a != b).any()


def test_condition_pipeline_needs_static_shift_and_videogen_provides_it() -> None:
    """Breakage: LTXConditionPipeline passes no `mu`, so a dynamic-shifting scheduler raises."""
    import diffusers

    pipe = diffusers.LTXConditionPipeline.from_pretrained(tiny_folder("ltx", "t2v"))
    with pytest.raises(ValueError, match="mu"):
        pipe(prompt=PROMPT, height=32, width=32, num_frames=9, num_inference_steps=2, output_type="np")
    result = videogen.generate(model="tiny-ltx", task="conditioned", prompt=PROMPT, image=image(), seed=1,
                               progress=False)
    assert result.num_frames == 9


def test_distilled_card_uses_its_timesteps_when_steps_match(static_folder: Path) -> None:
    ticks: list[tuple[int, int]] = []
    result = videogen.generate(model="tiny-ltx-distilled", prompt=PROMPT, seed=5, progress=False,
                               on_step=lambda i, n: ticks.append((i, n)))
    assert result.metadata["model"]["pipeline"] == "LTXConditionPipeline"
    assert ticks == [(1, 3), (2, 3), (3, 3)]
    common = dict(prompt=PROMPT, height=32, width=32, num_frames=9, guidance_scale=1.0, frame_rate=25,
                  image_cond_noise_scale=0.0, **DECODE)
    expected = direct_frames("LTXConditionPipeline", static_folder, seed=5, timesteps=[1000, 900, 500],
                             **common)
    assert_frames_close(result.frames, expected)

    # another step count: the card's timesteps don't fit, the pipeline's own schedule is used
    other = videogen.generate(model="tiny-ltx-distilled", prompt=PROMPT, seed=5, steps=2, progress=False)
    expected = direct_frames("LTXConditionPipeline", static_folder, seed=5, num_inference_steps=2, **common)
    assert_frames_close(other.frames, expected)

    # image-to-video on this card also runs LTXConditionPipeline (the image conditions frame 0)
    i2v = videogen.generate(model="tiny-ltx-distilled", prompt=PROMPT, image=image(), seed=5, progress=False)
    assert i2v.metadata["model"]["pipeline"] == "LTXConditionPipeline"
    expected = direct_frames("LTXConditionPipeline", static_folder, seed=5, timesteps=[1000, 900, 500],
                             image=pil(image()), **common)
    assert_frames_close(i2v.frames, expected)


def test_custom_timesteps_set_the_step_count() -> None:
    ticks: list[int] = []
    result = videogen.generate(model="tiny-ltx", task="conditioned", prompt=PROMPT, image=image(), seed=2,
                               extra={"timesteps": [1000, 800, 600, 300]}, progress=False,
                               on_step=lambda i, n: ticks.append(n))
    assert result.spec.steps == 4 and ticks == [4, 4, 4, 4]


def test_denoise_strength_counts_the_steps_it_runs() -> None:
    ticks: list[tuple[int, int]] = []
    videogen.generate(model="tiny-ltx", task="conditioned", prompt=PROMPT, image=image(), seed=2, steps=4,
                      extra={"denoise_strength": 0.5}, progress=False,
                      on_step=lambda i, n: ticks.append((i, n)))
    assert ticks == [(1, 2), (2, 2)]


def test_timesteps_with_ltx_pipeline_is_refused_before_loading() -> None:
    """Breakage: LTXPipeline always passes sigmas, so custom timesteps raise inside diffusers."""
    import diffusers

    pipe = diffusers.LTXPipeline.from_pretrained(tiny_folder("ltx", "t2v"))
    with pytest.raises(ValueError, match="Only one of `timesteps` or `sigmas`"):
        pipe(prompt=PROMPT, height=32, width=32, num_frames=9, timesteps=[1000, 500], output_type="np")
    with pytest.raises(videogen.SpecError) as info:
        videogen.generate(model="tiny-ltx", prompt=PROMPT, extra={"timesteps": [1000, 500]}, progress=False)
    assert info.value.field == "extra" and "LTXPipeline" in str(info.value)


COND = {"task": "conditioned"}


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"num_frames": 8}, "num_frames", ["8k+1", "num_frames=9"]),
        ({"num_frames": 12}, "num_frames", ["8k+1", "num_frames=9"]),
        ({"height": 40}, "height", ["multiple of 32", "height=32"]),
        ({"width": 50}, "width", ["multiple of 32", "width=64"]),
        ({"task": "i2v"}, "image", ["image"]),
        ({"extra": {"frame_rate": 24}}, "extra", ["frame_rate", "fps=24"]),
        ({"extra": {"frame_index": 3}}, "extra", ["frame_index", "task='conditioned'"]),
        ({"image": image(), "extra": {"strength": 0.5}}, "extra", ["strength", "task='conditioned'"]),
        ({**COND, "image": image(), "extra": {"timesteps": "fast"}}, "extra", ["list of numbers"]),
        ({**COND}, "image", ["at least one condition", "image="]),
        ({**COND, "prompt": None, "image": image()}, "prompt", ["prompt", "conditioned"]),
        ({**COND, "image": image(), "extra": {"frame_index": 9}}, "extra",
         ["extra['frame_index']=9", "[0, 9)", "extra['frame_index']=8"]),
        ({**COND, "image": image(), "extra": {"frame_index": -2}}, "extra",
         ["[0, 9)", "extra['frame_index']=0"]),
        ({**COND, "image": image(), "extra": {"frame_index": 2.5}}, "extra", ["whole frame number"]),
        ({**COND, "image": image(), "extra": {"strength": 1.5}}, "extra",
         ["strength must be in [0, 1]", "extra['strength']=1.0"]),
        ({**COND, "video": video(9), "extra": {"strength": "high"}}, "extra",
         ["strength", "number in [0, 1]"]),
        ({**COND, "image": image(), "video": video(9), "extra": {"frame_index": 0}}, "extra",
         ["ambiguous", "extra['conditions']"]),
        ({**COND, "extra": {"conditions": []}}, "extra", ["non-empty list"]),
        ({**COND, "extra": {"conditions": [{"image": image(), "video": video(9)}]}}, "extra",
         ["extra['conditions'][0]", "exactly one of 'image' or 'video'"]),
        ({**COND, "extra": {"conditions": [{"frame_index": 0}]}}, "extra", ["exactly one", "neither"]),
        ({**COND, "extra": {"conditions": [{"image": image()}, {"image": image(), "frame_index": 30}]}},
         "extra",
         ["extra['conditions'][1]['frame_index']=30", "extra['conditions'][1]['frame_index']=8"]),
        ({**COND, "extra": {"conditions": [{"image": image(), "index": 3}]}}, "extra",
         ["unknown key 'index'"]),
        ({**COND, "extra": {"conditions": ["a.png"]}}, "extra", ["must be a dict"]),
        ({**COND, "image": image(), "extra": {"conditions": [{"image": image()}]}}, "image",
         ["extra['conditions']", "leave image out"]),
        ({**COND, "extra": {"conditions": [{"image": image()}], "strength": 0.5}}, "extra",
         ["give strength in each entry"]),
        ({**COND, "extra": {"conditions": [{"image": "/no/such/file.png"}]}}, "extra",
         ["extra['conditions'][0]['image']", "no file"]),
        ({"model": "ltx-video", **COND, "image": image()}, "task", ["conditioned", "ltx-video-0.9.5"]),
    ],
)
def test_ltx_rules_raise_spec_error(fields: dict, field: str, words: list[str]) -> None:
    spec = {"model": "tiny-ltx", "prompt": PROMPT, **fields}
    with pytest.raises(videogen.SpecError) as info:
        videogen.generate(progress=False, **spec)
    assert info.value.field == field
    for word in words:
        assert word in str(info.value)


def test_snap_rounds_frames_size_and_conditions_with_warnings() -> None:
    with pytest.warns(videogen.SnapWarning) as caught:
        result = videogen.generate(model="tiny-ltx", task="conditioned", prompt=PROMPT, image=image(),
                                   num_frames=11, height=40, snap=True, seed=3, progress=False,
                                   extra={"frame_index": 12, "strength": 1.5})
    assert {str(w.message).split("=")[0] for w in caught} >= {
        "snap: num_frames", "snap: height", "snap: extra['frame_index']", "snap: extra['strength']"}
    assert result.num_frames == 9 and result.height == 32
    snapped = result.metadata["snapped"]
    assert snapped["extra['frame_index']"] == {"requested": 12, "used": 8,
                                               "rule": "frame_index must be in [0, num_frames) = [0, 9)"}
    assert snapped["extra['strength']"]["used"] == 1.0


def test_real_cards_validate_without_loading() -> None:
    family = get_family("ltx")
    spec = videogen.VideoSpec(model="ltx-video-0.9.7-dev", task="conditioned", prompt=PROMPT,
                              extra={"frame_index": 200, "strength": 0.9}, num_frames=162, snap=True)
    card = videogen.resolve("Lightricks/LTX-Video-0.9.7-dev")
    media = {"video": frames(video(9))}
    with pytest.warns(videogen.SnapWarning):
        done, rules = complete(spec.replace(video="clip"), card, family, media)
    assert (done.height, done.width, done.num_frames, done.fps, done.steps, done.guidance_scale) == (
        512, 704, 161, 25, 30, 5.0)
    assert rules.media["ltx_conditions"][0]["frame_index"] == 160


def test_local_folder_is_recognised_and_runs_like_the_tiny_card() -> None:
    folder = tiny_folder("ltx", "t2v")
    card = videogen.resolve(str(folder))
    assert card.family == "ltx" and card.tasks == ("t2v", "i2v", "conditioned")
    assert card.call_defaults["decode_timestep"] == 0.05  # timestep-aware VAE → the 0.9.5 template
    fields = {"prompt": PROMPT, "height": 32, "width": 32, "num_frames": 9, "steps": 2, "seed": 4,
              "progress": False}
    a = videogen.generate(model=str(folder), **fields)
    b = videogen.generate(model="tiny-ltx", **fields)
    assert a.metadata["model"]["family"] == "ltx"
    assert (a.frames == b.frames).all()


@pytest.mark.parametrize(
    ("class_name", "transformer", "vae", "template_steps", "tasks", "decode"),
    [
        ("LTXPipeline", {"num_layers": 28}, {}, 50, ("t2v", "i2v"), False),  # 0.9.0
        ("LTXPipeline", {"num_layers": 28}, {"timestep_conditioning": True}, 50,
         ("t2v", "i2v", "conditioned"), True),  # 0.9.1+
        ("LTXConditionPipeline", {"num_layers": 48}, {"timestep_conditioning": True}, 30,
         ("t2v", "i2v", "conditioned"), True),  # 13B
    ],
)
def test_card_for_unknown_repo_from_configs(class_name: str, transformer: dict, vae: dict,
                                            template_steps: int, tasks: tuple, decode: bool) -> None:
    configs = {"transformer": transformer, "vae": vae}
    card = get_family("ltx").card_for_pipeline("someone/ltx-finetune", class_name,
                                               {"_class_name": class_name}, lambda c: configs.get(c, {}))
    assert card.name == card.repo == "someone/ltx-finetune"
    assert card.tasks == tasks and card.steps == template_steps and card.arch is None
    assert ("decode_timestep" in card.call_defaults) is decode
    assert card.frame_rule == (8, 1) and card.size_multiple == 32
