"""The studio: a page for people at `/` (plain HTML/JS/CSS shipped as package data in `page/`, no build step).

The page talks only to the server's own API, with the same bearer token (kept in the browser's localStorage and
sent by `fetch`; the events stream is read with `fetch` too, so it carries the header). Its files hold no data
and are served without a token; every request that reads or changes jobs goes to `/v1/` and the token guard.
Two read-only routes the page needs and OpenAI's API has no place for live here, under `/v1/studio/`:
the catalog with each model's tasks, defaults and rules (to build the form and snap sizes as one types), and a
job's spec (to fill the form again: "use these settings"; integers beyond JavaScript's exact range, such as
drawn seeds, come as strings).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from ..spec.inputs import MEDIA_FIELDS

#: the page's files: name → media type
ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
#: the browser may load nothing from anywhere but this server (data:/blob: for previews and fetched videos)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
#: what the server runs: the tasks a request can ask for (an image comes as the one `input_reference` upload)
SERVED_TASKS = ("t2v", "i2v")


def mount_page(app: Any) -> None:
    """Add the page (`/`, `/studio/<file>`) and its two read-only API routes to the server's FastAPI app."""
    from fastapi.responses import Response

    from .errors import ApiError

    def asset(name: str, media_type: str) -> Any:
        data = resources.files("videogen.serve").joinpath("page").joinpath(name).read_bytes()
        headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        return Response(data, media_type=media_type, headers=headers)

    @app.get("/", include_in_schema=False)
    async def index() -> Any:
        return asset("index.html", "text/html; charset=utf-8")

    @app.get("/studio/{name}", include_in_schema=False)
    async def studio_file(name: str) -> Any:
        if name not in ASSETS:
            raise ApiError(404, f"no page file {name!r}", kind="invalid_request_error", code="not_found")
        return asset(name, ASSETS[name])

    @app.get("/v1/studio/models")
    async def studio_models() -> Any:
        """The catalog as the page's form needs it: tasks, defaults, frame and size rules, presets, caches."""
        return catalog()

    @app.get("/v1/studio/videos/{video_id}/spec")
    async def studio_spec(video_id: str) -> Any:
        """The spec a job ran with (seed, size and frames settled), for "use these settings"."""
        job = app.state.store.get(video_id)
        if job is None:
            raise ApiError(404, f"no video {video_id!r}", kind="invalid_request_error", param="video_id")
        spec = {k: _exact(v) for k, v in job.spec.items() if k not in MEDIA_FIELDS}
        return {"id": job.id, "spec": spec, "input_reference": "image" in job.uploads}


def _exact(value: Any) -> Any:
    """`value` with integers beyond JavaScript's exact range (2**53: drawn seeds) as decimal strings."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53 - 1:
        return str(value)
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return value


def catalog() -> dict[str, Any]:
    """Every catalog card's form-relevant facts, and the choices of the memory and cache fields."""
    from ..catalog.lookup import list_models
    from ..memory.presets import PRESETS
    from ..speed.settings import METHODS

    models = [
        {
            "id": c.name,
            "family": c.family,
            "description": c.description,
            "tasks": list(c.tasks),
            "served_tasks": [t for t in c.tasks if t in SERVED_TASKS],
            "width": c.width,
            "height": c.height,
            "num_frames": c.num_frames,
            "fps": c.fps,
            "steps": c.steps,
            "guidance_scale": c.guidance_scale,
            "frame_rule": list(c.frame_rule) if c.frame_rule else None,
            "max_frames": c.max_frames,
            "size_multiple": c.size_multiple,
            "sizes": [[w, h] for h, w in c.sizes],
            "tiny": c.tiny is not None,
        }
        for c in list_models()
    ]
    return {"models": models, "memory": ["auto", *PRESETS], "cache": ["none", "auto", *METHODS]}
