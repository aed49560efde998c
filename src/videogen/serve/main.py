"""`videogen serve`: its flags, the start-up checks (a token off loopback) and uvicorn."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import re
from pathlib import Path

from ..errors import MissingDependencyError, VideoGenError

logger = logging.getLogger("videogen")
TOKEN_ENV = "VIDEOGEN_SERVE_TOKEN"
#: pipelines one worker may keep loaded (the cache's count bound, unless VIDEOGEN_CACHE_SIZE is set): a backstop;
#: the memory bound (VIDEOGEN_CACHE_MEMORY, the planner's weight figures) decides below it
CACHE_ENTRIES_PER_WORKER = 8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `serve` subcommand's flags."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need a token)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--state", metavar="DIR", help="the job database, uploads and outputs (default $VIDEOGEN_CACHE/serve)"
    )
    parser.add_argument("--token", help=f"the bearer token clients must send (or ${TOKEN_ENV}); required off loopback")
    parser.add_argument(
        "--keep",
        metavar="DAYS|SIZE",
        help="remove finished jobs older than DAYS ('7', '7d'), or the oldest while the outputs take over SIZE "
        "('20GB', '500MB'); checked at start and every 10 minutes (default: keep everything)",
    )
    parser.add_argument("--max-queued", type=int, default=100, metavar="N", help="jobs waiting per token (default 100)")
    parser.add_argument(
        "--max-upload-bytes",
        type=int,
        default=32 * 2**20,
        metavar="N",
        help="largest uploaded file, each input (default 32 MiB)",
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=SOURCE",
        help="offer a model beside the catalog under NAME: a local pipeline folder or a Hub repo id (repeatable)",
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const=True,
        default=None,
        metavar="ADDRESS",
        help="run jobs on Ray actors (the [ray] extra): alone, a local Ray instance; with an address ('auto', "
        "'ray://head:10001'), a cluster (--state on a shared filesystem). Write --ray=ADDRESS",
    )
    parser.add_argument(
        "--allow-url-host",
        action="append",
        default=[],
        metavar="HOST",
        help="let requests name https URLs on HOST for image, last_image and video (repeatable; '.example.com': "
        "its subdomains); never loopback, private or link-local addresses. Default: no URLs",
    )
    parser.add_argument(
        "--preview-every",
        type=int,
        default=1,
        metavar="N",
        help="a preview on the events stream every N steps (0: none)",
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_state() -> Path:
    from ..families.tiny import cache_root

    return cache_root() / "serve"


def configured_models(given: list[str]) -> dict[str, str]:
    """`--model NAME=SOURCE` flags as a dict, each source found (a folder or a Hub repo) before the server starts."""
    from ..catalog.lookup import list_models, resolve

    catalog = {c.name.lower() for c in list_models()}
    models: dict[str, str] = {}
    for item in given:
        name, _, source = item.partition("=")
        name, source = name.strip(), source.strip()
        if not name or not source:
            raise VideoGenError(f"--model {item!r}: give NAME=SOURCE (a pipeline folder or a Hub repo id)")
        if name.lower() in catalog or name.lower() in {m.lower() for m in models}:
            raise VideoGenError(f"--model {item!r}: {name!r} is already a model name; pick another")
        resolve(source)  # ModelNotFoundError names what is wrong
        local = Path(source).expanduser()
        models[name] = str(local.resolve()) if local.exists() else source
    return models


def allowed_hosts(given: list[str]) -> tuple[str, ...]:
    """`--allow-url-host` values checked: host names (lower case), exact or '.suffix'; no schemes, ports or IPs."""
    hosts = []
    for item in given:
        host = item.strip().lower()
        bare = host.lstrip(".")
        if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*", bare):
            raise VideoGenError(
                f"--allow-url-host {item!r}: give a host name ('media.example.com') or a suffix ('.example.com'), "
                "without scheme, port or path"
            )
        try:
            ipaddress.ip_address(bare)
        except ValueError:
            hosts.append(host)
            continue
        raise VideoGenError(f"--allow-url-host {item!r}: give a host name, not an IP address")
    return tuple(dict.fromkeys(hosts))


def run_command(args: argparse.Namespace) -> int:
    """Check the settings, then serve until interrupted."""
    token = args.token or os.environ.get(TOKEN_ENV) or None
    if not is_loopback(args.host) and token is None:
        raise VideoGenError(
            f"--host {args.host} is reachable from other machines: give --token T (or set {TOKEN_ENV}) so only "
            "clients with it get in, or bind 127.0.0.1"
        )
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError(
            "videogen serve needs the serve extra: pip install 'videogen-diffusers[serve]'"
        ) from exc
    from .app import Settings, create_app
    from .retention import parse_keep

    settings = Settings(
        state=Path(args.state) if args.state else default_state(),
        token=token,
        keep=parse_keep(args.keep),
        max_queued=args.max_queued,
        preview_every=args.preview_every,
        max_upload_bytes=args.max_upload_bytes,
        ray=args.ray,
        models=configured_models(args.model),
        cache_entries=None if os.environ.get("VIDEOGEN_CACHE_SIZE") else CACHE_ENTRIES_PER_WORKER,
        allow_url_hosts=allowed_hosts(args.allow_url_host),
    )
    import_libraries()
    app = create_app(settings)
    auth = "bearer token required" if token else "no token (loopback only)"
    logger.warning("videogen serve on http://%s:%d (%s); state in %s", args.host, args.port, auth, settings.state)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def import_libraries() -> None:
    """torch, diffusers and transformers imported here, before any request or worker thread exists: first
    imports from two threads at once (a request's checks, a worker's load) can meet half-initialised lazy
    modules ("Could not import module 'T5EncoderModel'", seen once in 48 jobs under the load test)."""
    from ..runtime.lock import LOAD_LOCK

    with LOAD_LOCK:
        import diffusers  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
