"""The configuration-set book: trades equal a per-configuration loop on real candles, ring trim, statistics,
gates at their thresholds, snapshot/restore."""

from __future__ import annotations

import io
import lzma
import zipfile

import numpy as np
import pytest

from cts_desktop.domain.bars import LONG, SHORT, Bars
from cts_desktop.domain.book import BookParams, SetBook
from cts_desktop.domain.book_snapshot import SnapshotCopy
from cts_desktop.domain.book_stats import (
    FIGURE_NAMES,
    WINDOWS,
    gate_figures,
    stored_figures,
    window_means,
    window_stats,
)
from cts_desktop.domain.exits import ExitParams
from cts_desktop.domain.gates import (
    GateThresholds,
    SetStatus,
    evaluate,
    exchange_candidates,
    main_sets,
    may_open,
    next_status,
    real_sets,
)
from cts_desktop.domain.matrix import build_matrix
from tests.unit.domain.domain_reference import reference_trades, reversal_entries

MATRIX = build_matrix(tp_values=(2.0, 6.0, 14.0), sl_values=(0.3, 1.0, 2.0))  # 36 sets per variant
EXIT = ExitParams(pc=0.001, fee=0.00055, timeout_s=4 * 3600.0)


def feed(book: SetBook, bars: Bars, signals: dict[tuple[str, tuple[float, ...], int], np.ndarray],
         th: GateThresholds | None = None) -> None:
    """Bar by bar: exits first, then the bar's signals at its close (the engine's order)."""
    for key in signals:
        book.add_variant(key)
    for j in range(len(bars)):
        book.update_bar(float(bars.time[j]), float(bars.open[j]), float(bars.high[j]), float(bars.low[j]),
                        float(bars.close[j]))
        if th is not None:
            evaluate(book, th)
        for key, sig in signals.items():
            if sig[j]:
                book.on_indication(key, float(bars.time[j]), float(bars.close[j]), may_open(book))


def w1_like(bars: Bars) -> dict[tuple[str, tuple[float, ...], int], np.ndarray]:
    return {("direction", (2.0,), d): reversal_entries(bars.close, 2, d) for d in (LONG, SHORT)}


@pytest.mark.parametrize("max_open", [1, 2])
def test_book_trades_equal_per_configuration_loop(btc5m_bars: Bars, max_open: int) -> None:
    book = SetBook(MATRIX, BookParams(EXIT, max_open=max_open, history=1000))
    signals = w1_like(btc5m_bars)
    feed(book, btc5m_bars, signals)
    checked = 0
    for key, sig in signals.items():
        rows = book.variant_rows(key)
        for c in range(len(MATRIX)):
            ref = reference_trades(btc5m_bars, sig, key[2], MATRIX.config(c), EXIT, max_open)
            s = rows.start + c
            res, entry_t, close_t, _uw = book.history(s)
            assert book.total[s] == len(ref)
            ref_by_entry = sorted((btc5m_bars.time[e], btc5m_bars.time[x], r) for e, x, r in ref)
            mine = sorted(zip(entry_t.tolist(), close_t.tolist(), res.tolist(), strict=True))
            assert [(a, b) for a, b, _ in mine] == [(a, b) for a, b, _ in ref_by_entry]
            # rings keep results as float32 (memory); the walk itself is float64 and exact
            np.testing.assert_allclose([r for *_, r in mine], [r for *_, r in ref_by_entry], rtol=1e-6, atol=1e-12)
            checked += len(ref)
    assert checked > 500
    assert book.open_count().max() <= max_open


def test_trim_keeps_exactly_the_newest_l(btc5m_bars: Bars) -> None:
    params = BookParams(EXIT, max_open=1, history=5, trim_threshold=0.4)  # trims at 7 back to 5
    assert params.capacity == 7
    book = SetBook(MATRIX, params)
    signals = w1_like(btc5m_bars)
    feed(book, btc5m_bars, signals)
    key = ("direction", (2.0,), LONG)
    for c in range(len(MATRIX)):
        s = book.variant_rows(key).start + c
        ref = [r for *_, r in sorted(reference_trades(btc5m_bars, signals[key], LONG, MATRIX.config(c), EXIT, 1),
                                     key=lambda x: (x[1], x[0]))]
        kept: list[float] = []
        for r in ref:
            kept.append(r)
            if len(kept) == params.capacity:
                kept = kept[-params.history :]
        assert book.count[s] == len(kept) and book.count[s] < params.capacity
        np.testing.assert_allclose(book.results(s), np.float32(kept), rtol=0, atol=0)
    assert book.total.max() > params.capacity  # trims really happened


