"""The FastAPI application: OpenAI's video routes over the store, videogen's events and plan, auth and caps.

Imported only to serve (FastAPI comes with the `serve` extra)."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..errors import SpecError, VideoGenError
from .bodies import owner, read_body, read_json
from .bodies import refusal as refusal_of
from .errors import ApiError, error_body, from_spec_error, scrub
from .events import Events
from .requests import model_source, size_of
from .retention import Keep
from .store import Job, QueueFull, Store, remove_uploads
from .urls import HostGuard, spec_with_inputs
from .worker import Worker

logger = logging.getLogger("videogen")


@dataclass
class Settings:
    """What `videogen serve` was started with."""

    state: Path
    token: str | None = None
    max_body_bytes: int = 64 * 2**20
    max_upload_bytes: int = 32 * 2**20
    max_queued: int = 100
    keep: Keep = field(default_factory=Keep)
    preview_every: int = 1
    #: None: jobs run in this process; True or an address: on Ray actors (serve/on_ray.py)
    ray: bool | str | None = None
    #: models offered beside the catalog: name → a local pipeline folder or a Hub repo id (`--model NAME=SOURCE`)
    models: dict[str, str] = field(default_factory=dict)
    #: the in-process workers' devices, one worker each (None: every visible GPU, else the CPU: `visible_devices`)
    devices: list[str] | None = None
    #: pipelines each worker may keep loaded: the pipeline cache's count bound (× the workers of this process; on
    #: each Ray actor); the memory bound (`VIDEOGEN_CACHE_MEMORY`) decides below it. None: left as it is
    cache_entries: int | None = None
    #: hosts whose https URLs a request may name for its images and video (`--allow-url-host`; none: no URLs)
    allow_url_hosts: tuple[str, ...] = ()


def create_app(settings: Settings) -> Any:
    """The ASGI app; its workers start and stop with it."""
    store = Store(settings.state)
    events = Events()
    options: dict[str, Any] = {"preview_every": settings.preview_every, "allow_url_hosts": settings.allow_url_hosts}
    workers: list[Worker] = []
    if settings.ray is None:
        from .worker import visible_devices

        devices = settings.devices if settings.devices is not None else visible_devices()
        # the first worker also applies retention; the others share the store
        workers = [
            Worker(store, events, device=d, keep=settings.keep if i == 0 else Keep(), **options)
            for i, d in enumerate(devices)
        ]
    if settings.cache_entries is not None:
        from ..loading.pipelines import CACHE

        CACHE.max_entries = settings.cache_entries * max(1, len(workers))

    @asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        with contextlib.ExitStack() as stack:
            if settings.ray is not None:
                from .on_ray import start_workers

                workers.extend(
                    await run_in_threadpool(
                        start_workers,
                        settings.ray,
                        stack,
                        store,
                        events,
                        keep=settings.keep,
                        cache_entries=settings.cache_entries,
                        **options,
                    )
                )
            for worker in workers:
                worker.start()  # retention applied first, then every few minutes
            yield
            for worker in workers:
                worker.stop()
        store.close()

    app = FastAPI(title="videogen serve", version="1", lifespan=lifespan)
    app.state.store, app.state.events, app.state.workers = store, events, workers

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> Any:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Any:
        rid = getattr(request.state, "request_id", "-")
        logger.exception("request %s: unexpected error", rid)
        body = error_body(f"internal error (request {rid}; see the server's log)", kind="server_error")
        return JSONResponse(body, status_code=500)

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Any:
        request.state.request_id = rid = uuid.uuid4().hex[:12]
        if request.url.path.startswith("/v1/"):
            refusal = refusal_of(request, settings.token, settings.max_body_bytes)
            if refusal is not None:
                logger.info("request %s %s %s: %d", rid, request.method, request.url.path, refusal.status)
                return JSONResponse(refusal.body(), status_code=refusal.status)
        response = await call_next(request)
        response.headers["x-request-id"] = rid
        logger.info("request %s %s %s: %d", rid, request.method, request.url.path, response.status_code)
        return response

    async def submit(request: Request, body: dict[str, Any], uploads: dict[str, Any], remixed_from: str | None) -> Any:
        spec, seconds = await run_in_threadpool(_checked_spec, body, uploads, settings.models, settings.allow_url_hosts)
        key = request.headers.get("idempotency-key")
        try:
            job, _new = store.add(
                spec,
                model=model_source(body.get("model"), settings.models)[0],
                prompt=spec.get("prompt"),
                size=size_of(spec),
                seconds=seconds,
                uploads=uploads,
                remixed_from=remixed_from,
                idempotency_key=key,
                owner=owner(request),
                max_queued=settings.max_queued,
            )
        except QueueFull as exc:
            raise ApiError(429, str(exc), kind="rate_limit_error", code="queue_full") from exc
        if _new:
            events.publish(job.id, "queued", position=store.position(job))
            for worker in workers:
                worker.wake.set()
        else:
            remove_uploads(uploads)  # the retried POST's copies: the first one's job keeps its own
        return video_object(job, store, settings.keep)

    @app.post("/v1/videos")
    async def create_video(request: Request) -> Any:
        """Queue a video (OpenAI's `videos.create`): JSON, or multipart with the inputs as files (`input_reference`:
        the image; every other input under its own name: serve/uploads.py)."""
        body, uploads = await read_body(request, store, settings.max_upload_bytes)
        try:
            return await submit(request, body, uploads, None)
        except BaseException:
            remove_uploads(uploads)
            raise

    @app.get("/v1/videos")
    async def list_videos(after: str | None = None, limit: int = 20, order: str = "desc") -> Any:
        if order not in ("asc", "desc") or not 1 <= limit <= 100:
            raise ApiError(400, "order is 'asc' or 'desc'; limit 1 to 100", kind="invalid_request_error", param="limit")
        jobs, more = store.page(after=after, limit=limit, newest_first=order == "desc")
        data = [video_object(j, store, settings.keep) for j in jobs]
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": more,
        }

    @app.get("/v1/videos/{video_id}")
    async def retrieve_video(video_id: str) -> Any:
        return video_object(_job_or_404(store, video_id), store, settings.keep)

    @app.delete("/v1/videos/{video_id}")
    async def delete_video(video_id: str) -> Any:
        """A queued or finished job is removed now; a running one stops at its next step."""
        job = store.delete(video_id)
        if job is None:
            raise _not_found(video_id)
        if job.status != "in_progress":
            events.publish(video_id, "cancelled")
        return {"id": video_id, "object": "video.deleted", "deleted": True}

    @app.get("/v1/videos/{video_id}/content")
    async def content(video_id: str, variant: str = "video") -> Any:
        """The mp4 (HTTP Range supported), or `variant=thumbnail`: a JPEG of the middle frame."""
        job = _job_or_404(store, video_id)
        if variant not in ("video", "thumbnail"):
            raise ApiError(
                400,
                f"variant {variant!r}: this server has 'video' and 'thumbnail'",
                kind="invalid_request_error",
                param="variant",
            )
        if job.status != "completed" or not job.output:
            raise ApiError(
                404, f"video {video_id} is {job.status}, not completed", kind="invalid_request_error", code="not_ready"
            )
        if variant == "thumbnail":
            return FileResponse(store.outputs / f"{video_id}.jpg", media_type="image/jpeg")
        return FileResponse(job.output, media_type="video/mp4", filename=f"{video_id}.mp4")

    @app.post("/v1/videos/{video_id}/remix")
    async def remix(request: Request, video_id: str) -> Any:
        """A new job: the video's spec with a new prompt (its seed and settings kept)."""
        source = _job_or_404(store, video_id)
        body = await read_json(request)
        if not isinstance(body.get("prompt"), str) or not body["prompt"].strip():
            raise ApiError(400, "prompt: a remix needs a new prompt", kind="invalid_request_error", param="prompt")
        uploads = store.copy_uploads(source.uploads)  # the remix's own copies: each job removes its own
        spec = {**source.spec, "model": source.model, "prompt": body["prompt"]}
        try:
            return await submit(request, spec, uploads, video_id)
        except BaseException:
            remove_uploads(uploads)
            raise

    @app.get("/v1/videos/{video_id}/events")
    async def job_events(video_id: str) -> Any:
        """Server-Sent Events: queued, started, step (i/n, ETA), preview, completed | failed | cancelled."""
        if events.has(video_id):  # its log, even when the job is gone (deleted: it ends with `cancelled`)
            first: list[dict[str, Any]] = []
        else:
            first = _present_state(_job_or_404(store, video_id), store)
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events.stream(video_id, first), media_type="text/event-stream", headers=headers)

    @app.get("/v1/models")
    async def models() -> Any:
        from ..catalog.lookup import list_models

        data = [{"id": name, "object": "model", "created": 0, "owned_by": "this server"} for name in settings.models]
        data += [{"id": c.name, "object": "model", "created": 0, "owned_by": c.family} for c in list_models()]
        return {"object": "list", "data": data}

    @app.get("/v1/status")
    async def status() -> Any:
        """videogen's addition: the workers (device, running job, pipeline loads per model), the pipeline cache,
        the queue's counts and the server's resident memory."""
        from ..loading.pipelines import CACHE

        cache = {
            "entries": len(CACHE),
            "max_entries": CACHE.max_entries,
            "held_bytes": CACHE.held_bytes(),
            "max_bytes": CACHE.max_bytes,
            "loads": CACHE.loads,
            "evictions": CACHE.evictions,
        }
        return {
            "object": "server.status",
            "workers": [w.status() for w in workers],
            "cache": cache,
            "jobs": store.counts(),
            "rss_bytes": _rss_bytes(),
        }

    @app.post("/v1/plan")
    async def plan(request: Request) -> Any:
        """The memory plan of a request's spec ("does it fit?"), as `videogen plan` reports it."""
        body = await read_json(request)
        report = await run_in_threadpool(_plan, body, settings.models, settings.allow_url_hosts)
        return report

    # the studio page at / and its /v1/studio/ routes (serve/page.py)
    from .page import mount_page

    mount_page(app)
    return app


