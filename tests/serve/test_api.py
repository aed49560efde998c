"""`videogen serve` driven by the official `openai` client: a restart after SIGKILL, create/poll, content, list,
delete, remix, events, validation and the security refusals, against one real server (uvicorn in a subprocess,
tiny models)."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
import urllib.request
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import TOKEN, Server, openai

import videogen
from videogen.media.read import read_video

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the client marks videos deprecated
warnings.filterwarnings("ignore", category=DeprecationWarning)


def _decoded(data: bytes, folder: Path, name: str) -> np.ndarray:
    path = folder / name
    path.write_bytes(data)
    return read_video(path)[0]


def test_sigkill_while_running_loses_nothing(server: Server) -> None:
    """SIGKILL while a job runs (here: loading its model) and two wait; restart on the same state: all three
    complete exactly once, no partial or temp file; a retried POST with the same idempotency key is the same
    job. First in this module: the tests after it use the restarted server."""
    long = {"model": "tiny-wan", "prompt": "long", "steps": 20, "seed": 1}
    status, running = server.request("POST", "/v1/videos", long, headers={"Idempotency-Key": "k-long"})
    assert status == 200
    queued = [server.request("POST", "/v1/videos", {"model": "tiny-wan", "prompt": p, "steps": 2})[1] for p in "ab"]
    server.wait(running["id"], lambda v: v["status"] == "in_progress")
    server.kill()
    with sqlite3.connect(server.state / "jobs.sqlite3") as db:
        rows = dict(db.execute("SELECT id, status FROM jobs").fetchall())
    assert rows == {running["id"]: "in_progress", queued[0]["id"]: "queued", queued[1]["id"]: "queued"}

    server.start()
    again = server.request("POST", "/v1/videos", long, headers={"Idempotency-Key": "k-long"})[1]
    assert again["id"] == running["id"]  # the retried POST is the same job
    done = [server.wait(v["id"], lambda v: v["status"] == "completed") for v in (running, *queued)]
    assert [v["attempts"] for v in done] == [2, 1, 1]  # the killed run counted; each completed once
    outputs = sorted(p.name for p in (server.state / "outputs").iterdir())
    expected = sorted(f"{v['id']}{suffix}" for v in done for suffix in (".jpg", ".mp4", ".mp4.json"))
    assert outputs == expected  # no partial output, no temp file


def test_t2v_create_and_poll_gives_the_direct_generate_video(server: Server, tmp_path: Path) -> None:
    client = server.client()
    video = client.videos.create_and_poll(
        model="tiny-wan", prompt="a ferret", size="32x32", poll_interval_ms=50, extra_body={"steps": 2, "seed": 7}
    )
    assert video.status == "completed" and video.progress == 100, video
    assert video.size == "32x32" and video.model == "tiny-wan"
    direct = videogen.generate(
        model="tiny-wan", prompt="a ferret", width=32, height=32, steps=2, seed=7, progress=False
    )
    assert video.model_extra["frames_sha256"] == direct.frames_sha256  # the very frames a direct call gives
    served = _decoded(client.videos.download_content(video.id).content, tmp_path, "served.mp4")
    mine = read_video(direct.save(tmp_path / "direct.mp4"))[0]
    assert served.shape == (direct.num_frames, 32, 32, 3) and np.array_equal(served, mine)
    thumb = client.videos.download_content(video.id, variant="thumbnail").content
    assert thumb[:3] == b"\xff\xd8\xff"  # a JPEG
    # HTTP Range: a browser seeks
    req = urllib.request.Request(
        f"{server.base}/v1/videos/{video.id}/content",
        headers={"Range": "bytes=0-99", "authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(req, timeout=10) as response:
        assert response.status == 206 and len(response.read()) == 100


def test_a_configured_model_by_its_name(server: Server) -> None:
    """`--model mine=FOLDER`: offered under its name, the folder's pipeline runs; no other folder is reachable."""
    client = server.client()
    assert "mine" in {m.id for m in client.models.list()}
    extra = {"steps": 2, "seed": 7, "num_frames": 9}  # a folder outside the catalog has no default frame count
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(model="mine", prompt="a ferret", size="32x32", extra_body={"steps": 2})
    assert caught.value.body["param"] == "num_frames" and str(server.state.parent) not in str(caught.value.body)
    video = client.videos.create_and_poll(
        model="mine", prompt="a ferret", size="32x32", poll_interval_ms=50, extra_body=extra
    )
    assert video.status == "completed" and video.model == "mine", video
    same = client.videos.create_and_poll(
        model="tiny-wan", prompt="a ferret", size="32x32", poll_interval_ms=50, extra_body=extra
    )
    assert video.model_extra["frames_sha256"] == same.model_extra["frames_sha256"]
    assert "/" not in json.dumps(server.request("GET", f"/v1/videos/{video.id}")[1]["model"])


