"""Property: a spec that validates runs. Random edge values on every tiny model and task, actually generated:
each outcome is frames (finite, the spec's shape) or a SpecError raised before any weight is used — nothing else.

Edge values: the fewest steps, no guidance, the smallest sizes and frame counts, the largest allowed frame count,
empty / very long / unicode prompts, odd images (1×1, 512×8, grayscale, RGBA, 16-bit) and videos, scheduler swaps
(the model's compatible classes) with arguments (valid, degenerate and wrong), step caches. Seeded: the same specs
every run. A SpecError must come from `prepare` + `check_before_load` (which load nothing) and leave the pipeline
cache untouched; a run must give finite frames (a NaN schedule decodes to a black video).

The counts are printed (`pytest -s`): runs, refusals, per model; the first tests are the crashes it found, each
a SpecError before load now.
"""

from __future__ import annotations

import importlib.util
import os
import random
import time
import warnings
from collections import Counter
from typing import Any

import numpy as np
import pytest
from helpers import image
from PIL import Image

import videogen
import videogen.generation.flow
import videogen.generation.output
import videogen.loading.pipelines
from videogen.catalog.signatures import scheduler_info
from videogen.checks.rules import frames_limit
from videogen.errors import SpecError
from videogen.families import get_family
from videogen.generation.flow import check_before_load, prepare
from videogen.loading.schedulers import compatible_schedulers, pipeline_scheduler

PROMPT = "a white ferret leaps into a stream"
IMG = image(32, 32)