def video_object(job: Job, store: Store, keep: Keep | None = None) -> dict[str, Any]:
    """OpenAI's `Video` object for a job, with videogen's additions (attempts, queue position, frames' hash);
    `expires_at` when `--keep` gives finished jobs a lifetime."""
    expires = None
    if keep is not None and keep.days is not None and job.completed_at:
        expires = int(job.completed_at + keep.days * 86400)
    return {
        "id": job.id,
        "object": "video",
        "status": job.status,
        "progress": job.progress,
        "created_at": int(job.created_at),
        "completed_at": int(job.completed_at) if job.completed_at else None,
        "expires_at": expires,
        "model": job.model,
        "prompt": job.prompt,
        "seconds": job.seconds,
        "size": job.size,
        "remixed_from_video_id": job.remixed_from,
        "error": ({"type": "invalid_request_error", **job.error} if job.error else None),
        "attempts": job.attempts,
        "queue_position": store.position(job) if job.status == "queued" else None,
        "frames_sha256": job.frames_sha256,
        "seed": job.spec.get("seed"),
    }


def _checked_spec(
    body: dict[str, Any], uploads: dict[str, Any], models: dict[str, str], allowed_hosts: tuple[str, ...] = ()
) -> tuple[dict[str, Any], str | None]:
    """The request's plain spec (without its uploads, stored beside it), checked with its uploaded inputs by the
    library (`prepare`: the inputs read within their budgets, no weights load), with the seed, size and frames it
    settled (a re-queued job makes the same video), and the seconds it lasts. Raises ApiError(400) naming the
    field."""
    from ..generation.flow import prepare
    from ..media.fetch import guarded

    try:
        spec = spec_with_inputs(body, models, allowed_hosts)
        with guarded(HostGuard(allowed_hosts)):  # an allowed URL is downloaded (and checked) here, guarded
            prepared = prepare({**spec, **uploads})
    except SpecError as exc:
        raise from_spec_error(exc) from exc
    except VideoGenError as exc:
        raise ApiError(400, str(exc), kind="invalid_request_error", code=type(exc).__name__) from exc
    done = prepared.spec
    spec.update(seed=done.seed, width=done.width, height=done.height, num_frames=done.num_frames)
    seconds = body.get("seconds")
    if seconds is None and done.num_frames and done.fps:
        seconds = f"{done.num_frames / done.fps:.3g}"
    return spec, None if seconds is None else str(seconds)


