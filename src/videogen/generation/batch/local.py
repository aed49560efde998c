"""`generate_many`: many specs into one folder, each model loaded once, resumable (docs/batch.md).

The pieces are separate so another runner (remote workers) can reuse them: `batch_work` (names, what is already
done, every spec prepared and grouped by pipeline), `run_one` (one spec: prepare, run, save with its sidecar, a
plain function), `remove_replaced`, and the names, folder checks and report (`batch_files.py`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import OutputExistsError, SpecError, VideoGenError
from ...media.save import clean_stale_temps, metadata_path
from ..flow import Prepared, build_spec, cache_key, prepare, run
from .files import (
    BatchReport,
    batch_folder,
    batch_lock,
    batch_record,
    earlier_outputs,
    is_done,
    output_name,
    output_path,
    read_sidecar,
    reported_paths,
)
from .files import read_report as read_report  # the report's reader, named here too

if TYPE_CHECKING:
    from ...spec.videospec import VideoSpec
    from ..result import VideoResult

logger = logging.getLogger("videogen")

FORMATS = ("mp4", "gif", "webp", "png")


@dataclass
class BatchItem:
    """One spec of a batch, finished: `status` is "done", "skipped" (its output was already there) or "failed"
    (`error` says why; `exception` is the error itself). `path` is the output (None when failed), `result` the
    `VideoResult` of a spec generated in this run (in-process runner only). `worker`: the Ray worker that made it
    ({"worker", "host", "pid", "loads"}: docs/scale.md); None in-process."""

    index: int
    spec: Any
    status: str
    path: Path | None = None
    seconds: float = 0.0
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False)
    result: VideoResult | None = field(default=None, repr=False)
    spec_hash: str | None = None
    seed: int | None = None
    worker: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


@dataclass
class BatchJob:
    """One spec to run: its output path, whether that path may be replaced (an earlier output of this batch), the
    earlier outputs of its index to remove once it is saved, and (local runner) its prepared spec and group."""

    index: int
    given: Any
    spec: VideoSpec
    spec_hash: str
    path: Path
    replace: bool = False
    earlier: list[Path] = field(default_factory=list)
    prepared: Prepared | None = field(default=None, repr=False)
    group: Hashable = None


@dataclass
class BatchWork:
    """What a batch will do: `jobs` to run, ordered group by group (one pipeline each), and the items that are
    finished already: `skipped` (output there with a matching spec hash) and `failed` (refused before loading)."""

    out_dir: Path
    fmt: str
    count: int
    jobs: list[BatchJob]
    skipped: list[BatchItem]
    failed: list[BatchItem]


def check_options(fmt: str, crf: int | None) -> None:
    """The batch's output options, checked before anything runs."""
    from ...media.write import check_crf

    if fmt not in FORMATS:
        raise SpecError(f"fmt={fmt!r}: a batch writes one of {', '.join(FORMATS)}, e.g. fmt='mp4'", field="fmt")
    check_crf(crf, fmt)


