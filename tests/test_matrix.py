"""Every task of every tiny catalog card, end to end, equal to the direct diffusers call within one 8-bit level.

Registry-driven: a card registered with `tiny=` is covered for each of its tasks with no edit here. The direct
call is what a diffusers user would write from the card, independently of videogen's own translation: the
pipeline class (the one videogen reports) loaded with a plain `from_pretrained` of the tiny folder; the size,
frame count, steps and guidance (given or the card's) and the card's `call_defaults` where the pipeline's
`__call__` takes them; the prompt and media as given (PIL); `extra` as given; the global RNG and
`torch.Generator("cpu")` seeded (I2VGen-XL draws from the global one). What a family's direct call needs beyond
that is its entry in FAMILIES (a new family whose call needs more fails here, with both calls in the message);
non-default specs that exercise a family's translation are EXTRA cases, run by the same body.
"""

from __future__ import annotations

import inspect
import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import assert_frames_close, direct_pipeline, framepack_docs_pipeline, image, run_direct, video
from PIL import Image

import videogen
from videogen.testing import tiny_folder

PROMPT = "a white ferret leaps into a stream"
SEED = 7
TINY = [card for card in videogen.list_models() if card.tiny]


def pil(array: Any) -> Image.Image:
    return Image.fromarray(array)


def frames(array: Any) -> list[Image.Image]:
    return [Image.fromarray(f) for f in array]


#: the extension's own knob, where the family has one
OVERLAP = {"skyreels_v2": {"extra": {"overlap_history": 5}}}
#: families whose extension returns the input video before the new frames (as their pipelines return them)
EXTEND_KEEPS_VIDEO = {"skyreels_v2"}


def task_inputs(task: str, card: videogen.ModelCard) -> dict[str, Any]:
    """The media a task needs, at the card's size (a video as long as the card's default)."""
    h, w = card.height, card.width
    inputs = {
        "t2v": {},
        "i2v": {"image": image(h, w)},
        "flf2v": {"image": image(h, w), "last_image": image(h, w, seed=1)},
        "v2v": {"video": video(card.num_frames, h, w)},
        "conditioned": {"image": image(h, w)},
        # SkyReels-V2 continues from the video's last overlap_history frames: the tiny video's, 5 (default 17);
        # Helios from its last whole windows (5 frames on the tiny card)
        "extend": {"video": video(card.num_frames, h, w), **OVERLAP.get(card.family, {})},
        # Wan Animate: the character, driven by pose and face videos; replace: into `video` where `mask` is white
        "animate": {"image": image(h, w), "pose_video": video(card.num_frames, h, w), "face_video": video(5, 8, 8)},
        "replace": {
            "image": image(h, w),
            "pose_video": video(card.num_frames, h, w),
            "face_video": video(card.num_frames, 8, 8),
            "video": video(card.num_frames, h, w)[:, ::-1].copy(),
            "mask": box_mask(None, h, w),
        },
    }
    if task not in inputs:
        pytest.fail(f"{card.name}: task {task!r} is new: add the media it takes to task_inputs")
    return inputs[task]


@dataclass
class Case:
    card: videogen.ModelCard
    task: str
    fields: dict[str, Any]  # what generate gets besides model, task and seed

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self.fields.get("extra") or {})

    def get(self, name: str) -> Any:
        """A spec field as given, else the card's default."""
        return self.fields.get(name, getattr(self.card, name))


@dataclass(frozen=True)
class Direct:
    """What a family's direct call needs beyond the common translation."""

    #: whether the pipeline takes a prompt (the spec gets one)
    prompt: bool = True
    #: (pipeline class, tiny folder, call kwargs, scratch folder) → the pipeline; default `from_pretrained`
    load: Callable[[str, Path, dict, Path], Any] | None = None
    #: adjusts the call kwargs in place, given the case and the loaded pipeline; returns the frames to keep
    call: Callable[[dict, Case, Any], int | None] | None = None


# ---- the families' own translation ------------------------------------------------------------------------
def _svd_call(kw: dict, case: Case, pipe: Any) -> None:
    # no text encoder; guidance_scale is the top of SVD's per-frame guidance ramp
    kw.setdefault("max_guidance_scale", case.get("guidance_scale"))