def test_window_statistics_match_direct_computation(btc5m_bars: Bars) -> None:
    book = SetBook(MATRIX, BookParams(EXIT, max_open=2, history=100))
    feed(book, btc5m_bars, w1_like(btc5m_bars))
    for w in WINDOWS:
        st = window_stats(book, w)
        for s in np.flatnonzero(book.count >= 3)[:20]:
            res = book.results(s)[-w:]
            _r, entry_t, close_t, uw = (x[-w:] for x in book.history(s))
            wins, losses = res[res > 0], -res[res <= 0]
            assert st.n[s] == res.size
            assert st.avg_pf[s] == pytest.approx(res.mean() / EXIT.pc)
            assert st.win_rate[s] == pytest.approx(wins.size / res.size)
            if losses.size and losses.sum() > 0:
                assert st.gross_pf[s] == pytest.approx(wins.sum() / losses.sum())
            curve = np.cumsum(res)
            assert st.max_drawdown[s] == pytest.approx(np.max(np.maximum.accumulate(np.r_[0.0, curve])[1:] - curve))
            assert st.time_in_drawdown_s[s] == pytest.approx(uw.mean())
            assert st.per_24h[s] == pytest.approx(res.size * 86400.0 / (close_t.max() - entry_t.min()))
            if wins.size and losses.size:
                assert st.win_loss_ratio[s] == pytest.approx(wins.mean() / losses.mean())
    assert (window_stats(book, 50).time_in_drawdown_s > 0).any()


def test_stored_figures_and_gate_means_equal_window_statistics(btc5m_bars: Bars) -> None:
    book = SetBook(MATRIX, BookParams(EXIT, max_open=2, history=100))
    feed(book, btc5m_bars, w1_like(btc5m_bars))
    book.add_variant(("never fired", (1.0,), LONG))  # sets without results: every figure undefined
    all_rows = np.arange(len(book), dtype=np.int64)
    rows = np.flatnonzero(book.count > 0)[::3].astype(np.int64)
    assert (book.count == 0).any() and (book.count > 50).any() and ((book.count > 0) & (book.count < 50)).any()
    for selection in (all_rows, rows):
        figures = stored_figures(book, selection)
        assert figures.shape == (len(selection), len(WINDOWS) * len(FIGURE_NAMES))
        for w in (*WINDOWS, book.params.capacity):
            alone = window_stats(book, w, selection)
            avg_pf, uw = window_means(book, w, selection)
            np.testing.assert_array_equal(avg_pf, alone.avg_pf)  # what the gates read, bit for bit
            np.testing.assert_array_equal(uw, alone.time_in_drawdown_s)
            if w not in WINDOWS:
                continue
            k = WINDOWS.index(w)
            for f, name in enumerate(FIGURE_NAMES):
                got, want = figures[:, k * len(FIGURE_NAMES) + f], getattr(alone, name)
                np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-15, err_msg=f"{w} {name}")  # NaN/inf alike


def test_gate_means_add_in_numpys_order_even_where_order_matters() -> None:
    """Rings filled with results of every magnitude (1e-12 … 1e3, where the order of float64 additions changes the
    last bits) and every fill level: the compiled gate means still equal window_stats bit for bit, for windows
    shorter than 8, within one 128-block and split into halves."""
    rng = np.random.default_rng(7)
    book = SetBook(MATRIX, BookParams(EXIT, max_open=2, history=250))
    book.add_variant(("direction", (3.0,), LONG))
    n = len(book)
    shape = (n, book.params.capacity, 2)
    values = rng.standard_normal(shape) * 10.0 ** rng.uniform(-12, 3, shape)
    book.ring_r[...] = values.astype(np.float32)
    book.count[:] = rng.integers(0, book.params.capacity + 1, n)
    rows = np.arange(n, dtype=np.int64)
    for w in (1, 5, 8, 50, 128, 129, 200, book.params.capacity):
        alone = window_stats(book, w, rows)
        avg_pf, uw = window_means(book, w, rows)
        np.testing.assert_array_equal(avg_pf, alone.avg_pf, err_msg=str(w))
        np.testing.assert_array_equal(uw, alone.time_in_drawdown_s, err_msg=str(w))


