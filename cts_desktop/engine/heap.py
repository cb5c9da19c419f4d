"""Keeping Python's cyclic garbage collector from stalling the event loop.

A full (generation 2) collection walks every object the collector tracks. Once ccxt, SQLAlchemy, Qt and numba are
imported that is ~200,000 objects, and with the writer thread busy a full collection held the event loop for
~90–110 ms (measured on the persistence of a warm-up's 11,184 changed sets; after :func:`gc.freeze` the longest
collection took 12 ms). The objects that exist once the first engine has started — modules, classes, the exchange
client, the books — live as long as the process, so they are moved out of the collector's reach once; later
collections walk only what was created since.

:func:`steady_malloc` keeps glibc from turning large freed blocks into heap it cannot return: by default each freed
mmap'd block (a numpy array of a book, an unpickled snapshot) raises the threshold under which ``malloc`` serves
from its arenas instead of ``mmap`` — up to 32 MB — so the next arrays of a few MB land in the arenas, interleave
with small objects and stay resident after they are freed (measured on an 8-symbol soak: 270 MB of arenas with
160 MB of it free; with the threshold fixed at 128 KiB, 90 MB with 12 MB free, RSS 731 → 648 MB).

:func:`give_back` returns the C heap's free memory to the system (glibc's ``malloc_trim``): the warm-up unpickles
each symbol's book from its worker and a snapshot copies every book each minute; glibc keeps such freed blocks in
its arenas, so the resident size of a process that runs for weeks would creep up by the largest of them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import sys
import time
from collections.abc import Callable

log = logging.getLogger("cts.engine")

_settled = False


def settle_heap() -> bool:
    """Collect once, then freeze what is left (first call per process only); True when it did."""
    global _settled
    if _settled:
        return False
    _settled = True
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    log.debug("heap settled: %d objects frozen in %.0f ms", gc.get_freeze_count(),
              (time.perf_counter() - started) * 1000)
    return True


def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    return trim


_TRIM = _malloc_trim()

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, now fixed: blocks above it are mmap'd and unmapped on free
TRIM_THRESHOLD = 1024 * 1024  # free memory at the top of an arena above this goes back at once

_steady = False


def steady_malloc() -> bool:
    """Fix glibc's mmap and trim thresholds (see the module docstring) for this process; True when set (glibc only;
    once per process)."""
    global _steady
    if _steady:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    _steady = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _steady


def give_back() -> bool:
    """Return free heap memory to the system where the C library can (glibc); True when it did. Call it from a
    worker thread: it walks the heap (milliseconds) and ctypes releases the GIL meanwhile."""
    return _TRIM is not None and bool(_TRIM(0))