def batch_work(
    specs: Iterable[VideoSpec | Mapping[str, Any]],
    out_dir: str | os.PathLike[str],
    *,
    fmt: str = "mp4",
    resume: bool = True,
    overwrite: bool = False,
    prepare_specs: bool = True,
) -> BatchWork:
    """Name every spec's output in `out_dir`, skip those already there (`resume`: the sidecar's spec hash and the
    file's sha256 match), and prepare the rest (`prepare_specs`: validation and memory plan, no weights) in
    pipeline groups. Leftovers of killed saves in `out_dir` are removed first, and so is an earlier output of a
    skipped spec beside its current one (a run killed between saving a changed spec's output and removing the
    old one): one output per spec. A spec refused here is a failed item; the others go on. The caller holds the
    folder's `batch_lock`."""
    from ...spec.files import spec_hash

    check_options(fmt, None)
    folder = batch_folder(out_dir)
    clean_stale_temps(folder)
    given = list(specs)
    earlier = earlier_outputs(folder, fmt)
    reported = reported_paths(folder)
    jobs: list[BatchJob] = []
    skipped: list[BatchItem] = []
    failed: list[BatchItem] = []
    for index, item in enumerate(given):
        digest: str | None = None
        try:
            spec = build_spec(item, {})
            digest = spec_hash(spec)
            path = output_path(folder, output_name(index, spec, fmt))
            mine = earlier.get(index, {})
            if resume and path in mine and is_done(path, mine[path], digest):
                remove_replaced([p for p in mine if p != path], index)  # what a killed run left beside it
                skipped.append(_skipped(index, item, path, digest, mine[path]))
                continue
            job = BatchJob(index, item, spec, digest, path, earlier=[p for p in mine if p != path])
            if path.exists() or path.is_symlink() or metadata_path(path).exists():
                job.replace = path in mine or (index, path.name) in reported or overwrite
                if not job.replace:
                    raise OutputExistsError(
                        f"path: {str(path)!r} exists and is not an output of this batch; pass overwrite=True "
                        "(CLI: --overwrite) or another out_dir"
                    )
            if prepare_specs:
                job.prepared = prepare(spec)
                job.group = cache_key(job.prepared)
            jobs.append(job)
        except Exception as exc:  # noqa: BLE001 - one bad spec doesn't stop the batch; the item says why
            failed.append(_failed(index, item, exc, 0.0, digest))
    order: dict[Hashable, int] = {}
    for job in jobs:
        order.setdefault(job.group, len(order))
    jobs.sort(key=lambda j: (order[j.group], j.index))  # group by group, each in the order given
    return BatchWork(folder, fmt, len(given), jobs, skipped, failed)


def run_one(
    index: int,
    spec: VideoSpec | Mapping[str, Any],
    out_dir: str | os.PathLike[str],
    *,
    fmt: str = "mp4",
    crf: int | None = None,
    progress: bool = False,
    replace: bool = False,
    prepared: Prepared | None = None,
) -> BatchItem:
    """Generate spec `index` of a batch into `out_dir` under its batch name, with the sidecar's
    `metadata["batch"]` = {index, spec_hash, spec}. `replace` lets it replace what is at that name (an earlier
    output of the batch); `prepared` skips preparing again. Never raises for the spec's own failure: the
    returned item is "failed" then."""
    from ...spec.files import spec_hash, spec_record

    start = time.perf_counter()
    digest: str | None = None
    try:
        full = build_spec(spec, {})
        digest = spec_hash(full)
        path = output_path(Path(out_dir).expanduser(), output_name(index, full, fmt))
        # the spec as given: `VideoSpec.to_dict`, with an in-memory input described (it can't be written to a file)
        batch = {"index": index, "spec_hash": digest, "spec": spec_record(full)[0]}
        prepared = prepared if prepared is not None else prepare(full)
        result = run(prepared, progress=progress, started=start)
        result.metadata["batch"] = batch
        result.save(path, overwrite=replace, crf=crf)
    except Exception as exc:  # noqa: BLE001 - the batch goes on; the item carries the error
        return _failed(index, spec, exc, time.perf_counter() - start, digest)
    seconds = time.perf_counter() - start
    logger.info("batch: %d done in %.2f s: %s", index, seconds, path)
    return BatchItem(index, spec, "done", path, seconds, spec_hash=digest, seed=result.seed, result=result)


def remove_replaced(paths: Iterable[Path], index: int) -> None:
    """Remove earlier outputs of spec `index` (another name: its spec changed) and their sidecars, once the new
    output is saved; only those whose sidecar says they are that spec's batch output."""
    from ...media.atomic import remove

    for path in paths:
        batch = batch_record(read_sidecar(path))
        if batch is None or batch.get("index") != index:
            continue
        remove(path)
        remove(metadata_path(path))
        logger.info("batch: removed %s, the output of an earlier version of spec %d", path, index)


