"""Keeping Python's cyclic garbage collector from stalling the event loop.

A full (generation 2) collection walks every object the collector tracks. Once ccxt, SQLAlchemy, Qt and numba are
imported that is ~200,000 objects, and with the writer thread busy a full collection held the event loop for
~90–110 ms (measured on the persistence of a warm-up's 11,184 changed sets; after :func:`gc.freeze` the longest
collection took 12 ms). The objects that exist once the first engine has started — modules, classes, the exchange
client, the books — live as long as the process, so they are moved out of the collector's reach once; later
collections walk only what was created since.

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


def give_back() -> bool:
    """Return free heap memory to the system where the C library can (glibc); True when it did. Call it from a
    worker thread: it walks the heap (milliseconds) and ctypes releases the GIL meanwhile."""
    return _TRIM is not None and bool(_TRIM(0))
