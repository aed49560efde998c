"""A batch's folder: the output names, what earlier runs left there (outputs whose sidecar names their spec),
the report `DIR/batch.json`: per spec and in total, rewritten atomically (a temporary file, then
`os.replace`) whenever an item starts or ends, so a killed batch leaves a valid report of what finished, and the
folder's lock (`batch_lock`): one batch run at a time per folder."""

from __future__ import annotations

import json
import logging
import os
import re
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import SaveError, SpecError
from ...media.atomic import write_text_atomically
from ...media.save import content_sha256, metadata_path
from ...spec.formats import load_json, read_text

if TYPE_CHECKING:
    from ...spec.videospec import VideoSpec

logger = logging.getLogger("videogen")

SLUG_MAX = 40
_INDEX_PREFIX = re.compile(r"^(\d{4,})-")


# ---- the folder and its lock

#: the lock file a batch run holds in its folder (removed when the run ends; a killed run's is free to take)
LOCK_NAME = ".videogen-batch.lock"


def batch_folder(out_dir: str | os.PathLike[str]) -> Path:
    """The batch folder `out_dir`, created if needed (a SaveError where it can't be)."""
    folder = Path(out_dir).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SaveError(
            f"out_dir: cannot create the batch folder {str(folder)!r} ({exc.strerror or exc}); choose a folder "
            "you can write to"
        ) from exc
    return folder


@contextmanager
def batch_lock(folder: Path) -> Iterator[None]:
    """Hold the folder's batch lock while the block runs: an exclusive `flock` on `LOCK_NAME` in it, released by
    the system if the process dies. A second batch into the same folder (another process or thread) is a
    SpecError on `out_dir` at once, naming the process that holds it. Where the system has no `flock` (Windows) or
    the filesystem refuses it, the batch runs unlocked (a warning says so)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        logger.warning("batch: no file locks on this system; run one batch at a time in %s", folder)
        yield
        return
    path = folder / LOCK_NAME
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        except OSError as exc:
            raise SaveError(
                f"out_dir: cannot create the lock file {str(path)!r} ({exc.strerror or exc}); choose a folder you "
                "can write to"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fd)
            os.close(fd)
            raise SpecError(
                f"out_dir: another videogen batch{holder} is running in {str(folder)!r}; wait for it to finish "
                "or choose another out_dir (its lock goes when that process ends)",
                field="out_dir",
            ) from None
        except OSError as exc:  # e.g. ENOLCK: a filesystem without locks
            os.close(fd)
            logger.warning("batch: cannot lock %s (%s); run one batch at a time there", folder, exc.strerror or exc)
            yield
            return
        try:  # the file we locked is still the one at the path (a run ending removes it)
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except OSError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {_hostname()} since {_now()}\n".encode())
    except OSError:
        pass  # the lock holds without the note
    try:
        yield
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
        os.close(fd)


def _lock_holder(fd: int) -> str:
    """ " (pid N on HOST since TIME)" from the lock file's note; "" where there is none."""
    try:
        note = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f" ({note})" if note.startswith("pid ") and "\n" not in note else ""


def _hostname() -> str:
    import socket

    return socket.gethostname()


# ---- names


def slug(text: Any) -> str:
    """A short ASCII slug of a prompt: lowercase letters, digits and '-', at most `SLUG_MAX` characters;
    "video" when nothing is left."""
    if not isinstance(text, str):
        return "video"
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cut = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:SLUG_MAX].rstrip("-")
    return cut or "video"


def output_name(index: int, spec: VideoSpec, fmt: str) -> str:
    """`{index:04d}-{slug}-{seed}.{fmt}` (a png folder has no suffix); without `-{seed}` when the spec leaves
    the seed to chance: the seed drawn is recorded in the sidecar, and the name stays the same on a rerun."""
    seed = spec.seed
    has_seed = isinstance(seed, int) and not isinstance(seed, bool)
    stem = f"{index:04d}-{slug(spec.prompt)}" + (f"-{seed}" if has_seed else "")
    return stem if fmt == "png" else f"{stem}.{fmt}"


def output_path(out_dir: Path, name: str) -> Path:
    """`out_dir/name`, checked to stay inside `out_dir` (one plain name: no separators, no '..'; the save renames
    into the folder itself, so a symlink at the name is replaced, never followed)."""
    folder = out_dir.resolve()
    plain = bool(name) and name not in (".", "..") and "/" not in name and os.sep not in name
    if not plain or Path(os.path.normpath(folder / name)).parent != folder:
        raise SpecError(f"output name {name!r} would leave the batch folder {str(out_dir)!r}", field="path")
    return out_dir / name


# ---- what earlier runs left


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """The sidecar of the output `path` as a dict; None where there is none, it isn't a JSON object or it can't be
    read within the bounds of a spec file (specformats.py: a regular file, not too large or deep)."""
    try:
        data = _read_json(metadata_path(path))
    except SpecError:
        return None
    return data if isinstance(data, dict) else None


def _read_json(path: Path) -> Any:
    """A JSON file videogen wrote, read within the bounds; a SpecError for anything else (missing included)."""
    name = str(path)
    return load_json(read_text(path, f"{name}: missing", f"{name}: cannot read it", "path"), name, "path", False)


