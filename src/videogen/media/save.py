"""Saving an output and its JSON sidecar safely: temporary names, the atomic rename or exchange into place, the
order that keeps a sidecar beside its own video, and the leftovers of killed saves. `writers.py` writes the
formats; this module decides where the bytes go and when they become visible.

Guarantees (one writer per output path; concurrent saves to the same path are not supported):

* Nothing half-written: each output is written completely under a hidden temporary name beside the target,
  then renamed into place.
* A sidecar never describes another video than the one beside it: an overwrite moves the previous sidecar out of
  the way first, then renames the new video into place, then the new sidecar. A process killed at any point
  leaves the old video without a sidecar, or the new video with or without its sidecar; never a mismatched pair.
  The sidecar's `saved.sha256` lets anyone check the pair.
* Overwriting a png folder: on Linux, new and old folder are swapped by one atomic `renameat2(RENAME_EXCHANGE)`,
  so at every instant the target holds the complete old or the complete new folder. Where that call is missing
  (other systems, filesystems without it) the old folder is renamed to `.<name>.<host>-<pid>-<id>.old`, then
  the new one into place; a failure between the two renames puts the old folder back at once, and if the process
  is killed there the next save into that folder puts it back.
* Reading back (hashes): only regular files are opened, without blocking on a FIFO or device (`open_regular`),
  and a hash can stop at a byte cap.
* Temporary names are `.<name>.<host>-<pid>-<id>.tmp[<suffix>]` (and `.old` as above). Every save first removes
  such leftovers of killed saves from its folder: those whose process is gone (same host and pid namespace) or
  that are untouched for a day (`STALE_AGE_S`); a live process's are kept. Older videogen's leftovers
  (`.<stem>.<id12>.tmp<suffix>`, `.<name>.old-<pid>`) go after a day.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import logging
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import OutputExistsError, SaveError, VideoGenError
from .atomic import host_tag, remove, temp_name

logger = logging.getLogger("videogen")

FRAME_NAME = "frame_{:05d}.png"
STALE_AGE_S = 24 * 3600
"""Temporary files untouched this long are leftovers whatever their process id says."""

_FRAME_RE = re.compile(r"^frame_\d{5,}\.png$")
_TEMP_RE = re.compile(
    r"^\.(?P<name>.+)\.(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[0-9a-f]{12}\.(?P<kind>tmp|old)(?:\.[A-Za-z0-9]+)?$"
)
_LEGACY_TMP_RE = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp(?:\.(?:mp4|gif|webp|json))?$")
_LEGACY_OLD_RE = re.compile(r"^\.(?P<name>.+)\.old-(?P<pid>\d+)$")
_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2


def metadata_path(path: str | os.PathLike[str]) -> Path:
    """Where the metadata sidecar goes: the whole name plus `.json` (`clip.mp4` → `clip.mp4.json`,
    folder `frames` → `frames.json`)."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def content_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 a sidecar records: of the file; for a png folder, of the lines `<sha256 of frame>  <name>\\n`
    in name order (what `sha256sum frame_*.png | sha256sum` prints). Only regular files are read
    (`NotRegularFileError` for a FIFO or device)."""
    path = Path(path)
    if path.is_dir():
        lines = "".join(f"{file_sha256(f)}  {f.name}\n" for f in sorted(path.glob("frame_*.png")))
        return hashlib.sha256(lines.encode()).hexdigest()
    return file_sha256(path)


class NotRegularFileError(OSError):
    """A FIFO, device, socket or folder where a regular file is read: `strerror` says which."""


class FileTooLargeError(OSError):
    """A file over its reader's byte cap: `strerror` says its size and the cap."""


