"""The set book's transfer format (pickle: used rows only, the ring chunks taken, uncompressed) gives
back the same book bit for bit — and a book that goes on exactly like the original — on real minute candles."""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

from cts_desktop.domain.activity import ActivityGateParams
from cts_desktop.domain.book import BookParams, SetBook
from cts_desktop.domain.exits import ExitParams
from cts_desktop.domain.gates import GateThresholds
from cts_desktop.domain.indications import IndicationParams, IndicationType
from cts_desktop.domain.matrix import build_matrix
from cts_desktop.engine.pipeline import SymbolPipeline
from cts_desktop.engine.warmup import replay_candles

DATA = Path(__file__).resolve().parents[2] / "data" / "bybit_BTCUSDT-PERP_1m_20221213.csv"


def candles() -> list[tuple[int, float, float, float, float, float]]:
    with DATA.open() as f:
        return [(int(r[0]), *(float(x) for x in r[1:6])) for r in list(csv.reader(f))[1:]]  # type: ignore[misc]


def pipeline() -> SymbolPipeline:
    params = IndicationParams(pc=0.0005, ranges=(3, 5), types=frozenset({IndicationType.DIRECTION,
                                                                        IndicationType.MOVE}))
    matrix = build_matrix((2, 4, 8), (0.5, 1.0), (None, (0.6, 0.2)))
    # a short ring (L = 2, cut back at 3) so that rings fill, get cut back and keep stale entries past count
    book = BookParams(exit=ExitParams(pc=0.0005, fee=0.00055), max_open=2, history=2, cooldown_s=1.0)
    return SymbolPipeline("BTC/USDT:USDT", params, matrix, book, GateThresholds(), max_variants=6,
                          gate_params=ActivityGateParams(enabled=False))


def used(book: SetBook) -> dict[str, bytes]:
    rings = {"ring_r": book.ring_r.tobytes(), "ring_t": book.ring_t.tobytes()}  # the chunks, as whole rings
    return {**{name: buf[: len(book)].tobytes() for name, buf in book._buf.items()}, **rings}


def test_pickled_book_is_the_same_book_and_goes_on_the_same() -> None:
    rows = candles()
    original = pipeline()
    replay_candles(original, rows[:500], lambda _update: None, lambda: False)
    book = original.book
    assert len(book.variants) >= 3
    assert (book.total > book.params.capacity).any(), "some rings were cut back (stale entries past count)"
    assert book._buf["count"].shape[0] > len(book), "the buffers have spare capacity the copy leaves out"

    blob = pickle.dumps(original, protocol=5)
    copy = pickle.loads(blob)
    assert used(copy.book) == used(book)
    assert copy.book.variants == book.variants and len(copy.book) == len(book)

    # both go on through the rest of the day (new variants grow the copy's buffers) and stay identical
    closed_a: list[object] = []
    closed_b: list[object] = []
    replay_candles(original, rows[500:], lambda u: closed_a.extend([*u.closed, *u.status_changed]), lambda: False)
    replay_candles(copy, rows[500:], lambda u: closed_b.extend([*u.closed, *u.status_changed]), lambda: False)
    assert closed_a and closed_a == closed_b
    assert used(copy.book) == used(book) and copy.book.variants == book.variants
