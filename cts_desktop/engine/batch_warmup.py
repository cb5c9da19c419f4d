"""The prehistory replay of one symbol pipeline with the compiled batch kernels instead of tick by tick.

:func:`replay_batch` gives the pipeline exactly the state :func:`cts_desktop.engine.warmup.replay_candles` gives
(the same four ticks per candle): the indications of the whole series from
:mod:`cts_desktop.domain.indication_kernel`, the variants they create in firing order (up to the cap, the rest
counted as skipped), then every set of the book through :mod:`cts_desktop.domain.book_replay` — its ring,
counts, statistics' inputs, status and open pseudo positions — and the closed results in the order the ticks
closed them. What the batch path does not model (an indication engine that has already seen prices: the
catch-up after a sleep; a zero price; tick times that are not whole seconds) makes it return ``None`` and the
caller replays tick by tick. ``CTS_WARMUP_PATH=ticks`` in the environment selects the tick-by-tick replay
everywhere (for comparison and as a way back).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from cts_desktop.domain import indication_kernel
from cts_desktop.domain.book import VariantKey
from cts_desktop.domain.book_replay import N_REC, BookReplay
from cts_desktop.engine.pipeline import PipelineUpdate, SymbolPipeline

Candle = tuple[int, float, float, float, float, float]
PATH_ENV = "CTS_WARMUP_PATH"
SETS_PER_STEP = 2048  # sets walked between two looks at the stop flag


def batch_enabled() -> bool:
    """False when ``CTS_WARMUP_PATH=ticks`` asks for the tick-by-tick replay."""
    return os.environ.get(PATH_ENV, "").strip().lower() != "ticks"


def threads() -> int:
    """Threads that walk the sets (the kernel releases the GIL): every usable core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def ticks(candles: Sequence[Candle]) -> tuple[np.ndarray, np.ndarray]:
    """The four ticks of each candle 15 s apart (open, the adverse extreme first by colour, close), as
    ``replay_candles`` builds them."""
    if not candles:
        return np.empty(0), np.empty(0)
    a = np.asarray(candles, dtype=np.float64)
    o, h, low, c = a[:, 1], a[:, 2], a[:, 3], a[:, 4]
    up = c >= o
    prices = np.column_stack((o, np.where(up, low, h), np.where(up, h, low), c)).reshape(-1)
    base = np.asarray([int(x[0]) for x in candles], dtype=np.int64) / 1000.0
    times = (base[:, None] + np.arange(4) * 15.0).reshape(-1)
    return np.ascontiguousarray(times), np.ascontiguousarray(prices)


def replay_batch(pipeline: SymbolPipeline, candles: Sequence[Candle], collect: Callable[[PipelineUpdate], None],
                 stopped: Callable[[], bool], record: bool) -> bool | None:
    """Replay ``candles`` into ``pipeline`` with the batch kernels and hand ``collect`` one update holding every
    closed set row (with ``record``, every closed result in tick order, as the tick replay reports them).
    Returns True when done, False when ``stopped()`` turned true in between (the pipeline is then partly
    replayed, as a stopped tick replay leaves it), None when the batch path cannot run these candles (nothing
    was changed: replay them tick by tick)."""
    times, prices = ticks(candles)
    engine, frames = pipeline.indications, pipeline.frames
    if not len(times):
        return True
    if not indication_kernel.supported(engine, frames, times, prices) or not np.all(times == np.floor(times)):
        return None
    found = indication_kernel.scan(engine, times, prices)
    if stopped():
        return False
    book = pipeline.book
    # the variants in the order their first indication fired, while the cap allows
    combo = found.key * 2 + (found.direction > 0)
    unique, first = np.unique(combo, return_index=True)
    variant_keys: dict[int, VariantKey] = {}
    for value in unique[np.argsort(first, kind="stable")].tolist():
        kind, params = found.keys[value // 2]
        key: VariantKey = (kind, tuple(float(x) for x in params), 1 if value % 2 else -1)
        if key not in book.variants and len(book.variants) >= pipeline.max_variants:
            continue
        book.add_variant(key)
        variant_keys[value] = key
    index = np.full(int(combo.max()) + 1 if combo.size else 1, -1, dtype=np.int64)
    for value, key in variant_keys.items():
        index[value] = book.variants[key]
    variant = index[combo] if combo.size else np.empty(0, dtype=np.int64)
    pipeline.skipped_variants += int(np.count_nonzero(variant < 0))
    kept = variant >= 0
    order = np.argsort(variant[kept], kind="stable")
    ev_tick = np.ascontiguousarray(found.tick[kept][order], dtype=np.int64)
    ev_off = np.searchsorted(variant[kept][order], np.arange(len(book.variants) + 1), side="left").astype(np.int64)
    replay = BookReplay(book, pipeline.thresholds, times, prices, ev_off, ev_tick, record)

    def walk(first_set: int) -> np.ndarray | None:  # sets never read each other: chunks run on every core
        if stopped():
            return None
        return replay.run(first_set, min(len(book), first_set + SETS_PER_STEP))

    with ThreadPoolExecutor(max_workers=threads(), thread_name_prefix="warmup-batch") as pool:
        parts = list(pool.map(walk, range(0, len(book), SETS_PER_STEP)))
    replay.finish()
    if any(part is None for part in parts):
        return False
    indication_kernel.install(engine, frames, found, times, prices)
    pipeline.last_time, pipeline.last_price = float(times[-1]), float(prices[-1])
    update = PipelineUpdate()
    if record:
        records = np.concatenate([p for p in parts if p is not None]) if parts else np.empty((0, N_REC))
        records = records[np.lexsort((records[:, 1], records[:, 0]))]  # by tick, then set row (stable)
        update.closed_rows = records[:, 1].astype(np.int64)
        update.closed_values = np.ascontiguousarray(records[:, 2:])
    else:
        update.closed_rows = np.flatnonzero(replay.touched).astype(np.int64)
        update.closed_values = np.zeros((len(update.closed_rows), 5))
    collect(update)
    return True