def generate_many(
    specs: Iterable[VideoSpec | Mapping[str, Any]],
    out_dir: str | os.PathLike[str],
    *,
    fmt: str = "mp4",
    overwrite: bool = False,
    resume: bool = True,
    progress: bool = True,
    crf: int | None = None,
) -> Iterator[BatchItem]:
    """Generate every spec (VideoSpecs or dicts) into `out_dir`; yields one `BatchItem` per spec as it finishes,
    skipped and failed ones included. Each model loads once (specs run grouped by pipeline); a failing spec
    doesn't stop the batch. Outputs are `{index:04d}-{slug}-{seed}.{fmt}` with the usual sidecar plus
    `metadata["batch"]`; `out_dir/batch.json` reports every spec (`read_report`).

    `resume` (default): a spec whose output is there with a matching spec hash is skipped; `resume=False` redoes
    every spec. Outputs of this batch are replaced when redone; other files in the way need `overwrite=True`.
    `progress`: an overall bar beside the per-step bar. `crf`: .mp4 quality (see `VideoResult.save`).
    """
    check_options(fmt, crf)
    return _generate_many(list(specs), out_dir, fmt, overwrite, resume, progress, crf)


def _generate_many(
    specs: list[Any], out_dir: Any, fmt: str, overwrite: bool, resume: bool, progress: bool, crf: int | None
) -> Iterator[BatchItem]:
    from tqdm.auto import tqdm

    folder = batch_folder(out_dir)
    with batch_lock(folder):  # one run per folder: a second is refused at once
        work = batch_work(specs, folder, fmt=fmt, resume=resume, overwrite=overwrite)
        report, finished = start_report(work)
        bar = tqdm(total=work.count, initial=len(finished), desc="batch", unit="video", disable=not progress)
        try:
            yield from _run_jobs(work, report, finished, bar, fmt, crf, progress)
        finally:
            bar.close()


def _run_jobs(
    work: BatchWork, report: BatchReport, finished: list[BatchItem], bar: Any, fmt: str, crf: int | None, progress: bool
) -> Iterator[BatchItem]:
    """The finished items, then each job run in turn (its replaced outputs removed once it is saved), reported."""
    yield from finished
    for job in work.jobs:
        report.update(job.index, status="running")
        report.write()
        prepared, job.prepared = job.prepared, None  # held no longer than needed (its media)
        item = run_one(
            job.index,
            job.given,
            work.out_dir,
            fmt=fmt,
            crf=crf,
            progress=progress,
            replace=job.replace,
            prepared=prepared,
        )
        if item.status == "done":
            remove_replaced(job.earlier, job.index)
        record(report, item)
        report.write()
        bar.update(1)
        yield item


def start_report(work: BatchWork) -> tuple[BatchReport, list[BatchItem]]:
    """The report of a planned batch, written: the finished items (skipped, refused) entered and every job's name;
    returns it and those finished items in index order."""
    report = BatchReport(work.out_dir, work.fmt, work.count)
    finished = sorted(work.skipped + work.failed, key=lambda i: i.index)
    for item in finished:
        record(report, item)
    for job in work.jobs:
        report.update(job.index, path=job.path.name, spec_hash=job.spec_hash)
    report.write()
    logger.info(
        "batch of %d into %s: %d to run in %d group(s), %d skipped, %d refused",
        work.count,
        work.out_dir,
        len(work.jobs),
        len({job.group for job in work.jobs}),
        len(work.skipped),
        len(work.failed),
    )
    return report, finished


def record(report: BatchReport, item: BatchItem) -> None:
    """Enter a finished item into the report."""
    report.update(
        item.index,
        path=item.path.name if item.path is not None else None,
        status=item.status,
        seconds=round(item.seconds, 4),
        error=item.error,
        spec_hash=item.spec_hash,
        seed=item.seed,
    )


def _skipped(index: int, given: Any, path: Path, digest: str, sidecar: dict[str, Any]) -> BatchItem:
    seed = sidecar.get("seed", (sidecar.get("spec") or {}).get("seed"))
    logger.info("batch: %d skipped, already done: %s", index, path)
    return BatchItem(index, given, "skipped", path, spec_hash=digest, seed=seed if isinstance(seed, int) else None)


def _failed(index: int, given: Any, exc: Exception, seconds: float, digest: str | None) -> BatchItem:
    message = str(exc) if isinstance(exc, VideoGenError) else f"{type(exc).__name__}: {exc}"
    logger.warning("batch: %d failed: %s", index, message)
    return BatchItem(index, given, "failed", None, seconds, message, exc, spec_hash=digest)