def test_i2v_with_an_uploaded_image(server: Server, tmp_path: Path) -> None:
    image = tmp_path / "in.png"
    videogen.testing.sample_image(32, 32).save(image)
    with image.open("rb") as upload:
        video = server.client().videos.create_and_poll(
            model="tiny-wan-i2v",
            prompt="it moves",
            input_reference=upload,
            poll_interval_ms=50,
            extra_body={"steps": 2, "seed": 3},
        )
    assert video.status == "completed", video
    direct = videogen.generate(
        model="tiny-wan-i2v", prompt="it moves", image=str(image), steps=2, seed=3, progress=False
    )
    assert video.model_extra["frames_sha256"] == direct.frames_sha256


def test_a_bad_spec_is_a_400_naming_the_field_and_nothing_is_queued(server: Server) -> None:
    client = server.client()
    before = len(server.request("GET", "/v1/videos?limit=100")[1]["data"])
    for extra, field in [
        ({"steps": 0}, "steps"),
        ({"stepz": 2}, "stepz"),
        ({"guidance_scale": "high"}, "guidance_scale"),
    ]:
        with pytest.raises(openai.BadRequestError) as caught:
            client.videos.create(model="tiny-wan", prompt="x", extra_body=extra)
        assert caught.value.body["param"] == field, caught.value.body
        assert field in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(model="sora-2", prompt="x")
    assert caught.value.body["param"] == "model" and "tiny-wan" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(model="tiny-wan", prompt="x", size="big")
    assert caught.value.body["param"] == "size"
    assert len(server.request("GET", "/v1/videos?limit=100")[1]["data"]) == before


@pytest.mark.parametrize(
    "field, value",
    [
        ("image", "/etc/passwd"),
        ("image", "file:///etc/passwd"),
        ("image", "http://127.0.0.1:1/secret.png"),
        ("video", "/etc/passwd"),
        ("loras", ["/etc/passwd"]),
        ("model", "/etc"),
    ],
)
def test_the_server_reads_no_files_or_urls_named_in_a_request(server: Server, field: str, value: Any) -> None:
    status, body = server.request("POST", "/v1/videos", {"model": "tiny-wan", "prompt": "x", field: value})
    assert status == 400 and body["error"]["param"] == field, body
    assert "/etc/passwd" not in body["error"]["message"]  # no server path echoed back


def test_url_inputs_only_on_allowed_hosts_and_never_into_the_servers_network(server: Server) -> None:
    """The fixture's server runs with `--allow-url-host localhost`: a URL on another host is refused naming the
    field and the flag; one on localhost is refused all the same (it resolves to loopback); nothing is queued."""
    before = len(server.request("GET", "/v1/videos?limit=100")[1]["data"])
    for value, says in [
        ("https://elsewhere.example/cat.png", "--allow-url-host"),
        ("https://localhost/cat.png", "loopback"),
        ("http://localhost/cat.png", "https"),
    ]:
        status, body = server.request("POST", "/v1/videos", {"model": "tiny-wan-i2v", "prompt": "x", "image": value})
        assert status == 400 and body["error"]["param"] == "image" and says in body["error"]["message"], body
    assert len(server.request("GET", "/v1/videos?limit=100")[1]["data"]) == before


def test_auth_and_caps(server: Server, tmp_path: Path) -> None:
    with pytest.raises(openai.AuthenticationError):
        server.client(api_key="wrong").videos.list()
    status, body = server.request("GET", "/v1/videos", token=False)
    assert status == 401 and body["error"]["type"] == "authentication_error"
    body_bytes = b'{"model": "tiny-wan", "prompt": "x"}'
    streamed = (
        (  # a chunked body: no Content-Length, so its size is unknown until read
            f"POST /v1/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            f"{len(body_bytes):x}\r\n"
        ).encode()
        + body_bytes
        + b"\r\n0\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(streamed)
        answer = b"".join(iter(lambda: conn.recv(65536), b""))
    assert answer.startswith(b"HTTP/1.1 411") and b'"code":"length"' in answer
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + bytes(200_000))  # over the server's --max-upload-bytes 100000
    with big.open("rb") as upload, pytest.raises(openai.APIStatusError) as caught:
        server.client().videos.create(model="tiny-wan-i2v", prompt="x", input_reference=upload)
    assert caught.value.status_code == 413
    bogus = tmp_path / "bogus.png"
    bogus.write_bytes(b"not an image")
    with bogus.open("rb") as upload, pytest.raises(openai.BadRequestError) as bad:
        server.client().videos.create(model="tiny-wan-i2v", prompt="x", input_reference=upload)
    assert bad.value.body["param"] == "input_reference"
    assert not [p for p in (server.state / "uploads").iterdir() if p.name.startswith(".")]