# ---- the crashes it found: each a SpecError before load now (field, words of the message) --------------------
CRASHES: list[tuple[str, dict[str, Any], str, list[str]]] = [
    # FlowMatchEuler's stretch to shift_terminal divides by zero on a one-step schedule: IndexError, or NaN frames
    ("ltx steps=1", {"model": "tiny-ltx", "steps": 1}, "steps", ["shift_terminal", "at least 2", "steps=2"]),
    ("ltx i2v steps=1", {"model": "tiny-ltx", "image": IMG, "steps": 1}, "steps", ["steps=2"]),
    (
        "ltx conditioned steps=1 (NaN: a black video)",
        {"model": "tiny-ltx", "task": "conditioned", "image": IMG, "steps": 1},
        "steps",
        ["steps=2"],
    ),
    ("ltx distilled steps=1", {"model": "tiny-ltx-distilled", "steps": 1}, "steps", ["steps=2"]),
    # the pipeline passes sigmas (or timesteps) the scheduler's set_timesteps doesn't take: ValueError
    *[
        (
            f"{model} {task} DPM (sigmas)",
            {"model": model, "task": task, **media, "scheduler": "DPMSolverMultistepScheduler"},
            "scheduler",
            ["custom sigmas", "set_timesteps", "FlowMatchEulerDiscreteScheduler"],
        )
        for model, task, media in [
            ("tiny-ltx", "t2v", {}),
            ("tiny-ltx", "i2v", {"image": IMG}),
            ("tiny-framepack", "i2v", {"image": IMG}),
            ("tiny-hunyuanvideo", "t2v", {}),
        ]
    ],
    *[
        (
            f"{model} {task} UniPC (timesteps)",
            {"model": model, "task": task, "image": IMG, "scheduler": "UniPCMultistepScheduler"},
            "scheduler",
            ["custom timesteps", "set_timesteps", "FlowMatchEulerDiscreteScheduler"],
        )
        for model, task in [("tiny-ltx", "conditioned"), ("tiny-ltx-distilled", "i2v")]
    ],
    # DPM takes timesteps, but with flow sigmas its set_timesteps computes None + 1: TypeError
    (
        "ltx distilled DPM",
        {"model": "tiny-ltx-distilled", "scheduler": "DPMSolverMultistepScheduler"},
        "scheduler",
        ["TypeError", "use one of FlowMatchEulerDiscreteScheduler"],
    ),
    # scheduler argument values: UFuncTypeError and ZeroDivisionError after load
    (
        "flow_shift='abc'",
        {"model": "tiny-wan", "scheduler": {"name": "UniPCMultistepScheduler", "flow_shift": "abc"}},
        "scheduler",
        ["flow_shift='abc'", "a float", "flow_shift=1.0"],
    ),
    (
        "num_train_timesteps=0",
        {"model": "tiny-wan", "scheduler": {"name": "UniPCMultistepScheduler", "num_train_timesteps": 0}},
        "scheduler",
        ["num_train_timesteps=0", "positive", "num_train_timesteps=1000"],
    ),
    (
        "a value outside a Literal",
        {"model": "tiny-wan", "scheduler": {"name": "UniPCMultistepScheduler", "timestep_spacing": "sideways"}},
        "scheduler",
        ["timestep_spacing='sideways'", "one of 'linspace', 'leading', 'trailing'"],
    ),
    # scheduler/pipeline mismatches that were SpecErrors only after the weights loaded
    (
        "cogvideox CogVideoXDPMScheduler",
        {"model": "tiny-cogvideox", "scheduler": "CogVideoXDPMScheduler"},
        "scheduler",
        ["its scheduler is CogVideoXDDIMScheduler", "use one of", "DDIMScheduler"],
    ),
    (
        "cogvideox i2v RePaintScheduler",
        {"model": "tiny-cogvideox-i2v", "image": IMG, "scheduler": "RePaintScheduler"},
        "scheduler",
        ["its scheduler is CogVideoXDPMScheduler", "use one of"],
    ),
    (
        "i2vgen-xl FlowMatchLCMScheduler",
        {"model": "tiny-i2vgen-xl", "image": IMG, "scheduler": "FlowMatchLCMScheduler"},
        "scheduler",
        ["its scheduler is DDIMScheduler", "use one of"],
    ),
    (
        "cogvideox extra timesteps its DDIM doesn't take",
        {"model": "tiny-cogvideox", "extra": {"timesteps": [999, 500]}},
        "extra",
        ["extra['timesteps']", "CogVideoXDDIMScheduler", "leave extra['timesteps'] out"],
    ),
    # swapped schedulers whose schedule breaks on the model's config: ValueError, IndexError, AssertionError,
    # or NaN latents (a black video)
    (
        "svd PNDM at 2 steps",
        {"model": "tiny-svd", "image": IMG, "scheduler": "PNDMScheduler"},
        "scheduler",
        ["PNDMScheduler", "steps=4 or more"],
    ),
    (
        "svd UniPC at 4 steps (karras sigmas: repeated timesteps)",
        {"model": "tiny-svd", "image": IMG, "scheduler": "UniPCMultistepScheduler", "steps": 4},
        "scheduler",
        ["AssertionError", "use one of", "EulerDiscreteScheduler"],
    ),
    (
        "svd KDPM2Ancestral (NaN latents)",
        {"model": "tiny-svd", "image": IMG, "scheduler": "KDPM2AncestralDiscreteScheduler"},
        "scheduler",
        ["non-finite", "use one of"],
    ),
    # Wan's rotary table has rope_max_seq_len rows per axis: RuntimeError beyond them
    (
        "wan 129 frames (rope_max_seq_len=32)",
        {"model": "tiny-wan", "num_frames": 129},
        "num_frames",
        ["rope_max_seq_len=32", "at most 125", "num_frames=125"],
    ),
    (
        "wan height 528 (rope_max_seq_len=32)",
        {"model": "tiny-wan", "height": 528},
        "height",
        ["rope_max_seq_len=32", "height=512"],
    ),
    # first-last-frame on one frame: WanImageToVideoPipeline pads num_frames - 2 frames between the images
    (
        "wan flf2v one frame (RuntimeError: negative dimension)",
        {"model": "tiny-wan-flf2v", "image": IMG, "last_image": IMG, "num_frames": 1},
        "num_frames",
        ["two different frames", "num_frames=5"],
    ),
    # SVD's image encoder blurs the image with reflect padding before resizing it: RuntimeError on a 1-px side
    (
        "svd 1x1 image (RuntimeError: padding)",
        {"model": "tiny-svd", "image": np.full((1, 1, 3), 200, np.uint8)},
        "image",
        ["1x1", "at least 2x2"],
    ),
    # LoRA sources that are no LoRA: a generic error at load ("x" first tried the network)
    ("lora /etc/passwd", {"model": "tiny-wan", "loras": ["/etc/passwd"]}, "loras", [".safetensors or .bin"]),
    ("lora 'x'", {"model": "tiny-wan", "loras": ["x"]}, "loras", ["not a Hub repo id (org/name)", "LoRA('org/name'"]),
]