def _i2vgen_xl_call(kw: dict, case: Case, pipe: Any) -> None:
    kw.setdefault("target_fps", case.get("fps"))  # frame-rate conditioning follows the spec's fps
    kw.setdefault("clip_skip", None)  # the pipeline's default (1) crashes on transformers >= 5.6


def _hunyuanvideo_call(kw: dict, case: Case, pipe: Any) -> None:
    # I2V-33ch ("latent_concat") drops the 4 decoded frames of the conditioning image: ask for 4 more
    if case.task == "i2v" and pipe.transformer.config.get("image_condition_type") == "latent_concat":
        kw["num_frames"] += 4


def _hunyuanvideo15_call(kw: dict, case: Case, pipe: Any) -> None:
    # guidance is the guider component's scale (the call takes no guidance_scale): set as diffusers' docs do
    pipe.guider = pipe.guider.new(guidance_scale=case.get("guidance_scale"))


def _skyreels_v2_call(kw: dict, case: Case, pipe: Any) -> None:
    # the diffusion-forcing pipelines condition on the frame rate (16 fps or not): the spec's fps
    if "fps" in inspect.signature(type(pipe).__call__).parameters:
        kw.setdefault("fps", case.get("fps"))


def _wan_vace_call(kw: dict, case: Case, pipe: Any) -> None:
    """VACE takes images as a masked video (diffusers' VACE docs): the image(s) at the first (and last) frame, gray
    frames between them, a mask black where a frame is kept and white where it is generated. A user's mask: one
    image for every frame or a video cut as the video is; reference images as a list of PIL images."""
    mask, refs = case.fields.get("mask"), case.fields.get("reference_images")
    if mask is not None:
        kw["mask"] = frames(mask[: kw["num_frames"]]) if mask.ndim == 4 else [pil(mask)] * kw["num_frames"]
    if refs is not None:
        kw["reference_images"] = [pil(r) for r in refs]
    first, last = kw.pop("image", None), kw.pop("last_image", None)
    if first is None:
        return
    n, size = kw["num_frames"], first.size
    video = [first] + [Image.new("RGB", size, (128, 128, 128)) for _ in range(n - 1)]
    mask = [Image.new("L", size, 0)] + [Image.new("L", size, 255) for _ in range(n - 1)]
    if last is not None:
        video[-1], mask[-1] = last, Image.new("L", size, 0)
    kw.update(video=video, mask=mask)


def _wan_animate_call(kw: dict, case: Case, pipe: Any) -> None:
    """diffusers' Wan Animate docs: the driving videos as lists of PIL frames, `mode` the task; replace: the
    background video and a mask video (one mask image repeated over the frames)."""
    n = len(case.fields["pose_video"])
    kw["pose_video"], kw["face_video"] = frames(case.fields["pose_video"]), frames(case.fields["face_video"][:n])
    kw["mode"] = case.task
    if case.task == "replace":
        kw["background_video"] = kw.pop("video")
        mask = case.fields["mask"]
        kw["mask_video"] = frames(mask[:n]) if mask.ndim == 4 else [pil(mask)] * n


def _sana_video_call(kw: dict, case: Case, pipe: Any) -> None:
    kw["frames"] = case.get("num_frames")  # the pipelines' own name for the frame count
    if case.task == "i2v":  # diffusers' docs run image-to-video on flow-matching Euler at the checkpoint's shift
        from diffusers import FlowMatchEulerDiscreteScheduler

        pipe.scheduler = FlowMatchEulerDiscreteScheduler(shift=pipe.scheduler.config.flow_shift)


def _easyanimate_call(kw: dict, case: Case, pipe: Any) -> None:
    """diffusers' docs: a negative prompt under guidance; the InP pipeline's masked video from the image(s)."""
    from diffusers.pipelines.easyanimate.pipeline_easyanimate_inpaint import get_image_to_video_latent

    if kw["guidance_scale"] > 1:
        kw.setdefault("negative_prompt", "")
    first, last = kw.pop("image", None), kw.pop("last_image", None)
    if first is not None:
        size = (kw["height"], kw["width"])
        kw["video"], kw["mask_video"] = get_image_to_video_latent([first], last, kw["num_frames"], size)


def _latte_call(kw: dict, case: Case, pipe: Any) -> None:
    kw["video_length"] = case.get("num_frames")  # the pipeline's own name for the frame count