def arr(*v: float) -> np.ndarray:
    return np.array(v, dtype=np.float64)


def test_gates_change_status_exactly_at_thresholds() -> None:
    th = GateThresholds()
    E, A, P, F = (np.int8(s) for s in SetStatus)
    # phase 1 at the 10th close: 40 % passes, less fails; before the 10th nothing happens
    st = next_status(np.array([E, E, E], np.int8), np.array([9, 9, 8]), np.array([10, 10, 9]),
                     arr(4 / 10, 3 / 10, 0.0), arr(1, 1, 1), arr(0, 0, 0), arr(0, 0, 0), th)
    assert st.tolist() == [E, F, E]
    # phase 2 at the 50th close: 45 % and 1.2 pass; just below either → paused
    st = next_status(np.array([E, E, E], np.int8), np.array([49, 49, 49]), np.array([50, 50, 50]),
                     arr(0.45, 0.4499, 0.45), arr(1.2, 1.2, 1.1999), arr(0, 0, 0), arr(0, 0, 0), th)
    assert st.tolist() == [A, P, P]
    # production: pause below 38 % or above 30 % drawdown; exactly at the limits stays active
    st = next_status(np.array([A, A, A, A], np.int8), np.full(4, 60), np.full(4, 61),
                     arr(0, 0, 0, 0), arr(0, 0, 0, 0), arr(0.38, 0.3799, 0.5, 0.5), arr(0.1, 0.1, 0.30, 0.3001), th)
    assert st.tolist() == [A, P, A, P]
    # resume at 43 %
    st = next_status(np.array([P, P, F], np.int8), np.full(3, 60), np.full(3, 61),
                     arr(0, 0, 0), arr(0, 0, 0), arr(0.43, 0.4299, 0.9), arr(0, 0, 0), th)
    assert st.tolist() == [A, P, F]


def test_gates_on_a_real_book(btc5m_bars: Bars) -> None:
    # this day lost money on every set: thresholds below zero so that each layer holds some sets and drops some
    th = GateThresholds(phase2_count=20, production_window=20, main_min_avg_pf=-2.0, real_min_avg_pf=-1.5,
                        exchange_min_avg_pf=-1.5)
    book = SetBook(MATRIX, BookParams(EXIT, max_open=2, history=250))
    feed(book, btc5m_bars, w1_like(btc5m_bars), th)
    failed = book.status == SetStatus.FAILED
    assert failed.any() and (book.total >= 10)[failed].all()
    for s in np.flatnonzero(failed):
        assert (book.results(s)[:10] > 0).mean() < 0.40  # judged on its first ten results
    for s in np.flatnonzero((book.total >= 10) & (book.status == SetStatus.EVALUATING)):
        assert (book.results(s)[:10] > 0).mean() >= 0.40
    assert (book.status[book.total >= 20] != SetStatus.EVALUATING).all()
    main = main_sets(book, th)
    real = real_sets(book, th)
    exch = exchange_candidates(book, th)
    assert not (real & ~main).any() and not (exch & ~real).any()
    assert ((book.status == SetStatus.ACTIVE) | ~main).all()
    # Main by its definition over the whole history
    hist = window_stats(book, book.params.capacity)
    assert main.any() and (main & ~real).any() and (real & ~exch).any() and exch.any()
    assert (main == ((book.status == SetStatus.ACTIVE) & (book.total >= th.main_min_closed)
                     & (hist.avg_pf >= th.main_min_avg_pf))).all()
    # asked for some rows, the gates answer exactly what the whole-book answer says for those rows
    rows = np.random.default_rng(7).choice(len(book), size=len(book) // 3, replace=False).astype(np.int64)
    rows = np.concatenate([rows, np.flatnonzero(main)[:5]])
    assert (main_sets(book, th, rows) == main[rows]).all()
    assert (real_sets(book, th, rows) == real[rows]).all()
    assert (exchange_candidates(book, th, rows) == exch[rows]).all()


def test_snapshot_restore_gives_the_same_book(btc5m_bars: Bars) -> None:
    params = BookParams(EXIT, max_open=2, history=50, trim_threshold=0.2)
    half = len(btc5m_bars) // 2
    signals = w1_like(btc5m_bars)
    first = {k: v[:half] for k, v in signals.items()}
    book = SetBook(MATRIX, params)
    feed(book, btc5m_bars.slice(0, half), first, GateThresholds())
    copy = SetBook.restore(book.snapshot(), params)
    assert copy.variants == book.variants
    for name in SetBook.ARRAYS:
        assert np.array_equal(getattr(copy, name), getattr(book, name)), name
    rest = {k: v[half:] for k, v in signals.items()}
    for b in (book, copy):
        feed(b, btc5m_bars.slice(half, len(btc5m_bars)), rest, GateThresholds())
    for name in SetBook.ARRAYS:
        assert np.array_equal(getattr(copy, name), getattr(book, name)), name
    assert len(book.snapshot()) < 200_000
    with pytest.raises(ValueError):
        SetBook.restore(book.snapshot(), BookParams(EXIT, max_open=2, history=100))


def _deflated_npz(blob: bytes) -> bytes:
    """The same snapshot as the .npz with deflated members that snapshots were before issue 18."""
    out = io.BytesIO()
    with np.load(io.BytesIO(lzma.decompress(blob)), allow_pickle=False) as z, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in z.files:
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, z[name], allow_pickle=False)
    return out.getvalue()


