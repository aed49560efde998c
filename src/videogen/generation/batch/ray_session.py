"""Ray for a batch (`batch_ray.py`): whether it is installed (`require_ray`), the instance a batch runs on (`session`:
a private local one, started and removed with everything it wrote, or a cluster), and how many workers with which
resources (`worker_options`)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

from ...errors import MissingDependencyError, SpecError

logger = logging.getLogger("videogen")

INSTALL = "pip install 'videogen-diffusers[ray]'"
#: the temp folder of a local Ray instance started by videogen (removed after it stops)
TEMP_PREFIX = "videogen-ray-"


def require_ray(address: bool | str = True) -> None:
    """MissingDependencyError naming the extra where `ray` isn't installed (or, for a "ray://" address, the Ray
    Client's grpcio)."""
    import importlib.util

    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f"ray: batches on Ray need the ray package, which isn't installed: {INSTALL} (or leave ray out: the "
            "in-process runner needs nothing more)"
        ) from exc
    if isinstance(address, str) and address.startswith("ray://") and importlib.util.find_spec("grpc") is None:
        raise MissingDependencyError(
            f"ray={address!r}: a ray:// address goes through the Ray Client, which needs grpcio: {INSTALL} (it "
            "installs ray[client]), or run the batch on a node of the cluster with ray='auto'"
        )


@contextlib.contextmanager
def session(address: bool | str) -> Iterator[Any]:
    """Ray for this batch: a local instance started here and stopped after (its temp folder removed, token auth
    off unless RAY_AUTH_MODE says otherwise), or a connection to a cluster; an existing connection is used as is."""
    import ray

    if ray.is_initialized():
        logger.info("batch: using this process's Ray connection (ray.init was called before)")
        yield ray
        return
    if address is not True:
        try:
            ray.init(address=str(address), logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise SpecError(
                f"ray={address!r}: could not join that Ray cluster ({exc}); start one (`ray start --head`), give its "
                "address (e.g. 'ray://head:10001'), or pass ray=True for a local instance",
                field="ray",
            ) from exc
        try:
            yield ray
        finally:
            ray.shutdown()
        return
    temp = tempfile.mkdtemp(prefix=TEMP_PREFIX)
    auth = os.environ.get("RAY_AUTH_MODE")
    if auth is None:
        os.environ["RAY_AUTH_MODE"] = "disabled"  # a private instance: no ~/.ray/auth_token
    try:
        ray.init(
            address="local",
            num_cpus=cpu_count(),
            include_dashboard=False,
            _temp_dir=temp,
            logging_level=logging.WARNING,
        )
        logger.info("batch: started a local Ray instance (%s)", ray.cluster_resources())
        yield ray
    finally:
        ray.shutdown()
        if auth is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        shutil.rmtree(temp, ignore_errors=True)


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worker_options(resources: Mapping[str, float], workers: int | None, local: bool) -> tuple[int, dict, int | None]:
    """How many workers, their Ray resources and torch threads: one per GPU (`num_gpus=1`) where the cluster has
    GPUs; else `workers` (default 1) sharing the CPUs (`num_cpus` each, as many torch threads)."""
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    have = gpus or cpus
    if workers is not None and workers > have:
        where = f"{gpus} GPU(s), one worker each" if gpus else f"{cpus} CPU(s)"
        if local:
            raise SpecError(
                f"workers={workers}: this machine has {where}; pass workers={have} or fewer", field="workers"
            )
        logger.warning("batch: workers=%d but the cluster has %s now: the others start when it grows", workers, where)
    if gpus:
        return workers or gpus, {"num_gpus": 1, "num_cpus": 1 if cpus >= gpus else 0}, None
    count = workers or 1
    per = max(1, cpus // count)
    threads = os.environ.get("OMP_NUM_THREADS", "")  # the driver's setting, where it has one, is the workers'
    return count, {"num_cpus": per}, int(threads) if threads.isdigit() and int(threads) > 0 else per