def test_list_delete_and_remix(server: Server) -> None:
    client = server.client()
    running = client.videos.create(model="tiny-wan", prompt="long", extra_body={"steps": 1000, "seed": 1})
    queued = client.videos.create(model="tiny-wan", prompt="waits", extra_body={"steps": 2})
    assert client.videos.retrieve(queued.id).status == "queued"
    assert client.videos.delete(queued.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(queued.id)
    server.wait(running.id, lambda v: v["status"] == "in_progress" and v["progress"] > 0)
    client.videos.delete(running.id)  # stops at its next step
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            client.videos.retrieve(running.id)
            time.sleep(0.05)
        except openai.NotFoundError:
            break
    else:
        raise AssertionError("the running job wasn't stopped")
    assert not list((server.state / "outputs").glob(f"*{running.id}*"))
    kinds = [e["event"] for e in _events(server, running.id)]  # the log outlives the job
    assert kinds[:2] == ["queued", "started"] and "step" in kinds and kinds[-1] == "cancelled", kinds

    first = client.videos.create_and_poll(
        model="tiny-wan", prompt="a cat", poll_interval_ms=50, extra_body={"steps": 2}
    )
    remixed = client.videos.remix(first.id, prompt="a dog")
    assert remixed.remixed_from_video_id == first.id and remixed.prompt == "a dog"
    remixed = client.videos.poll(remixed.id, poll_interval_ms=50)
    assert remixed.status == "completed"
    assert remixed.model_extra["seed"] == first.model_extra["seed"]  # the same settings, a new prompt
    assert remixed.model_extra["frames_sha256"] != first.model_extra["frames_sha256"]

    ids = [v.id for v in client.videos.list(limit=2, order="asc")]  # the client follows the pages
    assert {first.id, remixed.id} <= set(ids) and len(ids) == len(set(ids))
    page = client.videos.list(limit=1)
    assert page.has_more and len(page.data) == 1 and page.data[0].id == remixed.id  # newest first


def _events(server: Server, video_id: str) -> list[dict[str, Any]]:
    """The job's Server-Sent Events up to its last (bounded by the timeout)."""
    req = urllib.request.Request(
        f"{server.base}/v1/videos/{video_id}/events", headers={"authorization": f"Bearer {TOKEN}"}
    )
    events = []
    with urllib.request.urlopen(req, timeout=30) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream:
            if line.startswith(b"data: "):
                events.append(json.loads(line[6:]))
                if events[-1]["event"] in ("completed", "failed", "cancelled"):
                    break
    return events


def test_events_stream_steps_and_previews(server: Server) -> None:
    video = server.client().videos.create(model="tiny-wan", prompt="events", extra_body={"steps": 3})
    events = _events(server, video.id)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "queued" and kinds[1] == "started" and kinds[-1] == "completed", kinds
    steps = [e for e in events if e["event"] == "step"]
    assert [(e["step"], e["total"]) for e in steps] == [(1, 3), (2, 3), (3, 3)]
    assert steps[-1]["eta_s"] == 0 and steps[1]["eta_s"] is not None
    previews = [e for e in events if e["event"] == "preview"]
    assert len(previews) == 3 and all(p["image"].startswith("data:image/jpeg;base64,") for p in previews)


def test_models_plan_and_openapi(server: Server) -> None:
    status, models = server.request("GET", "/v1/models")
    assert status == 200 and "tiny-wan" in {m["id"] for m in models["data"]}
    status, report = server.request("POST", "/v1/plan", {"model": "tiny-wan", "prompt": "x"})
    assert status == 200 and report["model"] == "tiny-wan"
    assert str(server.state.parent) not in json.dumps(report) and "/.pytest_cache/" not in json.dumps(report)
    status, schema = server.request("GET", "/openapi.json")
    assert status == 200 and "/v1/videos" in schema["paths"]
