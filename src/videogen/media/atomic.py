"""Files and folders put in place whole or not at all: the one way videogen writes atomically.

A temp name beside the target (`.<name>.<host>-<pid>-<id>.tmp<suffix>`: the host and pid let the next save in
that folder remove a killed writer's leftovers, save.clean_stale_temps), written, then renamed over the target.
Nothing else in the package calls `os.replace`, `os.rename` or `mkstemp` (a test checks), except save.py,
which puts a video and its sidecar in place together.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from ..errors import SaveError


def temp_name(target: Path, kind: str = "tmp") -> Path:
    """A fresh hidden name beside `target`: `.<name>.<host>-<pid>-<id>.tmp<suffix>` (the suffix lets tools pick
    the format), or `.<name>.<host>-<pid>-<id>.old` for a folder moved aside (full name, to put it back)."""
    name = target.name if kind == "old" else target.name[:96]
    suffix = target.suffix if kind == "tmp" else ""
    return target.with_name(f".{name}.{host_tag()}-{os.getpid()}-{uuid.uuid4().hex[:12]}.{kind}{suffix}")


@functools.lru_cache(maxsize=1)
def host_tag() -> str:
    """8 hex digits naming this host and pid namespace: pids in temp names are only checked where they mean
    something."""
    import socket

    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return hashlib.sha256(f"{socket.gethostname()}|{namespace}".encode()).hexdigest()[:8]


def remove(path: Path | None) -> None:
    """Remove a file or folder if it is there; never raises."""
    if path is None:
        return
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def write_text_atomically(target: Path, text: str, *, durable: bool = True) -> None:
    """`text` in `target`, complete or not at all: written to a temp name beside it, flushed to disk when
    `durable`, then renamed into place. SaveError (an OSError) names the file when it can't be written."""
    tmp = temp_name(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "x", encoding="utf-8") as f:
            f.write(text)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        remove(tmp)
        raise SaveError(f"path: could not write {str(target)!r}: {exc.strerror or exc}") from exc
    except BaseException:
        remove(tmp)
        raise


def build_folder_atomically(target: Path, build: Callable[[Path], None], *, done: str) -> Path:
    """`build(folder)` in a temp folder beside `target`, then renamed to it; when another process finished first
    (its `target/done` exists), its folder is kept and this one dropped. Returns `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name[:96]}.", dir=target.parent))
    try:
        build(tmp)
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first
            if not (target / done).exists():
                raise
    finally:
        remove(tmp)
    return target


def move_into_place(built: Path, target: Path) -> None:
    """Rename a finished file (written elsewhere in the same file system, e.g. by a library) over `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(built, target)
