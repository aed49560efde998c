"""`videogen serve`: OpenAI's video API (`/v1/videos` ...) over a durable job queue, with live progress.

- `store`: the job queue in SQLite (stdlib `sqlite3`, WAL) under the state folder: every job, its spec, status,
  attempts, timestamps, output; what a restart finds running is re-queued (or failed after 3 attempts).
- `requests`: an API request body → a VideoSpec, checked by the library (`prepare`) before anything is queued;
  the refusals a server adds (no server paths or URLs, uploads capped).
- `errors`: OpenAI's error shape (`{"error": {message, type, param, code}}`) for videogen's errors.
- `events`: each job's event log (queued, started, step i/n with an ETA, previews, completed/failed/cancelled),
  streamed as Server-Sent Events.
- `worker`: the thread that runs queued jobs with `generate` (grouped by model), saves with the atomic writers and
  sidecars, and cancels a deleted job at its next step.
- `app`: the FastAPI application (routes, bearer-token auth, body caps); `main`: `serve()` (uvicorn).

Sits above `generation` and below `cli` (it may import `generation`, its batch runners included, and everything
under it; only `cli` imports it).
FastAPI and uvicorn come with the `serve` extra and are imported only here.
"""
