"""LTX-Video: fps as frame_rate, the condition pipeline's static shift, timesteps and denoise strength, snapping,
real and local cards. Every task and condition form against the direct diffusers call: tests/test_matrix.py;
the rules: tests/checks/test_spec_errors.py."""

from __future__ import annotations

import pytest
from helpers import direct_pipeline, image, video
from PIL import Image

import videogen
from videogen.checks.rules import complete
from videogen.families import get_family
from videogen.testing import tiny_folder

PROMPT = "a sailboat crossing a calm bay at dawn"


def frames(array):
    return [Image.fromarray(f) for f in array]


def test_fps_changes_the_video_through_frame_rate() -> None:
    a = videogen.generate(model="tiny-ltx", prompt=PROMPT, seed=11, progress=False).frames
    b = videogen.generate(model="tiny-ltx", prompt=PROMPT, seed=11, fps=12, progress=False).frames
    assert (a != b).any()


def test_condition_pipeline_needs_static_shift_and_videogen_provides_it() -> None:
    """Breakage: LTXConditionPipeline passes no `mu`, so a dynamic-shifting scheduler raises."""
    pipe = direct_pipeline("LTXConditionPipeline", str(tiny_folder("ltx", "t2v")))  # a plain from_pretrained
    with pytest.raises(ValueError, match="mu"):
        pipe(prompt=PROMPT, height=32, width=32, num_frames=9, num_inference_steps=2, output_type="np")
    result = videogen.generate(
        model="tiny-ltx", task="conditioned", prompt=PROMPT, image=image(), seed=1, progress=False
    )
    assert result.num_frames == 9


def test_distilled_card_counts_its_timesteps_and_runs_the_condition_pipeline() -> None:
    """The frames of each task, and of a step count its timesteps don't fit: tests/test_matrix.py."""
    ticks: list[tuple[int, int]] = []
    result = videogen.generate(
        model="tiny-ltx-distilled", prompt=PROMPT, seed=5, progress=False, on_step=lambda i, n: ticks.append((i, n))
    )
    assert ticks == [(1, 3), (2, 3), (3, 3)]
    assert result.metadata["model"]["pipeline"] == "LTXConditionPipeline"
    # image-to-video on this card also runs LTXConditionPipeline (the image conditions frame 0)
    assert (
        videogen.prepare(model="tiny-ltx-distilled", prompt=PROMPT, image=image()).class_name == "LTXConditionPipeline"
    )


def test_custom_timesteps_set_the_step_count() -> None:
    ticks: list[int] = []
    result = videogen.generate(
        model="tiny-ltx",
        task="conditioned",
        prompt=PROMPT,
        image=image(),
        seed=2,
        extra={"timesteps": [1000, 800, 600, 300]},
        progress=False,
        on_step=lambda i, n: ticks.append(n),
    )
    assert result.spec.steps == 4 and ticks == [4, 4, 4, 4]


def test_denoise_strength_counts_the_steps_it_runs() -> None:
    ticks: list[tuple[int, int]] = []
    videogen.generate(
        model="tiny-ltx",
        task="conditioned",
        prompt=PROMPT,
        image=image(),
        seed=2,
        steps=4,
        extra={"denoise_strength": 0.5},
        progress=False,
        on_step=lambda i, n: ticks.append((i, n)),
    )
    assert ticks == [(1, 2), (2, 2)]


def test_timesteps_with_ltx_pipeline_is_refused_before_loading() -> None:
    """Breakage: LTXPipeline always passes sigmas, so custom timesteps raise inside diffusers."""
    pipe = direct_pipeline("LTXPipeline", str(tiny_folder("ltx", "t2v")))  # a plain from_pretrained
    with pytest.raises(ValueError, match="Only one of `timesteps` or `sigmas`"):
        pipe(prompt=PROMPT, height=32, width=32, num_frames=9, timesteps=[1000, 500], output_type="np")
    with pytest.raises(videogen.SpecError) as info:
        videogen.generate(model="tiny-ltx", prompt=PROMPT, extra={"timesteps": [1000, 500]}, progress=False)
    assert info.value.field == "extra" and "LTXPipeline" in str(info.value)


