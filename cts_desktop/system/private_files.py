"""Private files on POSIX: the data, config, log and cache folders are 0700 and their files 0600, so other users of
the computer read no database, log, backup or export. New files get it from the process's umask (0077); folders and
files of an older install are tightened at every start. Symbolic links are not followed. Windows keeps its ACLs.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger("cts.system.private_files")

FOLDER_MODE = 0o700
FILE_MODE = 0o600
UMASK = 0o077


def applies() -> bool:
    return os.name == "posix"


def private_umask() -> None:
    """Files and folders this process creates from now on are for its user only."""
    if applies():
        os.umask(UMASK)


def tighten(folders: Iterable[Path]) -> int:
    """Make the folders 0700 and everything in them 0700 (folders) / 0600 (files, executables keep u+x); returns
    how many modes were changed. Missing folders are skipped."""
    if not applies():
        return 0
    changed = 0
    for root in folders:
        if not root.is_dir() or root.is_symlink():
            continue
        changed += _chmod(root, FOLDER_MODE)
        for folder, dirs, files in os.walk(root):  # does not follow symlinked folders
            for name in dirs:
                path = Path(folder, name)
                if not path.is_symlink():
                    changed += _chmod(path, FOLDER_MODE)
            for name in files:
                path = Path(folder, name)
                if not path.is_symlink():
                    changed += _chmod(path, FILE_MODE)
    if changed:
        log.warning("tightened the modes of %d file(s) and folder(s) so only this user can read them", changed)
    return changed


def _chmod(path: Path, mode: int) -> int:
    try:
        current = path.lstat().st_mode
        if stat.S_ISSOCK(current):
            return 0
        wanted = mode | (current & stat.S_IXUSR if not stat.S_ISDIR(current) else 0)
        if stat.S_IMODE(current) == wanted:
            return 0
        os.chmod(path, wanted)
        return 1
    except OSError as error:
        log.warning("could not make %s private: %s", path, error)
        return 0


__all__ = ["FILE_MODE", "FOLDER_MODE", "private_umask", "tighten"]
