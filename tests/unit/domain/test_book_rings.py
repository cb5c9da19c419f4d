"""The rings in chunks (a set holds memory for the results it has): the book reads and writes exactly what whole
preallocated rings held — the newest results, the stale entries a cut leaves past ``count``, every bit — through
cuts that cross chunks, restores, pickles and the batch warm-up's concurrent walks, and takes no more chunks than
its sets wrote."""

from __future__ import annotations

import csv
import io
import lzma
import pickle
from pathlib import Path

import numpy as np
import pytest

from cts_desktop.domain.activity import ActivityGateParams
from cts_desktop.domain.bars import LONG, Bars
from cts_desktop.domain.book import BookParams, SetBook
from cts_desktop.domain.book_layout import CHUNK
from cts_desktop.domain.book_snapshot import distinct
from cts_desktop.domain.exits import ExitParams
from cts_desktop.domain.gates import GateThresholds
from cts_desktop.domain.indications import IndicationParams, IndicationType
from cts_desktop.domain.matrix import build_matrix
from cts_desktop.engine import batch_warmup
from cts_desktop.engine.pipeline import SymbolPipeline
from cts_desktop.engine.warmup import replay_candles
from tests.unit.domain.domain_reference import reference_trades
from tests.unit.domain.test_book import EXIT, MATRIX, w1_like

DATA = Path(__file__).resolve().parents[2] / "data" / "bybit_BTCUSDT-PERP_1m_20221213.csv"


def taken_chunks(book: SetBook) -> int:
    return int(np.count_nonzero(book.chunks))


