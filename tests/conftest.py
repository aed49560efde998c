"""Shared test set-up: tiny models cached under .pytest_cache, quiet third-party logs, and what running on
several workers needs (pytest-xdist: the README's test command runs `-n auto`).

Under xdist each worker gets its own `$VIDEOGEN_CACHE` (`.pytest_cache/d/videogen-gw0`, ...), so what a test
stores and removes there (MagCache ratios, preview fits, serve state) is never seen by a test on another worker;
the folders that are only ever added to, each entry written atomically (the tiny and mid-size pipelines, the
simulations), are links to the shared cache, so each is built once. The tests marked `slow` go first, so the
longest tests don't start last on one worker while the other has finished. Tests marked `exclusive(name)` (they
check machine-wide state, e.g. Ray's processes) hold a file lock named `name` while they run: never two at once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

#: shared by the workers: built once, each entry written atomically, never removed by a test (the simulations stay
#: each worker's own: tests of the planner's simulated figures saw another worker's entries, once in six runs)
SHARED_CACHES = ("tiny", "bench")
#: the cache folder the workers share (set on xdist workers): the `exclusive` tests' locks live there
_SHARED: list[Path] = []


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get("VIDEOGEN_CACHE"):
        os.environ["VIDEOGEN_CACHE"] = str(config.cache.mkdir("videogen"))
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        _SHARED.append(Path(os.environ["VIDEOGEN_CACHE"]))
        os.environ["VIDEOGEN_CACHE"] = str(_worker_cache(config, worker, _SHARED[0]))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # tiny models: one thread is as fast, and parallel jobs on few cores don't oversubscribe
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _worker_cache(config: pytest.Config, worker: str, shared: Path) -> Path:
    """This worker's own cache folder, with the SHARED_CACHES folders linked to `shared`'s."""
    own = Path(config.cache.mkdir(f"videogen-{worker}"))
    for name in SHARED_CACHES:
        (shared / name).mkdir(parents=True, exist_ok=True)
        link = own / name
        if link.is_symlink() and link.resolve() == (shared / name).resolve():
            continue
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.is_dir():
            import shutil

            shutil.rmtree(link)
        link.symlink_to(shared / name, target_is_directory=True)
    return own


@pytest.hookimpl(trylast=True)  # after tests/families/conftest.py's order
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On xdist workers, the `slow` tests first (a stable sort: the rest keep their order)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _exclusive(request: pytest.FixtureRequest) -> Iterator[None]:
    """On xdist workers, a test marked `exclusive(name)` waits for the other workers' tests of that name."""
    marker = request.node.get_closest_marker("exclusive")
    if marker is None or not _SHARED:
        yield
        return
    import fcntl

    with open(_SHARED[0] / f".exclusive-{marker.args[0]}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


@pytest.fixture(autouse=True, scope="session")
def _quiet_libraries() -> None:
    try:
        import diffusers
        import transformers

        diffusers.utils.logging.set_verbosity_error()
        diffusers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except ImportError:
        pass