def batch_record(sidecar: dict[str, Any] | None) -> dict[str, Any] | None:
    """A sidecar's `batch` entry ({index, spec_hash, spec}); None for an output no batch wrote."""
    batch = sidecar.get("batch") if sidecar else None
    return batch if isinstance(batch, dict) else None


def earlier_outputs(folder: Path, fmt: str) -> dict[int, dict[Path, dict[str, Any]]]:
    """Outputs of this format in `folder` whose sidecar says they are a batch's spec N: {N: {path: sidecar}}."""
    found: dict[int, dict[Path, dict[str, Any]]] = {}
    for entry in os.scandir(folder):
        match = _INDEX_PREFIX.match(entry.name)
        if not match or entry.name.endswith(".json") or (fmt == "png") != entry.is_dir(follow_symlinks=False):
            continue
        if fmt != "png" and not entry.name.endswith(f".{fmt}"):
            continue
        path = folder / entry.name
        sidecar = read_sidecar(path)
        batch = batch_record(sidecar)
        if sidecar is not None and batch is not None and batch.get("index") == int(match.group(1)):
            found.setdefault(int(match.group(1)), {})[path] = sidecar
    return found


def reported_paths(folder: Path) -> set[tuple[int, str]]:
    """(index, name) of every output the previous report of this folder named: a file there without its sidecar
    is this batch's (a save killed between putting the video and its sidecar in place)."""
    report = read_report(folder) or {}
    out = set()
    for item in report.get("items", []):
        if isinstance(item, dict) and isinstance(item.get("index"), int) and isinstance(item.get("path"), str):
            out.add((item["index"], item["path"]))
    return out


def is_done(path: Path, sidecar: dict[str, Any], digest: str) -> bool:
    """The output at `path` is spec `digest`'s, whole: the sidecar's spec hash matches and so does the file's
    sha256 (a sidecar never sits beside another video, but a file may have been edited since)."""
    batch = batch_record(sidecar) or {}
    saved = sidecar.get("saved")
    if batch.get("spec_hash") != digest or not isinstance(saved, dict):
        return False
    try:
        return saved.get("sha256") == content_sha256(path)
    except OSError:
        return False


# ---- the report

REPORT_NAME = "batch.json"
REPORT_VERSION = 1
#: a spec's status in the report: the last three are `BatchItem.status`; the first two mark what hasn't finished
STATUSES = ("pending", "running", "done", "skipped", "failed")
ITEM_FIELDS = ("index", "path", "status", "seconds", "error", "spec_hash", "seed")


class BatchReport:
    """The report of one batch run into `out_dir`: one entry per spec (in index order) and the totals; `workers`
    (the Ray runner: one entry per worker process, docs/scale.md) when set."""

    def __init__(self, out_dir: Path, fmt: str, count: int) -> None:
        self.path = Path(out_dir) / REPORT_NAME
        self.fmt = fmt
        self.started = _now()
        self.items: list[dict[str, Any]] = [dict.fromkeys(ITEM_FIELDS) | {"index": i} for i in range(count)]
        for item in self.items:
            item["status"] = "pending"
        self.workers: list[dict[str, Any]] | None = None

    def update(self, index: int, **fields: Any) -> None:
        """Set fields of spec `index`'s entry (`path` relative to the batch folder, `status`, `seconds`, ...)."""
        unknown = set(fields) - set(ITEM_FIELDS)
        if unknown:
            raise KeyError(f"not a batch report field: {sorted(unknown)}")
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValueError(f"not a batch status: {fields['status']!r}")
        self.items[index].update(fields)

    def as_dict(self) -> dict[str, Any]:
        totals: dict[str, Any] = {"specs": len(self.items), **dict.fromkeys(STATUSES, 0)}
        for item in self.items:
            totals[item["status"]] += 1
        totals["seconds"] = round(sum(item["seconds"] or 0.0 for item in self.items), 4)
        finished = totals["pending"] == 0 and totals["running"] == 0
        return {
            "videogen_batch": REPORT_VERSION,
            "format": self.fmt,
            "started": self.started,
            "updated": _now(),
            "finished": finished,
            "ok": finished and totals["failed"] == 0,
            "totals": totals,
            "items": self.items,
        } | ({"workers": self.workers} if self.workers is not None else {})

    def write(self) -> None:
        """Replace `batch.json` at once: readers see the previous or this version, never a partial file."""
        text = json.dumps(self.as_dict(), indent=2, default=str) + "\n"
        write_text_atomically(self.path, text, durable=False)  # rewritten often: a crash keeps the previous one


def read_report(out_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The batch report `out_dir/batch.json` as a dict (see docs/batch.md), or None where there is none or it
    can't be read (a warning is logged then)."""
    path = Path(out_dir) / REPORT_NAME
    if not (path.exists() or path.is_symlink()):
        return None
    try:
        report = _read_json(path)
    except SpecError as exc:
        logger.warning("could not read the batch report %s: %s", path, exc)
        return None
    if not isinstance(report, dict) or not isinstance(report.get("items"), list):
        logger.warning("%s is not a videogen batch report (no list of items)", path)
        return None
    return report


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