def test_rings_across_chunks_hold_exactly_what_whole_rings_held(btc5m_bars: Bars) -> None:
    """Bar by bar, each closed result is appended to a model of the whole ring (cut back by copying its newest L
    entries to the front, stale entries left behind): at the end the book's rings equal the model byte for byte,
    the kept results equal the per-configuration reference, and the pool holds only the chunks written."""
    params = BookParams(EXIT, max_open=1, history=CHUNK + 3, trim_threshold=0.5)  # 19 kept, cut at 28: 2 chunks
    cap, keep = params.capacity, params.history
    book = SetBook(MATRIX, params)
    signals = w1_like(btc5m_bars)
    for key in signals:
        book.add_variant(key)
    model_r = np.zeros((len(book), cap, 2), dtype=np.float32)
    model_t = np.zeros((len(book), cap, 2), dtype=np.uint32)
    count = np.zeros(len(book), dtype=np.int64)
    bars = btc5m_bars
    for j in range(len(bars)):
        book.update_bar(float(bars.time[j]), float(bars.open[j]), float(bars.high[j]), float(bars.low[j]),
                        float(bars.close[j]))
        for s in np.flatnonzero(book.closed_now).tolist():
            # the newest closed_now entries, read as the pipeline reads them (a cut in this update leaves them last)
            n_new = int(book.closed_now[s])
            cols = np.arange(int(book.count[s]) - n_new, int(book.count[s]))
            new_r, new_t = book.entries(np.full(n_new, s), cols)
            for r, t in zip(new_r, new_t, strict=True):
                model_r[s, count[s]], model_t[s, count[s]] = r, t
                count[s] += 1
                if count[s] == cap:
                    model_r[s, :keep] = model_r[s, cap - keep:].copy()
                    model_t[s, :keep] = model_t[s, cap - keep:].copy()
                    count[s] = keep
        for key, sig in signals.items():
            if sig[j]:
                book.on_indication(key, float(bars.time[j]), float(bars.close[j]))
    assert book.total.max() > 2 * cap, "rings were cut back more than once"
    assert (book.count == count).all()
    assert book.ring_r.tobytes() == model_r.tobytes() and book.ring_t.tobytes() == model_t.tobytes()
    for field in (0, 1):  # one field of every ring (the chart's markers read the close times so)
        assert book.ring_t[:, :, field].tobytes() == model_t[:, :, field].tobytes()
        assert book.ring_r[2:9, :, field].tobytes() == model_r[2:9, :, field].tobytes()
    key = ("direction", (2.0,), LONG)
    for c in range(len(MATRIX)):
        s = book.variant_rows(key).start + c
        ref = [r for *_, r in sorted(reference_trades(bars, signals[key], LONG, MATRIX.config(c), EXIT, 1),
                                     key=lambda x: (x[1], x[0]))]
        kept: list[float] = []
        for r in ref:
            kept.append(r)
            if len(kept) == cap:
                kept = kept[-keep:]
        assert book.results(s).tobytes() == np.array(kept, dtype=np.float32).astype(np.float64).tobytes()
    written = (model_t != 0).any(axis=2)
    last = np.where(written.any(axis=1), cap - np.argmax(written[:, ::-1], axis=1), 0)
    assert taken_chunks(book) == int((-(-last // CHUNK)).sum()), "a chunk for every 16 entries written, no more"


def test_written_rings_come_back_bit_for_bit_through_the_view_a_pickle_and_a_snapshot() -> None:
    """Entries that are written but look empty (-0.0, NaN) or sit alone in a far chunk come back as they were:
    assigned through the dense view, pickled (the warm-up worker's transfer) and snapshotted (the stored .npz of
    whole rings: snapshots taken before the chunks load the same way)."""
    book = SetBook(MATRIX, BookParams(EXIT, max_open=2, history=3 * CHUNK))
    book.add_variant(("direction", (2.0,), LONG))
    cap = book.params.capacity
    ring_r = np.zeros((len(book), cap, 2), dtype=np.float32)
    ring_t = np.zeros((len(book), cap, 2), dtype=np.uint32)
    ring_r[0, :3] = 1.5
    ring_r[1, CHUNK + 2, 1] = -0.0  # only a sign bit: written
    ring_r[2, cap - 1, 0] = np.nan  # the last entry of the last chunk
    ring_t[3, 2 * CHUNK, 0] = 7  # one entry in the third chunk, none before it
    book.ring_r[...] = ring_r
    book.ring_t[...] = ring_t
    book.count[:4] = (3, CHUNK + 3, cap - 1, 2 * CHUNK + 1)
    assert book.ring_r.tobytes() == ring_r.tobytes() and book.ring_t.tobytes() == ring_t.tobytes()
    n_chunks = -(-cap // CHUNK)
    assert taken_chunks(book) == 1 + 2 + n_chunks + 3  # every chunk up to each set's last written one
    for other in (pickle.loads(pickle.dumps(book, protocol=5)), SetBook.restore(book.snapshot(), book.params)):
        assert other.ring_r.tobytes() == ring_r.tobytes() and other.ring_t.tobytes() == ring_t.tobytes()
        assert (other.count == book.count).all()
        assert taken_chunks(other) == taken_chunks(book)
        for s in range(4):  # the engine's reads go to the pool directly
            for got, want in zip(other.history(s), book.history(s), strict=True):
                assert got.tobytes() == want.tobytes()


def candles() -> list[tuple[int, float, float, float, float, float]]:
    with DATA.open() as f:
        return [(int(r[0]), *(float(x) for x in r[1:6])) for r in list(csv.reader(f))[1:]]  # type: ignore[misc]


def pipeline() -> SymbolPipeline:
    params = IndicationParams(pc=0.0001, ranges=(3, 5), types=frozenset({IndicationType.DIRECTION,
                                                                        IndicationType.MOVE}))
    matrix = build_matrix((2, 4, 8), (0.5, 1.0), (None, (0.6, 0.2)))
    book = BookParams(exit=ExitParams(pc=0.0001, fee=0.00055), max_open=2, history=CHUNK - 4)  # cut at 19: 2 chunks
    never_fail = GateThresholds(phase1_min_win_rate=0.0)  # every set goes on trading: its ring fills
    return SymbolPipeline("BTC/USDT:USDT", params, matrix, book, never_fail, max_variants=6,
                          gate_params=ActivityGateParams(enabled=False))


def test_concurrent_walks_take_their_own_chunks_and_leave_the_tick_replays_rings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch warm-up walks ranges of 5 sets on every thread at once, each taking chunks from its own part of
    the pool, then packs the pool: rings equal the tick replay's bit for bit and the pool has no gaps."""
    rows = candles()
    monkeypatch.setattr(batch_warmup, "SETS_PER_STEP", 5)
    ticks, batch = pipeline(), pipeline()
    replay_candles(ticks, rows, lambda _update: None, lambda: False)
    assert batch_warmup.replay_batch(batch, rows, lambda _update: None, lambda: False, False)
    a, b = ticks.book, batch.book
    assert len(b) > 4 * 5 and (b.total > b.params.capacity).any(), "several walks, cut rings"
    for name in SetBook.ARRAYS:
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes(), name
    assert int(b._used[0]) == 1 + taken_chunks(b), "packed: chunk 0 and the chunks taken, nothing between"
    assert b.memory() == a.memory()


def whole_ring_snapshot(book: SetBook) -> bytes:
    """A snapshot as the engine stored it before the chunks: every array of the book whole, rings included."""
    keys = list(book.variants)
    m = book.matrix
    arrays = {
        "variant_types": np.array([k[0] for k in keys], dtype=str),
        "variant_params": np.array([repr(tuple(float(x) for x in k[1])) for k in keys], dtype=str),
        "variant_dirs": np.array([k[2] for k in keys], dtype=np.int64),
        "matrix": np.stack([m.tp, m.sl, m.trail_start, m.trail_stop]),
        **{name: np.asarray(getattr(book, name)) for name in SetBook.ARRAYS},
    }
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
    return out.getvalue()


def test_snapshots_of_whole_rings_and_of_chunks_restore_the_same_book(btc5m_bars: Bars) -> None:
    """A snapshot stored before the chunks (whole rings) and one of the chunks restore the same book byte for byte
    (rings, counts, statuses, open positions), and it goes on closing the same results; the chunk snapshot holds
    the chunks taken, not whole rings. A snapshot of another ring length does not load (the warm-up then replays
    the prehistory)."""
    params = BookParams(EXIT, max_open=2, history=CHUNK + 3, trim_threshold=0.5)
    book = SetBook(MATRIX, params)
    signals = w1_like(btc5m_bars)
    half = len(btc5m_bars) // 2
    feed_part = slice(0, half)
    bars = btc5m_bars
    for key in signals:
        book.add_variant(key)

    def walk(b: SetBook, part: slice) -> list[tuple[int, bytes]]:
        closed: list[tuple[int, bytes]] = []
        for j in range(*part.indices(len(bars))):
            b.update_bar(float(bars.time[j]), float(bars.open[j]), float(bars.high[j]), float(bars.low[j]),
                         float(bars.close[j]))
            for s in np.flatnonzero(b.closed_now).tolist():
                closed.append((s, b.history(s)[0][-1:].tobytes()))
            for key, sig in signals.items():
                if sig[j]:
                    b.on_indication(key, float(bars.time[j]), float(bars.close[j]))
        return closed

    walk(book, feed_part)
    assert (book.total > params.capacity).any()
    old, new = whole_ring_snapshot(book), book.snapshot()
    with np.load(io.BytesIO(lzma.decompress(new))) as stored:  # the chunks taken travel, not whole rings
        assert "ring_r" not in stored.files and stored["ring_result_index"].size == taken_chunks(book) * CHUNK
    restored = [SetBook.restore(blob, params) for blob in (old, new)]
    for other in restored:
        assert other.variants == book.variants
        for name in SetBook.ARRAYS:
            assert getattr(other, name).tobytes() == getattr(book, name).tobytes(), name
    later = [walk(b, slice(half, len(bars))) for b in (book, *restored)]
    assert later[0] and later[0] == later[1] == later[2]
    with pytest.raises(ValueError):
        SetBook.restore(new, BookParams(EXIT, max_open=2, history=CHUNK + 4, trim_threshold=0.5))


def test_snapshot_columns_equal_numpys_unique_bit_for_bit(btc5m_bars: Bars) -> None:
    """A snapshot stores each ring field as its distinct 32-bit patterns and one index per entry; the linear-time
    table (``distinct``) gives exactly what ``np.unique(..., return_inverse=True)`` gives — on every field of a
    traded book's rings, on no entries, one entry, and a column of more distinct values than its table starts
    with (it grows)."""
    book = SetBook(MATRIX, BookParams(EXIT, max_open=2, history=CHUNK + 3, trim_threshold=0.5))
    signals = w1_like(btc5m_bars)
    for key in signals:
        book.add_variant(key)
    bars = btc5m_bars
    for j in range(len(bars)):
        book.update_bar(float(bars.time[j]), float(bars.open[j]), float(bars.high[j]), float(bars.low[j]),
                        float(bars.close[j]))
        for key, sig in signals.items():
            if sig[j]:
                book.on_indication(key, float(bars.time[j]), float(bars.close[j]))
    used = taken_chunks(book) * CHUNK + CHUNK
    fields = [book.pool_r[:used, 0], book.pool_r[:used, 1], book.pool_t[:used, 0], book.pool_t[:used, 1]]
    assert all(np.unique(f).size > 1 for f in fields)
    spread = np.arange(5000, dtype=np.uint32)[::-1] * np.uint32(2654435)  # distinct, past the first table
    odd = [np.zeros(0, dtype=np.uint32), np.array([7], dtype=np.uint32), np.tile(spread, 3)]
    for column in [np.ascontiguousarray(f).view(np.uint32) for f in fields] + odd:
        values, index = distinct(column)
        expected_values, expected_index = np.unique(column, return_inverse=True)
        assert values.dtype == expected_values.dtype and np.array_equal(values, expected_values)
        assert np.array_equal(index, expected_index.reshape(-1))