def _allegro_load(cls: str, folder: Path, kw: dict, scratch: Path) -> Any:
    """diffusers' Allegro docs: the VAE decodes only in tiles (`pipe.vae.enable_tiling()`)."""
    pipe = direct_pipeline(cls, str(folder))
    pipe.vae.enable_tiling()
    return pipe


def _animatediff_call(kw: dict, case: Case, pipe: Any) -> None:
    """FreeNoise is a pipeline state in diffusers (`enable_free_noise`), on for the cases that ask for it."""
    settings = kw.pop("free_noise", None)
    if settings:
        pipe.enable_free_noise(**(settings if isinstance(settings, dict) else {}))
    elif pipe.free_noise_enabled:
        pipe.disable_free_noise()


def _ltx_load(cls: str, folder: Path, kw: dict, scratch: Path) -> Any:
    """LTXConditionPipeline passes no `mu`: it runs on the tiny folder with `use_dynamic_shifting` off."""
    if cls == "LTXConditionPipeline":
        static = scratch / f"{folder.name}-static-shift"
        if not static.exists():
            shutil.copytree(folder, static)
            config_file = static / "scheduler" / "scheduler_config.json"
            config = json.loads(config_file.read_text())
            config["use_dynamic_shifting"] = False
            config_file.write_text(json.dumps(config))
        folder = static
    return direct_pipeline(cls, str(folder))


def _ltx_call(kw: dict, case: Case, pipe: Any) -> None:
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    kw.setdefault("frame_rate", case.get("fps"))
    if "timesteps" in kw and "timesteps" not in case.extra and len(kw["timesteps"]) != kw["num_inference_steps"]:
        del kw["timesteps"]  # the card's (distilled) timesteps fit only their own step count
    if case.task != "conditioned":
        return

    def condition(image: Any = None, video: Any = None, **rest: Any) -> LTXVideoCondition:
        return LTXVideoCondition(
            image=None if image is None else pil(image), video=None if video is None else frames(video), **rest
        )

    kw.pop("image", None), kw.pop("video", None), kw.pop("last_image", None)
    if "conditions" in case.extra:  # LTXVideoCondition objects as they are, dicts made into them
        kw["conditions"] = [c if isinstance(c, LTXVideoCondition) else condition(**c) for c in case.extra["conditions"]]
        return
    at = {"frame_index": kw.pop("frame_index", 0), "strength": kw.pop("strength", 1.0)}
    kw["conditions"] = [condition(image=case.fields["image"], **at)] if "image" in case.fields else []
    if "video" in case.fields:
        kw["conditions"].append(condition(video=case.fields["video"], **at))
    if "last_image" in case.fields:  # keyframes: the last image conditions the last frame
        kw["conditions"].append(condition(image=case.fields["last_image"], frame_index=kw["num_frames"] - 1))


def _ltx2_call(kw: dict, case: Case, pipe: Any) -> None:
    """LTX-2: frame_rate is the fps; conditions are LTX2VideoCondition(frames, index, strength, crf) at frames."""
    from diffusers.pipelines.ltx2 import LTX2VideoCondition

    kw.setdefault("frame_rate", float(case.get("fps")))
    if case.task != "conditioned":
        return
    crf = kw.pop("image_crf", case.card.call_defaults.get("image_crf"))
    listed = case.extra.get("conditions") or [
        {name if name != "last_image" else "image": case.fields[name], "frame_index": index}
        for name, index in (("image", 0), ("video", 0), ("last_image", kw["num_frames"] - 1))
        if name in case.fields
    ]
    kw.pop("image", None), kw.pop("video", None), kw.pop("last_image", None)
    kw["conditions"] = [
        LTX2VideoCondition(
            frames=pil(c["image"]) if "image" in c else frames(c["video"]),
            index=c.get("frame_index", 0),
            strength=c.get("strength", 1.0),
            crf=c.get("crf", crf) if "image" in c else None,
        )
        for c in listed
    ]


#: the transformer folders of the tiny FramePack folder, named like the real repos, by sampling type
FRAMEPACK_TRANSFORMERS = {"inverted_anti_drifting": "FramePackI2V_HY", "vanilla": "FramePack_F1_I2V_HY_20250503"}


def _framepack_load(cls: str, folder: Path, kw: dict, scratch: Path) -> Any:
    return framepack_docs_pipeline(str(folder), FRAMEPACK_TRANSFORMERS[kw["sampling_type"]])


