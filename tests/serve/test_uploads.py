"""Every spec input uploaded as a multipart file field of its own name (serve/uploads.py), sent with the official
`openai` client's `post` (its `videos.create` sends only `input_reference`): a v2v video and VACE's mask and
reference images give the direct `generate` video, are hashed in the output's metadata, go with a remix and are
removed with their job; the caps, a bad file and an input the task doesn't take are refused naming the field."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import Server, openai
from helpers import image, video
from PIL import Image

import videogen
from videogen.media.write import write_video

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _create(server: Server, files: list[tuple[str, Any]], **fields: Any) -> Any:
    """POST /v1/videos as multipart with these files (a field repeated for several), through the openai client."""
    return server.client().post(
        "/videos",
        cast_to=openai.types.Video,
        body=fields,
        files=files,
        options={"headers": {"Content-Type": "multipart/form-data"}},
    )


def _completed(server: Server, video_id: str) -> dict[str, Any]:
    done = server.wait(video_id, lambda v: v["status"] in ("completed", "failed"))
    assert done["status"] == "completed", done
    return done


def _png(path: Path, pixels: np.ndarray) -> Path:
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    mask = np.zeros((32, 32, 3), np.uint8)
    mask[:, 16:] = 255  # VACE makes the right half
    return {
        "video": write_video(video(9), folder / "in.mp4", fps=8),
        "mask": _png(folder / "mask.png", mask),
        "ref0": _png(folder / "ref0.png", image(seed=1)),
        "ref1": _png(folder / "ref1.png", image(seed=2)),
    }


def _uploads(server: Server) -> set[str]:
    return {p.name for p in (server.state / "uploads").iterdir()}


def test_v2v_and_vace_with_uploaded_inputs(server: Server, inputs: dict[str, Path]) -> None:
    """A v2v job with an uploaded video, and a VACE job with a video, a mask and two reference images: the direct
    `generate` frames; the files hashed in the metadata, copied for a remix, removed with their job. One test, so
    one server loads both models."""
    before = _uploads(server)
    with inputs["video"].open("rb") as clip:
        v2v = _create(server, [("video", clip)], model="tiny-wan", prompt="it flows", steps=2, seed=5)
    names = {"video": "video", "mask": "mask", "ref0": "reference_images", "ref1": "reference_images"}
    files = [(field, inputs[n].open("rb")) for n, field in names.items()]
    try:
        vace = _create(server, files, model="tiny-wan_vace", prompt="a ferret", steps=2, seed=9)
    finally:
        for _, f in files:
            f.close()
    direct = [  # here while the server runs the jobs
        videogen.generate(
            model="tiny-wan", prompt="it flows", video=str(inputs["video"]), steps=2, seed=5, progress=False
        ),
        videogen.generate(
            model="tiny-wan_vace",
            prompt="a ferret",
            video=str(inputs["video"]),
            mask=str(inputs["mask"]),
            reference_images=[str(inputs["ref0"]), str(inputs["ref1"])],
            steps=2,
            seed=9,
            progress=False,
        ),
    ]
    done = [_completed(server, job.id) for job in (v2v, vace)]
    assert [d["frames_sha256"] for d in done] == [d.frames_sha256 for d in direct]
    assert direct[1].spec.task == "v2v" and direct[1].metadata["inputs"].keys() == {"video", "mask", "reference_images"}
    assert _input_hashes(server, v2v.id) == {"video": hashlib.sha256(inputs["video"].read_bytes()).hexdigest()}
    assert len(_uploads(server) - before) == 5  # stored with the jobs (the video as sent, the images as PNG)

    remix = server.client().videos.remix(vace.id, prompt="a stoat")  # the same uploads, copied for the remix
    remixed = _completed(server, remix.id)
    assert remixed["frames_sha256"] != done[1]["frames_sha256"]
    hashed = [_input_hashes(server, v) for v in (vace.id, remix.id)]
    assert hashed[0] == hashed[1] and len(hashed[0]["reference_images"]) == 2, hashed  # the same inputs
    for job in (v2v, vace, remix):
        server.client().videos.delete(job.id)
    assert _uploads(server) == before  # removed with their jobs


def _input_hashes(server: Server, video_id: str) -> dict[str, Any]:
    """The sha256 of each input file the output's metadata records (a list for reference_images)."""
    inputs = json.loads((server.state / "outputs" / f"{video_id}.mp4.json").read_text())["inputs"]
    return {k: [i["sha256"] for i in v] if isinstance(v, list) else v["sha256"] for k, v in inputs.items()}


def test_upload_refusals_name_the_field(server: Server, inputs: dict[str, Path], tmp_path: Path) -> None:
    before, queued = _uploads(server), len(server.request("GET", "/v1/videos?limit=100")[1]["data"])
    big = tmp_path / "big.mp4"
    big.write_bytes(inputs["video"].read_bytes()[:16] + bytes(200_000))  # over --max-upload-bytes 100000
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\nfile:///etc/passwd\n")  # a playlist, not a video
    clip, mask = inputs["video"].read_bytes(), inputs["mask"].read_bytes()
    for files, status, param, says in [
        ([("video", big.read_bytes())], 413, "video", "100000 bytes"),
        ([("video", garbage.read_bytes())], 400, "video", "neither a video container nor an image"),
        ([("video", clip), ("mask", mask)], 400, "mask", "not used by video-to-video"),  # SpecError of the task
        ([("poster", mask)], 400, "poster", "reference_images"),
        ([("video", clip), ("video", clip)], 400, "video", "one file"),
        ([("reference_images", mask)] * 17, 400, "reference_images", "at most 16"),
        ([("input_reference", mask), ("image", mask)], 400, "image", "as input_reference"),  # one image, two names
    ]:
        with pytest.raises(openai.APIStatusError) as caught:
            _create(server, files, model="tiny-wan", prompt="x", steps=2)
        error = caught.value.body
        assert caught.value.status_code == status and error["param"] == param and says in error["message"], error
        assert "/etc/passwd" not in error["message"]
    reference = {"model": "tiny-wan-i2v", "prompt": "x", "input_reference": {"image_url": "https://x.example/a.png"}}
    status, body = server.request("POST", "/v1/videos", reference)  # OpenAI's reference object: never ignored
    assert status == 400 and body["error"]["param"] == "input_reference", body
    assert _uploads(server) == before  # nothing of a refused request stays
    assert len(server.request("GET", "/v1/videos?limit=100")[1]["data"]) == queued


def test_a_new_row_of_the_inputs_table_is_an_upload_field(
    monkeypatch: pytest.MonkeyPatch, inputs: dict[str, Path], tmp_path: Path
) -> None:
    """serve/ holds no list of inputs: a row added to spec/inputs.py is a file field, stored by its kind."""
    import asyncio
    import io

    from starlette.datastructures import UploadFile

    from videogen.serve.store import Store
    from videogen.serve.uploads import max_files, save_uploads, spec_field, upload_fields
    from videogen.spec.inputs import INPUTS, Input

    assert upload_fields() == ["input_reference", *INPUTS] and spec_field("input_reference") == "image"
    before = max_files()
    monkeypatch.setitem(INPUTS, "depth_video", Input("depth_video", "video", "a depth video"))
    assert spec_field("depth_video") == "depth_video" and max_files() == before + 1
    store = Store(tmp_path)
    upload = UploadFile(io.BytesIO(inputs["video"].read_bytes()), filename="depth.mp4")
    saved = asyncio.run(save_uploads([("depth_video", upload)], store, 10**6))
    assert Path(saved["depth_video"]).read_bytes() == inputs["video"].read_bytes()