def test_snap_rounds_frames_size_and_conditions_with_warnings() -> None:
    with pytest.warns(videogen.SnapWarning) as caught:
        result = videogen.generate(
            model="tiny-ltx",
            task="conditioned",
            prompt=PROMPT,
            image=image(),
            num_frames=11,
            height=40,
            snap=True,
            seed=3,
            progress=False,
            extra={"frame_index": 12, "strength": 1.5},
        )
    assert {str(w.message).split("=")[0] for w in caught} >= {
        "snap: num_frames",
        "snap: height",
        "snap: extra['frame_index']",
        "snap: extra['strength']",
    }
    assert result.num_frames == 9 and result.height == 32
    snapped = result.metadata["snapped"]
    assert snapped["extra['frame_index']"] == {
        "requested": 12,
        "used": 8,
        "rule": "frame_index must be in [0, num_frames) = [0, 9)",
    }
    assert snapped["extra['strength']"]["used"] == 1.0


def test_real_cards_validate_without_loading() -> None:
    family = get_family("ltx")
    spec = videogen.VideoSpec(
        model="ltx-video-0.9.7-dev",
        task="conditioned",
        prompt=PROMPT,
        extra={"frame_index": 200, "strength": 0.9},
        num_frames=162,
        snap=True,
    )
    card = videogen.resolve("Lightricks/LTX-Video-0.9.7-dev")
    media = {"video": frames(video(9))}
    with pytest.warns(videogen.SnapWarning):
        done, rules = complete(spec.replace(video="clip"), card, family, media)
    assert (done.height, done.width, done.num_frames, done.fps, done.steps, done.guidance_scale) == (
        512,
        704,
        161,
        25,
        30,
        5.0,
    )
    assert media["ltx_conditions"][0]["frame_index"] == 160


def test_local_folder_is_recognised_and_runs_like_the_tiny_card() -> None:
    folder = tiny_folder("ltx", "t2v")
    card = videogen.resolve(str(folder))
    assert card.family == "ltx" and card.tasks == ("t2v", "i2v", "conditioned")
    assert card.call_defaults["decode_timestep"] == 0.05  # timestep-aware VAE → the 0.9.5 template
    fields = {"prompt": PROMPT, "height": 32, "width": 32, "num_frames": 9, "steps": 2, "seed": 4, "progress": False}
    a = videogen.generate(model=str(folder), **fields)
    b = videogen.generate(model="tiny-ltx", **fields)
    assert a.metadata["model"]["family"] == "ltx"
    assert (a.frames == b.frames).all()


@pytest.mark.parametrize(
    ("class_name", "transformer", "vae", "template_steps", "tasks", "decode"),
    [
        ("LTXPipeline", {"num_layers": 28}, {}, 50, ("t2v", "i2v"), False),  # 0.9.0
        (
            "LTXPipeline",
            {"num_layers": 28},
            {"timestep_conditioning": True},
            50,
            ("t2v", "i2v", "conditioned"),
            True,
        ),  # 0.9.1+
        (
            "LTXConditionPipeline",
            {"num_layers": 48},
            {"timestep_conditioning": True},
            30,
            ("t2v", "i2v", "conditioned"),
            True,
        ),  # 13B
    ],
)
def test_card_for_unknown_repo_from_configs(
    class_name: str, transformer: dict, vae: dict, template_steps: int, tasks: tuple, decode: bool
) -> None:
    configs = {"transformer": transformer, "vae": vae}
    card = get_family("ltx").card_for_pipeline(
        "someone/ltx-finetune", class_name, {"_class_name": class_name}, lambda c: configs.get(c, {})
    )
    assert card.name == card.repo == "someone/ltx-finetune"
    assert card.tasks == tasks and card.steps == template_steps and card.arch is None
    assert ("decode_timestep" in card.call_defaults) is decode
    assert card.frame_rule == (8, 1) and card.size_multiple == 32