def _plan(body: dict[str, Any], models: dict[str, str], allowed_hosts: tuple[str, ...] = ()) -> dict[str, Any]:
    from ..generation.plan_report import plan
    from ..media.fetch import guarded

    try:
        with guarded(HostGuard(allowed_hosts)):
            return _scrubbed(plan(spec_with_inputs(body, models, allowed_hosts)).to_dict())
    except SpecError as exc:
        raise from_spec_error(exc) from exc


def _scrubbed(value: Any) -> Any:
    """A report with the server's paths taken out of its text (a tiny model's folder, the cache ...)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    return value


def _rss_bytes() -> int | None:
    """This process's resident memory (Linux's /proc; None elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _present_state(job: Job, store: Store) -> list[dict[str, Any]]:
    """The first events of a stream for a job this process has no log of (submitted before a restart)."""
    now = round(time.time(), 3)
    if job.status == "queued":
        return [{"event": "queued", "time": now, "position": store.position(job)}]
    if job.status in ("completed", "failed"):
        extra = {"error": job.error} if job.error else {}
        return [{"event": job.status, "time": now, **extra}]
    return []


def _job_or_404(store: Store, video_id: str) -> Job:
    job = store.get(video_id)
    if job is None:
        raise _not_found(video_id)
    return job


def _not_found(video_id: str) -> ApiError:
    return ApiError(404, f"no video {video_id!r}", kind="invalid_request_error", param="video_id", code="not_found")