def _framepack_call(kw: dict, case: Case, pipe: Any) -> int:
    """FramePack makes whole windows of 4·lws frames (+1) and counts (lws − 1)·4 + 1 frames a window in
    `num_frames`: ask for the fewest windows that cover num_frames and keep the first num_frames."""
    wanted, lws = kw["num_frames"], kw.get("latent_window_size", 9)
    windows = max(1, math.ceil((wanted - 1) / (4 * lws)))
    kw["num_frames"] = windows * ((lws - 1) * 4 + 1)
    return wanted


FAMILIES: dict[str, Direct] = {
    "svd": Direct(prompt=False, call=_svd_call),
    "i2vgen_xl": Direct(call=_i2vgen_xl_call),
    "hunyuanvideo": Direct(call=_hunyuanvideo_call),
    "ltx": Direct(load=_ltx_load, call=_ltx_call),
    "framepack": Direct(load=_framepack_load, call=_framepack_call),
    "ltx2": Direct(call=_ltx2_call),
    "hunyuanvideo15": Direct(call=_hunyuanvideo15_call),
    "skyreels_v2": Direct(call=_skyreels_v2_call),
    "wan_vace": Direct(call=_wan_vace_call),
    "wan_animate": Direct(call=_wan_animate_call),
    "sana_video": Direct(call=_sana_video_call),
    "easyanimate": Direct(call=_easyanimate_call),
    "animatediff": Direct(call=_animatediff_call),
    "allegro": Direct(load=_allegro_load),
    "latte": Direct(call=_latte_call),
    # wan, cogvideox, modelscope: the common translation (card call_defaults: guidance_scale_2,
    # max_sequence_length; v2v sizes and frame counts come from the video where the pipeline takes none)
}


# ---- non-default specs a family translates: (card, task, fields without prompt, name) ----------------------
def _condition_objects() -> dict[str, Any]:
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    return {"extra": {"conditions": [LTXVideoCondition(image=pil(image(seed=3)), frame_index=4)]}}