@pytest.mark.parametrize(("fields", "field", "words"), [c[1:] for c in CRASHES], ids=[c[0] for c in CRASHES])
def test_crash_found_is_a_spec_error_before_any_load(
    fields: dict, field: str, words: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = type(videogen.loading.pipelines.CACHE)()  # empty: a load the shared cache would answer counts here
    monkeypatch.setattr(videogen.loading.pipelines, "CACHE", fresh)
    accepts_prompt = get_family(videogen.resolve(fields["model"]).family).accepts_prompt
    spec = {**({"prompt": PROMPT} if accepts_prompt else {}), **fields}
    with pytest.raises(SpecError) as info:
        prepare(**spec)  # loads nothing
    assert info.value.field == field, str(info.value)
    for word in words:
        assert word in str(info.value), str(info.value)
    with pytest.raises(SpecError):
        videogen.generate(progress=False, **spec)
    assert fresh.loads == 0 and len(fresh) == 0, "weights loaded before the SpecError"


@pytest.mark.parametrize(
    "fields",
    [
        {"model": "tiny-ltx", "steps": 2},
        {"model": "tiny-ltx", "scheduler": "UniPCMultistepScheduler"},
        {"model": "tiny-ltx-distilled", "task": "conditioned", "image": IMG, "steps": 1, "extra": {"timesteps": [500]}},
        {"model": "tiny-wan", "num_frames": 125, "steps": 1},
        {"model": "tiny-svd", "image": IMG, "scheduler": "PNDMScheduler", "steps": 4},
        {"model": "tiny-wan", "scheduler": {"name": "UniPCMultistepScheduler", "shift_terminal": 0.2}},
        {"model": "tiny-wan-flf2v", "image": IMG, "last_image": IMG, "num_frames": 1, "snap": True},
        {"model": "tiny-svd", "image": np.full((2, 2, 3), 200, np.uint8)},
    ],
    ids=[
        "ltx 2 steps",
        "ltx UniPC",
        "ltx one custom step",
        "wan 125 frames",
        "svd PNDM 4 steps",
        "UniPC float flag",
        "flf2v snapped to 5 frames",
        "svd 2x2 image",
    ],
)
def test_the_values_next_to_a_refusal_run(fields: dict) -> None:
    """What the refusals point to runs: finite frames of the spec's shape (no rule refuses too much)."""
    accepts_prompt = get_family(videogen.resolve(fields["model"]).family).accepts_prompt
    result = videogen.generate(progress=False, seed=3, **({"prompt": PROMPT} if accepts_prompt else {}), **fields)
    assert result.frames.shape == (result.spec.num_frames, result.spec.height, result.spec.width, 3)
    assert result.frames.max() > 0  # not the black video of a NaN schedule


# ---- the property -------------------------------------------------------------------------------------------
#: the specs' seed: the same specs every run; another seed (VIDEOGEN_EDGE_SEED=...) explores further
SEED = int(os.environ.get("VIDEOGEN_EDGE_SEED", "16003"))
PER_TASK = 10  # specs per (model, task): 26 pairs → 260 specs (and a few follow-ups)
#: scheduler arguments tried where the class takes them: valid, degenerate and wrong values
SCHEDULER_ARGS: dict[str, list[Any]] = {
    "flow_shift": [0.5, 7.0, 0, "abc"],
    "shift": [3.0, 0.0],
    "solver_order": [1, 3],
    "num_train_timesteps": [0, 1, 999],
    "timestep_spacing": ["trailing", "leading", "sideways"],
    "use_karras_sigmas": [True],
    "use_dynamic_shifting": [True],
    "beta_schedule": ["squaredcos_cap_v2"],
}
PROMPTS = ["", "   ", PROMPT, "ferret " * 400, "é🎞 中文 \u202eferret\u202c ñ \U0001f9a6", "a\nb\tc"]


def odd_image(rng: random.Random) -> Any:
    """An image as users pass them: odd sizes, modes and bit depths."""
    kind = rng.choice(["1x1", "512x8", "8x512", "gray", "gray-array", "rgba", "16-bit", "16-bit-array", "plain"])
    if kind == "1x1":
        return np.full((1, 1, 3), 200, np.uint8)
    if kind in ("512x8", "8x512"):
        h, w = (512, 8) if kind == "512x8" else (8, 512)
        return image(h, w, seed=rng.randrange(9))
    if kind == "gray":
        return Image.fromarray(np.ascontiguousarray(image(24, 40)[..., 0]))  # mode L
    if kind == "gray-array":
        return image(24, 40)[..., 1]
    if kind == "rgba":
        rgba = np.concatenate([image(40, 24), np.full((40, 24, 1), 128, np.uint8)], -1)
        return Image.fromarray(rgba)  # mode RGBA
    if kind == "16-bit":
        return Image.fromarray(image(32, 32)[..., 0].astype(np.uint16) * 257)  # mode I;16
    if kind == "16-bit-array":
        return image(32, 32).astype(np.uint16) * 257
    return image(32, 32)


def odd_video(rng: random.Random) -> Any:
    kind = rng.choice(["one frame", "gray", "rgba", "plain", "pil"])
    frames = rng.choice([1, 5, 9]) if kind != "one frame" else 1
    clip = np.stack([image(32, 32, seed=i) for i in range(frames)])
    if kind == "gray":
        return clip[..., 0]
    if kind == "rgba":
        return np.concatenate([clip, np.full(clip.shape[:-1] + (1,), 255, np.uint8)], -1)
    if kind == "pil":
        return [Image.fromarray(f) for f in clip]
    return clip


def scheduler_choice(rng: random.Random, card: videogen.ModelCard, family: Any) -> Any:
    """None (the model's own), or a class the model's scheduler can be swapped for, maybe with arguments."""
    own = pipeline_scheduler(card, family)
    names = [
        n
        for n in compatible_schedulers(own["_class_name"], family.flow_matching)
        if all(importlib.util.find_spec(b) for b in (scheduler_info(n) or {}).get("backends", ()) if b != "torch")
    ]
    name = rng.choice(names)
    takes = [k for k in SCHEDULER_ARGS if k in ((scheduler_info(name) or {}).get("init") or {})]
    chosen = rng.sample(takes, k=min(len(takes), rng.choice([0, 1, 1, 2])))
    if not chosen:
        return name
    return {"name": name, **{k: rng.choice(SCHEDULER_ARGS[k]) for k in chosen}}


def edge_spec(rng: random.Random, card: videogen.ModelCard, task: str, index: int) -> dict[str, Any]:
    """One spec for `card` doing `task`: a valid one with one to three edge values (the first of each pair: the
    largest allowed frame count, at the smallest size and the fewest steps, so seconds rather than minutes)."""
    family = get_family(card.family)
    smallest = card.sizes[0] if card.sizes else (card.size_multiple, card.size_multiple)
    fields: dict[str, Any] = {"model": card.name, "task": task, "seed": rng.randrange(2**63)}
    if family.accepts_prompt:
        fields["prompt"] = PROMPT
    media = {
        "i2v": ["image"],
        "flf2v": ["image", "last_image"],
        "conditioned": ["image"],
        "v2v": ["video"],
        "extend": ["video"],
        "animate": ["image", "pose_video", "face_video"],  # Wan Animate: a character and its driving videos
        "replace": ["image", "pose_video", "face_video", "video", "mask"],
    }
    videos = ("video", "pose_video", "face_video")
    for name in media.get(task, []):  # the first spec of each pair: 9 plain frames, which every video input takes
        plain = np.stack([image(32, 32, seed=i) for i in range(9)])
        fields[name] = (
            (plain if index == 0 else odd_video(rng)) if name in videos else image(32, 32, seed=rng.randrange(9))
        )
    if task == "extend" and card.family == "skyreels_v2":  # the tiny video is shorter than the default overlap
        fields["extra"] = {"overlap_history": 5}  # (17): the matrix test's 5
    edges: dict[str, Any] = {
        "steps": lambda: rng.choice([1, 1, 2, 3]),
        "guidance_scale": lambda: rng.choice([0.0, 1.0, 100.0]),
        "size": lambda: rng.choice([smallest, smallest, (8, 8), (card.size_multiple * 2, card.size_multiple)]),
        "num_frames": lambda: rng.choice([1, 2, 5, card.num_frames, card.max_frames or 17]),
        "snap": lambda: True,
        "fps": lambda: rng.choice([1, 240]),
        "prompt": lambda: rng.choice(PROMPTS) if family.accepts_prompt else "a ferret",  # SVD: none taken
        "negative_prompt": lambda: rng.choice(PROMPTS) if family.accepts_prompt else None,
        "media": lambda: None,
        "scheduler": lambda: scheduler_choice(rng, card, family),
        "cache": lambda: rng.choice(["none", "auto", *family.cache_methods]),
    }
    chosen = rng.sample(sorted(edges), k=rng.choice([1, 2, 2, 3]))
    if index == 0:
        fields.update(num_frames=frames_limit(card)[0], height=smallest[0], width=smallest[1], steps=1, snap=True)
        chosen = [c for c in chosen if c not in ("steps", "size", "num_frames", "snap")]
    for edge in chosen:
        value = edges[edge]()
        if edge == "size":
            fields["height"], fields["width"] = value
        elif edge == "media":
            for name in media.get(task, []):
                fields[name] = odd_video(rng) if name in videos else odd_image(rng)
        else:
            fields[edge] = value
    return {k: v for k, v in fields.items() if v is not None}


def all_cases() -> list[tuple[str, dict[str, Any]]]:
    """PER_TASK specs per tiny model and task, each pair from its own random sequence (seeded by SEED and the
    pair), so a model or task added to the catalog changes no other pair's specs."""
    cards = [c for c in videogen.list_models(include_tiny=True) if c.name.startswith("tiny-")]
    cases = []
    for card in cards:
        for task in card.tasks:
            rng = random.Random(f"{SEED}/{card.name}/{task}")
            cases += [(f"{card.name}/{task}", edge_spec(rng, card, task, i)) for i in range(PER_TASK)]
    return cases


def show(fields: dict[str, Any]) -> str:
    def short(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            return f"<array {v.shape} {v.dtype}>"
        if isinstance(v, Image.Image):
            return f"<PIL {v.mode} {v.size}>"
        if isinstance(v, list) and v and isinstance(v[0], Image.Image):
            return f"<{len(v)} PIL frames>"
        if isinstance(v, str) and len(v) > 60:
            return v[:20] + f"...({len(v)} chars)"
        return v

    return repr({k: short(v) for k, v in fields.items()})


@pytest.mark.slow
def test_edge_specs_run_or_are_spec_errors_before_any_load(monkeypatch: pytest.MonkeyPatch) -> None:
    from videogen.loading.pipelines import CACHE

    finite: list[bool] = []
    to_uint8 = videogen.generation.output.to_uint8

    def checked(frames: Any) -> Any:  # the call's float frames, before rounding hides a NaN as black
        finite.append(bool(np.isfinite(np.asarray(frames, dtype=np.float64)).all()))
        return to_uint8(frames)

    monkeypatch.setattr(videogen.generation.output, "to_uint8", checked)
    cases = all_cases()
    counts: Counter[str] = Counter()
    per_model: dict[str, Counter[str]] = {}
    start = time.perf_counter()
    for name, fields in cases:  # grows: a refused "most frames" spec is followed by the count the refusal names
        tally = per_model.setdefault(name, Counter())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                check_before_load(prepare(**fields))  # everything before load: loads nothing
                refused: SpecError | None = None
            except SpecError as exc:
                refused = exc
            loads = CACHE.loads
            finite.clear()
            try:
                result = videogen.generate(progress=False, **fields)
            except SpecError as exc:
                assert refused is not None, f"a SpecError after the checks before load: {exc} for {show(fields)}"
                assert (exc.field, str(exc)) == (refused.field, str(refused)), show(fields)
                assert CACHE.loads == loads, f"weights loaded before the SpecError {exc} for {show(fields)}"
                counts["refused"] += 1
                tally["refused"] += 1
                counts[f"refused on {exc.field}"] += 1
                largest = fields.get("num_frames") == frames_limit(videogen.resolve(fields["model"]))[0]
                if largest and exc.field == "num_frames" and isinstance(exc.valid, int):
                    cases.append((name, {**fields, "num_frames": exc.valid}))  # the largest count the model takes
                continue
            except Exception as exc:  # never: a spec that validates must run
                raise AssertionError(f"{type(exc).__name__}: {exc} for {show(fields)}") from exc
        assert refused is None, f"refused before load ({refused}) but generate ran: {show(fields)}"
        frames, spec = result.frames, result.spec
        # extend: the video, then more (Helios returns the new frames alone)
        keeps = spec.task == "extend" and videogen.resolve(fields["model"]).family == "skyreels_v2"
        made = spec.num_frames + (len(fields["video"]) if keeps else 0)
        assert frames.dtype == np.uint8 and frames.shape == (made, spec.height, spec.width, 3), (
            frames.shape,
            show(fields),
        )
        assert finite == [True], f"non-finite frames (a black video) for {show(fields)}"
        counts["ran"] += 1
        tally["ran"] += 1
    seconds = time.perf_counter() - start
    summary = (
        f"edge property: {len(cases)} specs over {len(per_model)} tiny model×task pairs: {counts['ran']} ran, "
        f"{counts['refused']} refused with a SpecError before load, in {seconds:.1f} s; refusals by field: "
        + ", ".join(f"{k[11:]} {v}" for k, v in sorted(counts.items()) if k.startswith("refused on "))
    )
    print("\n" + summary)
    for name, tally in per_model.items():
        print(f"  {name}: {tally['ran']} ran, {tally['refused']} refused")
    assert len(cases) >= 150, summary
    assert counts["ran"] + counts["refused"] == len(cases), summary
    assert all(tally["ran"] >= 1 for tally in per_model.values()), (summary, per_model)
    assert counts["ran"] >= len(cases) // 4 and counts["refused"] >= len(cases) // 4, summary
