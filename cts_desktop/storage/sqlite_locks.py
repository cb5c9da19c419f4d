"""Is a SQLite file open in another process? Asked before a backup is restored over it.

Every process that has a WAL-mode SQLite database open holds a shared lock on a fixed byte range of the file
(SQLite's ``SHARED_FIRST``/``SHARED_SIZE``) for as long as its connection is open — the app keeps pooled
connections open while it runs, and once it found the file damaged it keeps one open on purpose. Taking an
exclusive lock on that range, as SQLite itself does before it writes the file alone, fails while any such process
exists. The probe only locks and unlocks (POSIX ``lockf``, Windows ``LockFile``); it reads and writes nothing.

The probe must only run in a process that has no SQLite connection to the file: on POSIX, closing *any*
descriptor of a file drops every lock the process holds on it — its own connections' locks included (SQLite
itself works around this; a plain ``open``/``close`` cannot). A process that has the file open asks
:func:`processes_using` instead, which reads the operating system's table of open files and opens nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SHARED_FIRST = 0x40000000 + 2  # PENDING_BYTE + 2, as in SQLite's os.h
SHARED_SIZE = 510


def in_use_by_another_process(path: Path) -> bool:
    """True while another process has the SQLite file open (see the module docstring: never call it while this
    process has a connection to the file)."""
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        return not _try_exclusive(fd)
    finally:
        os.close(fd)


def _try_exclusive(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, SHARED_FIRST, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, SHARED_SIZE)
        except OSError:
            return False
        os.lseek(fd, SHARED_FIRST, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, SHARED_SIZE)
        return True
    import fcntl

    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, SHARED_SIZE, SHARED_FIRST, os.SEEK_SET)
    except OSError:
        return False
    fcntl.lockf(fd, fcntl.LOCK_UN, SHARED_SIZE, SHARED_FIRST, os.SEEK_SET)
    return True


def processes_using(path: Path) -> list[str]:
    """Best effort: "pid N (command)" of the processes that have ``path`` open (those this user may inspect)."""
    import psutil

    target = str(path.resolve())
    found: list[str] = []
    for process in psutil.process_iter(["pid", "name", "cmdline"]):
        if process.pid == os.getpid():
            continue
        try:
            if any(f.path == target for f in process.open_files()):
                command = " ".join(process.info.get("cmdline") or [process.info.get("name") or "?"])
                found.append(f"pid {process.pid} ({command[:80]})")
        except (psutil.Error, OSError):
            continue
    return found
