"""Keeping Python's cyclic garbage collector from stalling the event loop.

A full (generation 2) collection walks every object the collector tracks. Once ccxt, SQLAlchemy, Qt and numba are
imported that is ~200,000 objects, and with the writer thread busy a full collection held the event loop for
~90–110 ms (measured on the persistence of a warm-up's 11,184 changed sets; after :func:`gc.freeze` the longest
collection took 12 ms). The objects that exist once the first engine has started — modules, classes, the exchange
client, the books — live as long as the process, so they are moved out of the collector's reach once; later
collections walk only what was created since.
"""

from __future__ import annotations

import gc
import logging
import time

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
