"""Where a process's resident memory is, beyond the Python objects: the mappings of ``/proc/<pid>/smaps`` grouped
(anonymous memory, the C heap, each shared library by its package) and glibc's allocator totals (``mallinfo2``:
what its arenas hold, in use and free, and what it mmap'd). Linux only; empty elsewhere."""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from collections import Counter
from pathlib import Path

MB = 1024 * 1024
_MAPPING = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")


def resident_by_mapping(pid: int | str = "self") -> Counter[str]:
    """Resident bytes per mapping group: ``[anon]``, ``[heap]``, ``[stack]``, a site-packages package, a library."""
    groups: Counter[str] = Counter()
    path = Path(f"/proc/{pid}/smaps")
    if not path.exists():
        return groups
    current = "[anon]"
    with path.open() as lines:
        for line in lines:
            if _MAPPING.match(line):
                parts = line.split()
                name = parts[5] if len(parts) > 5 else "[anon]"
                if "site-packages/" in name:
                    name = name.split("site-packages/")[1].split("/")[0]
                elif name.startswith("/"):
                    name = name.rsplit("/", 1)[-1]
                current = name
            elif line.startswith("Rss:"):
                groups[current] += int(line.split()[1]) * 1024
    return groups


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


def allocator_line() -> str | None:
    """glibc's totals over every arena, or None without glibc's ``mallinfo2``."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        info = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    info.restype = _MallInfo2
    m = info()
    return (f"C allocator: arenas {m.arena / MB:.0f} MB (in use {m.uordblks / MB:.0f}, free {m.fordblks / MB:.0f}), "
            f"mmap'd {m.hblkhd / MB:.0f} MB in {m.hblks} blocks (virtual: large arrays, touched pages only count)")


def native_holders(top: int = 6) -> list[str]:
    """Lines for ``bench/soak.py --holders``: the resident mappings, largest first, and the allocator totals."""
    groups = resident_by_mapping()
    lines = []
    if groups:
        lines.append("resident by mapping: " + ", ".join(f"{name} {size / MB:.0f} MB"
                                                        for name, size in groups.most_common(top)))
    allocator = allocator_line()
    if allocator:
        lines.append(allocator)
    return lines