def box_mask(t: int | None = None, h: int = 32, w: int = 32) -> Any:
    """A mask white in a box (generate) and black around it (keep): H×W×3, or T×H×W×3 with the box moving."""
    import numpy as np

    def one(shift: int) -> Any:
        m = np.zeros((h, w, 3), np.uint8)
        m[h // 4 : 3 * h // 4, w // 4 + shift : w // 2 + shift] = 255
        return m

    return one(0) if t is None else np.stack([one(i % (w // 4)) for i in range(t)])


EXTRA: list[tuple[str, str, dict[str, Any] | Callable[[], dict[str, Any]], str]] = [
    ("tiny-wan_vace", "v2v", {"video": video(9), "mask": box_mask(9)}, "inpaint-mask-video"),
    (
        "tiny-wan_vace",
        "v2v",
        {"video": video(9), "mask": box_mask(), "reference_images": [image(seed=2)]},
        "mask-image-and-reference",
    ),
    ("tiny-wan_vace", "t2v", {"reference_images": [image(seed=2), image(24, 40, seed=3)]}, "reference-images"),
    (
        "tiny-wan_animate",
        "animate",
        {"image": image(seed=1), "pose_video": video(9), "face_video": video(11, 8, 8), "num_frames": 9},
        "two-segments",
    ),
    ("tiny-wan2.2", "t2v", {"extra": {"guidance_scale_2": 1.5}}, "second-expert-guidance"),
    ("tiny-ltx", "t2v", {"fps": 12}, "fps-is-frame_rate"),
    (
        "tiny-ltx",
        "conditioned",
        {"image": image(), "num_frames": 17, "extra": {"frame_index": 8, "strength": 0.6}},
        "image-at-frame",
    ),
    ("tiny-ltx", "conditioned", {"image": image(), "last_image": image(seed=1)}, "keyframes"),
    ("tiny-ltx", "conditioned", {"video": video(9)}, "video"),
    ("tiny-ltx", "conditioned", _condition_objects, "condition-objects"),
    (
        "tiny-ltx",
        "conditioned",
        {
            "num_frames": 17,
            "extra": {"conditions": [{"image": image(seed=2)}, {"video": video(9), "frame_index": 8, "strength": 0.8}]},
        },
        "condition-dicts",
    ),
    ("tiny-ltx-distilled", "t2v", {"steps": 2}, "steps-other-than-the-cards-timesteps"),
    ("tiny-ltx2", "t2v", {"fps": 25, "extra": {"audio_guidance_scale": 5.0, "stg_scale": 0.5}}, "fps-and-guidance"),
    ("tiny-ltx2", "conditioned", {"image": image(), "last_image": image(seed=1)}, "keyframes"),
    (
        "tiny-ltx2",
        "conditioned",
        {"extra": {"conditions": [{"image": image(seed=2), "frame_index": 4, "strength": 0.7, "crf": 0}]}},
        "image-at-frame",
    ),
    (
        "tiny-ltx2",
        "conditioned",
        {"num_frames": 17, "extra": {"conditions": [{"video": video(9), "frame_index": 8, "strength": 0.8}]}},
        "clip-at-frame",
    ),
    ("tiny-hunyuanvideo", "t2v", {"negative_prompt": "blurry", "extra": {"true_cfg_scale": 3.0}}, "true-cfg"),
    ("tiny-hunyuanvideo15", "t2v", {"negative_prompt": "blurry", "guidance_scale": 3.0}, "guider-scale"),
    ("tiny-hunyuanvideo15-i2v", "i2v", {"image": image(24, 40), "guidance_scale": 1.0}, "size-bucket-no-cfg"),
    ("tiny-kandinsky5", "t2v", {"negative_prompt": "blurry", "guidance_scale": 3.0}, "negative-prompt"),
    ("tiny-mochi", "t2v", {"negative_prompt": "blurry", "guidance_scale": 3.0, "num_frames": 13}, "negative-prompt"),
    (
        "tiny-skyreels_v2-df",
        "t2v",
        {"num_frames": 25, "extra": {"base_num_frames": 9, "overlap_history": 5, "addnoise_condition": 20}},
        "long-video-in-windows",
    ),
    ("tiny-skyreels_v2-df", "t2v", {"fps": 16, "extra": {"ar_step": 1, "causal_block_size": 1}}, "async-16fps"),
    (
        "tiny-skyreels_v2-df",
        "extend",
        {"video": video(7), "num_frames": 17, "extra": {"base_num_frames": 9, "overlap_history": 5}},
        "extension-in-windows",
    ),
    (
        "tiny-skyreels_v2-df",
        "i2v",
        {"image": image(), "num_frames": 17, "extra": {"base_num_frames": 9, "overlap_history": 5}},
        "image-long-video",
    ),
    # two windows' worth of video (the first frame and the last two windows read) and three new windows
    ("tiny-helios", "extend", {"video": video(11), "num_frames": 13}, "longer-video-more-windows"),
    (
        "tiny-animatediff",
        "t2v",
        {"num_frames": 12, "extra": {"free_noise": {"context_length": 8, "context_stride": 4}}},
        "free-noise-windows",
    ),
    ("tiny-framepack-f1", "i2v", {"image": image(), "num_frames": 9}, "trimmed-to-num_frames"),
    ("tiny-i2vgen-xl", "i2v", {"image": image(), "fps": 8}, "fps-is-target_fps"),
    (
        "tiny-i2vgen-xl",
        "i2v",
        {"image": image(), "fps": 8, "extra": {"target_fps": 4, "decode_chunk_size": 2}},
        "extra-target_fps",
    ),
    ("tiny-modelscope", "v2v", {"video": video(6), "num_frames": 4, "steps": 4}, "video-trimmed"),
    (
        "tiny-modelscope",
        "v2v",
        {"video": video(6), "num_frames": 4, "steps": 4, "extra": {"strength": 0.8}},
        "strength",
    ),
    ("tiny-modelscope", "v2v", {"video": video(4, h=40, w=48), "steps": 2}, "size-from-video"),
    ("tiny-svd", "i2v", {"image": image(), "guidance_scale": 2.0}, "guidance"),
    (
        "tiny-svd",
        "i2v",
        {
            "image": image(),
            "extra": {
                "fps": 12,
                "motion_bucket_id": 40,
                "noise_aug_strength": 0.1,
                "decode_chunk_size": 2,
                "min_guidance_scale": 1.5,
            },
        },
        "micro-conditioning",
    ),
    (
        "tiny-svd",
        "i2v",
        # a square image at 40x48: "stretch" hands it over as it is, and the pipeline stretches it as diffusers does
        {"image": image(), "height": 40, "width": 48, "num_frames": 3, "steps": 3, "fit": "stretch"},
        "size-frames-steps",
    ),
]


def _params() -> list:
    params = []
    for card in TINY:  # each card's cases together: its direct pipelines stay cached between them
        params += [pytest.param(card.name, task, None, id=f"{card.name}-{task}") for task in card.tasks]
        params += [
            pytest.param(card.name, task, fields, id=f"{card.name}-{task}-{name}")
            for model, task, fields, name in EXTRA
            if model == card.name
        ]
    return params


def test_extra_cases_name_tiny_cards_and_their_tasks() -> None:
    tasks = {card.name: card.tasks for card in TINY}
    assert all(task in tasks.get(model, ()) for model, task, _, _ in EXTRA)


def _direct_kwargs(cls: str, case: Case) -> dict[str, Any]:
    """The call a diffusers user writes from the card: the size, frame count, steps and guidance (given or
    the card's) and the card's call defaults where the pipeline takes them; the prompts and media given (always:
    a pipeline that doesn't take them is the wrong one); `extra` as given."""
    import diffusers

    params = set(inspect.signature(getattr(diffusers, cls).__call__).parameters)
    n = case.get("num_frames")
    settings = {
        "height": case.get("height"),
        "width": case.get("width"),
        "num_frames": n,
        "num_inference_steps": case.get("steps"),
        "guidance_scale": case.get("guidance_scale"),
        **case.card.call_defaults,
    }
    kwargs = {k: v for k, v in settings.items() if k in params}
    for name in ("prompt", "negative_prompt"):
        if case.fields.get(name) is not None:
            kwargs[name] = case.fields[name]
    for name in ("image", "last_image"):
        if case.fields.get(name) is not None:
            kwargs[name] = pil(case.fields[name])
    if case.fields.get("video") is not None:  # v2v: a longer video is cut to num_frames; an extension takes it all
        kwargs["video"] = frames(case.fields["video"][: n if case.task == "v2v" else None])
    return {**kwargs, **case.extra}


def _describe(kwargs: dict[str, Any]) -> dict[str, Any]:
    def one(v: Any) -> Any:
        if isinstance(v, Image.Image):
            return f"<PIL image {v.size[0]}x{v.size[1]}>"
        if isinstance(v, list) and v and isinstance(v[0], Image.Image):
            return f"<{len(v)} frames {v[0].size[0]}x{v[0].size[1]}>"
        return v

    return {k: one(v) for k, v in sorted(kwargs.items())}


@pytest.mark.parametrize(("model", "task", "fields"), _params())
def test_task_matches_direct_diffusers_call(
    model: str, task: str, fields: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    card = next(c for c in TINY if c.name == model)
    direct = FAMILIES.get(card.family, Direct())
    given = (fields() if callable(fields) else dict(fields)) if fields is not None else task_inputs(task, card)
    if direct.prompt:
        given = {"prompt": PROMPT, **given}
    case = Case(card, task, given)
    inferred = videogen.VideoSpec(**{k: v for k, v in given.items() if k != "extra"}).inferred_task()
    task_field = {} if inferred == task else {"task": task}  # inferred from the media where it can be

    result = videogen.generate(model=model, seed=SEED, progress=False, **task_field, **given)
    spec = result.spec
    asked = case.get("num_frames")  # a v2v video shorter than that sets the count
    shorter = min(asked, len(given.get("video", range(asked)))) if task == "v2v" else asked
    assert spec.task == task and spec.num_frames == shorter
    # an extension: the video, then num_frames more (Helios's pipeline returns the new frames alone)
    before = len(given["video"]) if task == "extend" and card.family in EXTEND_KEEPS_VIDEO else 0
    assert result.frames.shape == (before + spec.num_frames, spec.height, spec.width, 3)
    assert result.fps == case.get("fps")  # playback: the spec's fps, whatever conditioning extra sets

    cls = result.metadata["model"]["pipeline"]
    kwargs = _direct_kwargs(cls, case)
    folder = tiny_folder(card.family, card.tiny)
    scratch = tmp_path_factory.getbasetemp()
    pipe = direct.load(cls, folder, kwargs, scratch) if direct.load else direct_pipeline(cls, str(folder))
    keep = direct.call(kwargs, case, pipe) if direct.call else None
    context = f"\nvideogen called {cls} with {result.metadata['call']}\nthe direct call: {_describe(kwargs)}"
    assert_frames_close(result.frames, run_direct(pipe, SEED, trim=keep, **kwargs), context=context)
