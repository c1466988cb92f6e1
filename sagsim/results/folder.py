"""Claiming a results folder before any work: it must be a folder sagsim can write, no other
run may be writing it, and what an interrupted write left behind is cleared.

`claim(out)` is a context manager every job holds for as long as it writes ``out``: it makes
the folder (one line naming it when it cannot: a file in the way, a read-only place), takes an
exclusive lock on ``out/.sagsim.lock`` (released by the operating system when the process ends,
however it ends, so a killed run leaves no stale lock), and removes the temporary files
`io.atomic_path` leaves when a run is killed inside a write, at the start and at the end.

Each kind of results folder has a completion marker (its ``MARKER``: summary.json, the sweep's
table, calibration.json), written last; `claim(out, marker)` removes an earlier run's marker
before anything is written, so a folder killed before its last write never looks finished, not
even one a finished run had filled before.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..errors import DataFileError

LOCK = ".sagsim.lock"
#: the temporary names io.atomic_path writes (.<name>.<8 hex>.tmp<suffix>)
_TEMPORARY = re.compile(r"^\.[^/]+\.[0-9a-f]{8}\.tmp(\.[^./]+)?$")


def writable_folder(out: str | Path) -> Path:
    """``out`` made (with its parents) and checked writable; a DataFileError of one line
    otherwise."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataFileError(f"{out}: expected a folder to write the results in; it is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFileError(f"{out}: cannot make the results folder ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise DataFileError(f"{out}: cannot write in the results folder (permission denied)")
    return out


def remove_temporaries(out: Path) -> list[Path]:
    """Delete the temporary files an interrupted atomic write left in ``out`` and below."""
    removed = []
    for path in sorted(Path(out).rglob(".*.tmp*")):
        if path.is_file() and _TEMPORARY.match(path.name) and not path.name.startswith(LOCK):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


@contextlib.contextmanager
def claim(out: str | Path, marker: str | None = None) -> Iterator[Path]:
    """Hold ``out`` for one run: made, writable, locked against a second run, cleared of
    temporary files (and of an earlier run's completion ``marker``) at the start, of temporary
    files at the end, and removed again when the run made it and left it empty. A second claim
    of the same folder (by any process) is a DataFileError: "OUT is in use by process N"."""
    created = not Path(out).exists()
    out = writable_folder(out)
    lock_path = out / LOCK
    fd = _lock(out, lock_path)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        remove_temporaries(out)
        if marker is not None:  # this run's marker, written last, will say the folder is complete
            with contextlib.suppress(FileNotFoundError):
                (out / marker).unlink()
        try:
            yield out
        finally:
            remove_temporaries(out)
            # unlinked while still locked: a run that opened it meanwhile finds it gone (below)
            with contextlib.suppress(FileNotFoundError):
                lock_path.unlink()
            if created:  # a run that failed before writing anything leaves no empty folder behind
                with contextlib.suppress(OSError):
                    out.rmdir()
    finally:
        os.close(fd)


def _lock(out: Path, lock_path: Path) -> int:
    """An open descriptor of ``lock_path`` holding its exclusive lock. The lock file is removed
    by the run that held it, so a lock taken on a file already unlinked is let go and taken
    again on the new one."""
    for _ in range(5):
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DataFileError(f"{out}: cannot write in the results folder ({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DataFileError(f"{out} is in use by process {owner}; wait for it to finish or choose another "
                                f"--out") from None
        try:
            if os.stat(lock_path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
    raise DataFileError(f"{out}: cannot lock the results folder (another run keeps taking it)")
