"""Property: for every catalog card, any size and frame count either passes as given, or is a SpecError
on that field — and with snap=True it is rounded to values that satisfy the card's rules."""

from __future__ import annotations

import warnings

import pytest
from helpers import image, video
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import videogen
from videogen.catalog.lookup import list_models
from videogen.checks.rules import complete
from videogen.families import get_family
from videogen.generation.flow import build_spec, load_media

IMAGE = image(64, 64)
DRIVING = video(200, 16, 16)


def inputs_for(card) -> dict:
    task = "t2v" if "t2v" in card.tasks else "i2v" if "i2v" in card.tasks else card.tasks[0]
    fields: dict = {"model": card.name, "task": task}
    if task in ("i2v", "flf2v"):
        fields["image"] = IMAGE
    if task == "flf2v":
        fields["last_image"] = IMAGE
    if task == "animate":  # Wan Animate: the character and driving videos as long as the most frames drawn below
        fields.update(image=IMAGE, pose_video=DRIVING, face_video=DRIVING)
    if get_family(card.family).accepts_prompt:
        fields["prompt"] = "a ferret"
    return fields


def satisfies_rules(card, spec) -> bool:
    if card.sizes:
        size_ok = (spec.height, spec.width) in card.sizes
    else:
        size_ok = spec.height % card.size_multiple == 0 and spec.width % card.size_multiple == 0
    frames_ok = True
    if card.frame_rule:
        step, offset = card.frame_rule
        frames_ok = (spec.num_frames - offset) % step == 0
    if card.max_frames:
        frames_ok = frames_ok and spec.num_frames <= card.max_frames
    return size_ok and frames_ok


CARDS = [c for c in list_models() if c.tasks != ("v2v",) and "conditioned" not in c.tasks[:1]]


@pytest.mark.parametrize("card", CARDS, ids=[c.name for c in CARDS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(h=st.integers(16, 1600), w=st.integers(16, 1600), frames=st.integers(1, 200))
def test_rules_pass_refuse_or_snap(card, h: int, w: int, frames: int) -> None:
    family = get_family(card.family)
    fields = {**inputs_for(card), "height": h, "width": w, "num_frames": frames}
    spec = build_spec(None, fields)
    try:
        done, _ = complete(spec, card, family, load_media(spec))
    except videogen.SpecError as err:
        assert err.field in ("height", "width", "num_frames"), str(err)
        assert "snap=True" in str(err) or err.field == "num_frames", str(err)
    else:
        assert (done.height, done.width, done.num_frames) == (h, w, frames) or card.family == "framepack"
        assert satisfies_rules(card, done)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", videogen.SnapWarning)
        snapped, _ = complete(spec.replace(snap=True), card, family, load_media(spec))
    assert satisfies_rules(card, snapped), (snapped.height, snapped.width, snapped.num_frames)