def open_regular(path: str | os.PathLike[str], max_bytes: int | None = None) -> BinaryIO:
    """`path` opened for reading in binary, if it is a regular file (symlinks followed) of at most `max_bytes`.

    Opened without blocking, so a FIFO with no writer or a device never hangs the caller; the kind is checked on
    the open file itself (no window between check and open). A missing file is `FileNotFoundError`; a FIFO,
    device, socket or folder `NotRegularFileError`; a larger file `FileTooLargeError` (all `OSError`s)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)  # a folder opens too (read-only), and is refused below
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "a special file")
            raise NotRegularFileError(errno.EINVAL, f"{kind}, not a regular file", os.fspath(path))
        if max_bytes is not None and info.st_size > max_bytes:
            raise FileTooLargeError(errno.EFBIG, f"{_bytes(info.st_size)}, over {_bytes(max_bytes)}", os.fspath(path))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_sha256(path: str | os.PathLike[str], max_bytes: int | None = None) -> str:
    """The sha256 of a regular file (`open_regular`), reading at most `max_bytes` (`FileTooLargeError` past it,
    also when the file grows while it is read)."""
    digest = hashlib.sha256()
    read = 0
    with open_regular(path, max_bytes) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            read += len(block)
            if max_bytes is not None and read > max_bytes:
                raise FileTooLargeError(errno.EFBIG, f"over {_bytes(max_bytes)}", os.fspath(path))
            digest.update(block)
    return digest.hexdigest()


_KINDS = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}
_KINDS |= {stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


def _bytes(n: int) -> str:
    return f"{n:,} bytes" if n < 2**20 else f"{n / 2**20:,.1f} MiB"


def prepare_target(target: Path, kind: str, overwrite: bool) -> None:
    """Before anything is written: the folder exists, its leftovers of killed saves are gone, and `target` (and
    its sidecar) may be written: absent, or replaceable with `overwrite`."""
    _make_folder(target)
    clean_stale_temps(target.parent)
    _check_existing(target, metadata_path(target), kind, overwrite)


def save_atomically(
    target: Path, kind: str, overwrite: bool, write: Callable[[Path], None], describe: Callable[[Path], str]
) -> None:
    """Put a new `target` (a file, or a png folder where `kind` is "png") and its sidecar in place: `write(tmp)`
    fills the created, empty temp file or folder, `describe(tmp)` returns the sidecar's text for it. Then the
    old sidecar moves aside, the output goes into place, then the new sidecar (the module docstring's order).
    On any failure the temps are removed and the old pair stays; an `OSError` becomes a `SaveError`."""
    sidecar = metadata_path(target)
    tmp = temp_name(target)
    side_tmp: Path | None = None
    aside: Path | None = None  # the previous sidecar, moved out of the way
    displaced: Path | None = None  # the previous png folder, after the swap
    placed = False
    try:
        _create_temp(tmp, kind, target)
        write(tmp)
        text = describe(tmp)
        side_tmp = temp_name(sidecar)
        _write_text(side_tmp, text)
        # commit: old sidecar out, video in, new sidecar in; a sidecar never sits beside another video
        if sidecar.exists() or sidecar.is_symlink():
            aside = temp_name(sidecar)
            os.replace(sidecar, aside)
        displaced = _move_into_place(tmp, target, kind, overwrite)
        placed = True
        os.replace(side_tmp, sidecar)
        side_tmp = None
    except BaseException as exc:
        if aside is not None and not placed:  # the old video stays: so does its sidecar
            try:
                os.replace(aside, sidecar)
                aside = None
            except OSError:
                pass
        remove(tmp)
        remove(side_tmp)
        if isinstance(exc, OSError) and not isinstance(exc, VideoGenError):
            raise SaveError(
                f"path: could not save {str(target)!r}: {_reason(exc)}; check that the folder is "
                "writable and the disk has space"
            ) from exc
        raise
    finally:
        remove(aside)
        remove(displaced)


def file_size(path: Path) -> int:
    """Bytes of a file, or of the files in a folder; 0 where it can't be read."""
    try:
        if path.is_dir():
            return sum(f.stat().st_size for f in path.iterdir())
        return path.stat().st_size
    except OSError:
        return 0


# ---- checks before writing


def _make_folder(target: Path) -> None:
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        why = f"{str(blocker)!r} is a file, not a folder" if blocker else _reason(exc)
        raise SaveError(
            f"path: cannot create the folder {str(folder)!r} for {str(target)!r}: {why}; choose a path "
            "in a folder you can write to"
        ) from exc


def _check_existing(target: Path, sidecar: Path, kind: str, overwrite: bool) -> None:
    if target.exists() or target.is_symlink():
        is_dir = target.is_dir()
        if (kind == "png") != is_dir:
            have, want = ("folder", "file") if is_dir else ("file", "folder of png frames")
            raise OutputExistsError(
                f"path: {str(target)!r} is a {have}, and this save writes a {want}; choose another path or remove it"
            )
        if not overwrite:
            raise OutputExistsError(
                f"path: {str(target)!r} exists; pass overwrite=True (CLI: --overwrite) or another path"
            )
        if is_dir:
            foreign = next((p.name for p in target.iterdir() if not _FRAME_RE.match(p.name)), None)
            if foreign is not None:
                raise OutputExistsError(
                    f"path: {str(target)!r} holds {foreign!r}, which videogen did not write; overwrite=True replaces "
                    "only a folder of frame_NNNNN.png files. Choose another path or empty the folder"
                )
    if not overwrite and (sidecar.exists() or sidecar.is_symlink()):
        raise OutputExistsError(
            f"path: {str(sidecar)!r} (the metadata of {str(target)!r}) exists; pass "
            "overwrite=True (CLI: --overwrite) or another path"
        )


# ---- temporary names, atomic moves, leftovers


def _create_temp(tmp: Path, kind: str, target: Path) -> None:
    """Create the empty temp file or folder (usual permissions, from the umask): proves the folder writable."""
    try:
        if kind == "png":
            tmp.mkdir()
        else:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise SaveError(
            f"path: cannot write into the folder {str(target.parent)!r} ({_reason(exc)}) to save "
            f"{target.name!r}; choose a folder you can write to or change its permissions"
        ) from exc


def _write_text(path: Path, text: str) -> None:
    with open(path, "x", encoding="utf-8") as f:
        f.write(text)


def _move_into_place(new: Path, target: Path, kind: str, overwrite: bool) -> Path | None:
    """Rename `new` to `target`; returns where the replaced png folder now is (for removal), if any."""
    if not overwrite:
        try:
            if _renameat2(new, target, _RENAME_NOREPLACE):
                return None
        except FileExistsError:
            raise OutputExistsError(
                f"path: {str(target)!r} appeared while saving; pass overwrite=True (CLI: --overwrite) or another path"
            ) from None
        os.replace(new, target)
        return None
    if kind != "png" or not (target.exists() or target.is_symlink()):
        os.replace(new, target)  # atomic for files
        return None
    if _renameat2(new, target, _RENAME_EXCHANGE):  # one atomic swap: `new` now holds the old folder
        return new
    old = temp_name(target, "old")
    os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        try:
            os.replace(old, target)
        except OSError:
            pass  # left at `old`: the next save into this folder puts it back
        raise
    return old


@functools.lru_cache(maxsize=1)
def _libc_renameat2() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """Linux `renameat2(src, dst, flags)`; False where the system or filesystem lacks it (callers fall back)."""
    fn = _libc_renameat2()
    if fn is None:
        return False
    import ctypes

    at_fdcwd = -100
    if fn(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(src), None, str(dst))


def clean_stale_temps(
    folder: str | os.PathLike[str], *, max_age_s: float = STALE_AGE_S, dead: Collection[tuple[str, int]] = ()
) -> list[Path]:
    """Remove leftovers of killed saves from `folder`, and put back a png folder an interrupted overwrite moved
    aside. Only videogen's temporary names; only those whose process is gone (this host and pid namespace, or
    named in `dead`: (`host_tag()`, pid) of processes known to be gone elsewhere, e.g. a Ray worker lost with its
    node) or that are untouched for `max_age_s`. Returns the leftovers handled. Every save calls this for its
    folder."""
    folder = Path(folder)
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(".")]
    except OSError:
        return []
    now = time.time()
    handled: list[Path] = []
    for entry in entries:
        match = _TEMP_RE.match(entry.name)
        legacy_old = None if match else _LEGACY_OLD_RE.match(entry.name)
        if not (match or legacy_old or _LEGACY_TMP_RE.match(entry.name)):
            continue
        try:
            old_enough = now - entry.stat(follow_symlinks=False).st_mtime > max_age_s
        except OSError:
            continue
        if match:
            gone = (match["host"], int(match["pid"])) in dead or (
                match["host"] == host_tag() and not _pid_alive(int(match["pid"]))
            )
        elif legacy_old:
            gone = not _pid_alive(int(legacy_old["pid"]))
        else:
            gone = False
        if not (gone or old_enough):
            continue
        path = Path(entry.path)
        aside_from = (match["name"] if match and match["kind"] == "old" else None) or (
            legacy_old["name"] if legacy_old else None
        )
        if aside_from is not None:
            original = folder / aside_from
            if not (original.exists() or original.is_symlink()):
                try:
                    os.rename(path, original)
                    logger.warning("put %s back: an interrupted save had moved it to %s", original, path.name)
                    handled.append(path)
                    continue
                except OSError:
                    pass
        remove(path)
        handled.append(path)
    if handled:
        logger.info("cleaned %d leftover(s) of interrupted saves in %s", len(handled), folder)
    return handled


def _pid_alive(pid: int) -> bool:
    if os.name == "nt" or pid <= 0:  # on Windows os.kill would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # e.g. another user's process
    return True


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
