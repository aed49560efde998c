"""`videogen serve` on a CPU: per-job overhead through the server vs a direct `generate` on a warm pipeline,
submit-to-first-step latency (warm), the preview's cost per step, and a small load run.

    python benchmarks/serve.py [--model tiny-wan] [--repeats 20] [--load-jobs 48]

Starts `videogen serve` in a subprocess (127.0.0.1, a free port, a temporary state folder), warms it with one
job, then submits jobs one at a time (each waited for: POST → completed, seen on its events stream) and compares, job by
job, with the like-for-like direct call in this process on its own warm pipeline: `generate` and
`result.save` to an mp4 with the same writer (the server saves every job so). The load run: 8 client threads
submit `--load-jobs` jobs over 3 tiny models; every job must end completed (or refused with a reason); the
server's pipeline loads per model and worker come from its `GET /v1/status`, its RSS from /proc. Prints a table
and writes benchmarks/out/serve.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any


def request(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait(base: str, video_id: str, timeout: float = 300) -> dict:
    """The job once finished: its events stream followed to its last event (the server wakes it as each event is
    published: no polling that would load the server or add its interval), then the job."""
    with urllib.request.urlopen(base + f"/v1/videos/{video_id}/events", timeout=timeout) as stream:
        for line in stream:
            if line.startswith(b"event: ") and line[7:].strip() in (b"completed", b"failed", b"cancelled"):
                break
    return request(base, "GET", f"/v1/videos/{video_id}")[1]


def first_step_time(base: str, video_id: str) -> float:
    """The server's clock at the first `step` event (its end)."""
    with urllib.request.urlopen(base + f"/v1/videos/{video_id}/events", timeout=60) as stream:
        for line in stream:
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                if event["event"] == "step":
                    return float(event["time"])
    raise RuntimeError("no step event")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def preview_costs(model: str) -> dict[str, Any]:
    """ms per live preview (`on_preview`, the library's linear projection) in a real call (tiny model), and of
    projecting latents of the mid-size and 480p Wan shapes."""
    import torch

    import videogen
    from videogen.generation.features import preview
    from videogen.loading.latent_rgb import Projection

    result = videogen.generate(
        model=model, prompt="x", steps=8, seed=1, progress=False, on_preview=lambda *a: None, preview_every=1
    )
    record = result.metadata["preview"]
    out: dict[str, Any] = {f"{model} in a call (ms, mean)": round(1000 * record["seconds"] / record["shown"], 3)}
    projection = Projection(weights=tuple((0.1, 0.2, 0.3) for _ in range(16)), bias=(0.5, 0.5, 0.5))
    shapes = {"mid-size Wan 128x128x17": (1, 16, 5, 16, 16), "Wan 480x832x81": (1, 16, 21, 60, 104)}
    for name, shape in shapes.items():
        latents = torch.randn(shape)
        times = []
        for _ in range(20):
            t = time.perf_counter()
            frame = preview._middle_frame(latents, 16, None, None)
            preview._to_pil(preview._project(frame, projection))
            times.append(time.perf_counter() - t)
        out[f"{name} latents (ms, median)"] = round(1000 * statistics.median(times), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="tiny-wan")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--load-jobs", type=int, default=48)
    args = parser.parse_args()

    import videogen

    spec = {"model": args.model, "prompt": "a ferret", "steps": 2, "seed": 1}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    state = Path(tempfile.mkdtemp()) / "state"
    log = state.parent / "server.log"
    command = [sys.executable, "-m", "videogen", "-v", "serve", "--port", str(port), "--state", str(state)]
    server = subprocess.Popen(command, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            try:
                request(base, "GET", "/v1/models")
                break
            except OSError:
                time.sleep(0.1)
        wait(base, request(base, "POST", "/v1/videos", spec)[1]["id"])  # warm: the load

        served, direct, latency, saves, like = [], [], [], [], []
        videogen.generate(**spec, progress=False)  # this process's warm pipeline
        inside: list[float] = []  # the server's own time per job: wall minus its generate (the sidecar's total_s)
        for _ in range(args.repeats):
            t = time.perf_counter()
            video_id = request(base, "POST", "/v1/videos", spec)[1]["id"]
            wait(base, video_id)
            served.append(time.perf_counter() - t)
            sidecar = json.loads((state / "outputs" / f"{video_id}.mp4.json").read_text())
            inside.append(served[-1] - sidecar["timings"]["total_s"])
            t = time.perf_counter()
            result = videogen.generate(**spec, progress=False)
            direct.append(time.perf_counter() - t)
            t = time.perf_counter()
            result.save(state.parent / "direct.mp4", overwrite=True)
            saves.append(time.perf_counter() - t)
            like.append(direct[-1] + saves[-1])
        for _ in range(min(args.repeats, 10)):
            submitted = time.time()
            video = request(base, "POST", "/v1/videos", spec)[1]
            latency.append(first_step_time(base, video["id"]) - submitted)
            wait(base, video["id"])

        models = [args.model, "tiny-cogvideox", "tiny-hunyuanvideo"]
        rss_before = rss_mb(server.pid)
        outcomes: list[str] = []
        lock = threading.Lock()

        def client(n: int) -> None:
            for i in range(n, args.load_jobs, 8):
                status, video = request(base, "POST", "/v1/videos", {**spec, "model": models[i % 3], "seed": i})
                result = wait(base, video["id"])["status"] if status == 200 else f"refused {status}"
                with lock:
                    outcomes.append(result)

        t = time.perf_counter()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        load_s = time.perf_counter() - t
        rss_after = rss_mb(server.pid)
        time.sleep(2)
        status = request(base, "GET", "/v1/status")[1]
        report = {
            "per job through the server (ms, median)": round(1000 * statistics.median(served), 1),
            "direct generate, warm (ms, median)": round(1000 * statistics.median(direct), 1),
            "overhead (ms, difference of medians)": round(
                1000 * (statistics.median(served) - statistics.median(direct)), 1
            ),
            "overhead per job, paired (ms, median of wall minus the job's own generate)": round(
                1000 * statistics.median(inside), 1
            ),
            "direct result.save to mp4 + sidecar (ms, median)": round(1000 * statistics.median(saves), 1),
            "direct generate + save, like for like (ms, median)": round(1000 * statistics.median(like), 1),
            "overhead vs like for like (ms, difference of medians)": round(
                1000 * (statistics.median(served) - statistics.median(like)), 1
            ),
            "overhead per job, paired, less the direct save (ms)": round(
                1000 * (statistics.median(inside) - statistics.median(saves)), 1
            ),
            "submit to the end of the first step, warm (ms, median)": round(1000 * statistics.median(latency), 1),
            "preview": preview_costs(args.model),
            "load run": {
                "jobs": args.load_jobs,
                "outcomes": {o: outcomes.count(o) for o in sorted(set(outcomes))},
                "seconds": round(load_s, 1),
                "pipeline loads per worker (all runs)": {w["name"]: w["loads"] for w in status["workers"]},
                "pipeline cache": status["cache"],
                "server RSS before / after / 2 s later (MB)": [
                    round(rss_before),
                    round(rss_after),
                    round(rss_mb(server.pid)),
                ],
            },
        }
    finally:
        server.terminate()
        server.wait(10)
    print(json.dumps(report, indent=2))
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "serve.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