def test_a_snapshot_is_xz_packed_a_fraction_of_the_deflated_npz_and_both_restore_exactly(btc5m_bars: Bars) -> None:
    """Sets of one variant repeat each other's results far beyond deflate's window: LZMA packs the whole .npz to a
    fraction of the size its deflated members took (the more sets, the smaller the fraction), and a snapshot
    stored before still restores."""
    params = BookParams(EXIT, max_open=2, history=50, trim_threshold=0.2)
    book = SetBook(MATRIX, params)
    feed(book, btc5m_bars, w1_like(btc5m_bars), GateThresholds())
    blob = book.snapshot()
    older = _deflated_npz(blob)
    assert len(blob) < 0.75 * len(older)  # this small book: −28 %; an engine's book at the defaults: −94 %
    for data in (blob, older):
        restored = SetBook.restore(data, params)
        assert restored.variants == book.variants
        for name in SetBook.ARRAYS:
            assert np.array_equal(getattr(restored, name), getattr(book, name)), name


def test_snapshot_copied_in_steps_while_the_book_trades(btc5m_bars: Bars) -> None:
    """The engine copies a snapshot a few rows at a time between price updates: each set restores as it was when
    its rows were copied, and a variant added meanwhile is left out."""
    params = BookParams(EXIT, max_open=2, history=50, trim_threshold=0.2)
    signals = w1_like(btc5m_bars)
    third = len(btc5m_bars) // 3
    book = SetBook(MATRIX, params)
    feed(book, btc5m_bars.slice(0, third), {k: v[:third] for k, v in signals.items()}, GateThresholds())
    copy = SnapshotCopy(book)
    step = max(1, len(book) // 4)
    seen: dict[str, list[np.ndarray]] = {name: [] for name in SetBook.ARRAYS}
    for k in range(4):
        start = copy.done_rows
        copy.copy_step(step if k < 3 else len(book))
        for name in SetBook.ARRAYS:
            seen[name].append(getattr(book, name)[start:copy.done_rows].copy())
        bars = btc5m_bars.slice(third + k * 50, third + (k + 1) * 50)
        feed(book, bars, {key: v[third + k * 50: third + (k + 1) * 50] for key, v in signals.items()}, GateThresholds())
    book.add_variant(("extra", (1.0,), SHORT))
    with pytest.raises(RuntimeError):
        SnapshotCopy(book).encode()
    restored = SetBook.restore(copy.encode(), params)
    assert copy.complete and len(restored) == copy.rows < len(book)
    for name in SetBook.ARRAYS:
        expected = np.concatenate(seen[name])
        assert np.array_equal(getattr(restored, name), expected), name
    assert not np.array_equal(restored.total, book.total[: copy.rows])  # the book moved on after the copy


def test_price_updates_and_cooldown() -> None:
    book = SetBook(build_matrix(tp_values=(2.0,), sl_values=(1.0,), trailing=(None,)),
                   BookParams(ExitParams(pc=0.01, fee=0.0), max_open=2, cooldown_s=1.0))
    key = ("move", (3.0,), SHORT)
    allow = np.ones(1, dtype=bool)
    assert book.on_indication(key, 0.0, 100.0, allow) == 1
    assert book.on_indication(key, 0.5, 100.0, allow) == 0  # cooldown
    assert book.on_indication(key, 1.0, 100.5, allow) == 1
    assert book.on_indication(key, 2.0, 100.5, allow) == 0  # both slots taken
    assert book.update_price(3.0, 101.5) == 0  # short: stop of the first at 102, of the second at 102.51
    assert book.update_price(4.0, 102.2) == 1  # the first stops out at the price (tick = bar, at its open)
    assert book.results(0)[0] == pytest.approx(-0.022, rel=1e-6)
    assert book.on_indication(key, 4.0, 102.2, allow) == 0  # same update as an exit: ignored
    assert book.update_price(5.0, 98.0) == 1  # the second: take profit 100.5 − 2.01 = 98.49, gapped → 98.0
    assert book.results(0)[1] == pytest.approx((100.5 - 98.0) / 100.5, rel=1e-6)
    # time in drawdown: the intervals that end on the losing side (above entry): 1→3 and 3→4
    assert book.history(0)[3][1] == pytest.approx(3.0)


def test_new_variant_with_a_stale_mask_and_failed_sets() -> None:
    book = SetBook(build_matrix(tp_values=(2.0,), sl_values=(1.0, 2.0), trailing=(None,)),
                   BookParams(ExitParams(pc=0.01, fee=0.0), max_open=1))
    first = ("move", (3.0,), LONG)
    book.on_indication(first, 0.0, 100.0)
    stale = np.ones(len(book), dtype=bool)  # taken before the next variant existed
    assert book.on_indication(("move", (5.0,), LONG), 1.0, 100.0, stale) == 2
    book.status[book.variant_rows(first).start] = SetStatus.FAILED
    assert book.update_price(2.0, 95.0) == 4  # every set stops out (stops at 98 and 96)
    assert book.on_indication(first, 3.0, 95.0) == 1  # the failed set stays closed
    with pytest.raises(ValueError):
        book.on_indication(first, 4.0, 98.0, np.ones(len(book) + 1, dtype=bool))


def test_gate_figures_equal_window_statistics(btc5m_bars: Bars) -> None:
    book = SetBook(MATRIX, BookParams(EXIT, max_open=2, history=100))
    feed(book, btc5m_bars, w1_like(btc5m_bars))
    rows = np.flatnonzero(book.count > 0)
    for w in (10, 50):
        wr, wl, dd = gate_figures(book, w, rows)
        st = window_stats(book, w, rows)
        np.testing.assert_allclose(wr, st.win_rate)
        np.testing.assert_allclose(dd, st.max_drawdown, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(wl, st.win_loss_ratio)


def test_growing_the_book_keeps_every_set(btc5m_bars: Bars) -> None:
    book = SetBook(MATRIX, BookParams(EXIT, max_open=2, history=100))
    signals = w1_like(btc5m_bars)
    half = len(btc5m_bars) // 2
    feed(book, btc5m_bars.slice(0, half), {k: v[:half] for k, v in signals.items()})
    before = {name: getattr(book, name).copy() for name in SetBook.ARRAYS}
    for r in range(3, 40):  # many variants, one by one (buffers grow by doubling)
        book.add_variant(("move", (float(r),), SHORT))
    assert len(book) == (2 + 37) * len(MATRIX)
    for name, arr in before.items():
        assert np.array_equal(getattr(book, name)[: arr.shape[0]], arr), name
        assert getattr(book, name).shape[0] == len(book)
    fresh = book.variant_rows(("move", (39.0,), SHORT))
    assert (book.direction[fresh] == SHORT).all() and (book.count[fresh] == 0).all()
    assert (book.set_f[fresh] == -np.inf).all()
    # and the grown book keeps trading exactly like one that had all rows from the start
    twin = SetBook.restore(book.snapshot(), book.params)
    rest = {k: v[half:] for k, v in signals.items()}
    feed(book, btc5m_bars.slice(half, len(btc5m_bars)), rest)
    feed(twin, btc5m_bars.slice(half, len(btc5m_bars)), rest)
    for name in SetBook.ARRAYS:
        assert np.array_equal(getattr(book, name), getattr(twin, name)), name
