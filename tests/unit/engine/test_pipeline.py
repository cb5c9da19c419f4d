"""The Main pipeline on real BTCUSDT-perp minute candles (tests/data): indications fire, sets fill, results close,
gates promote, Real signals appear — and a paused pipeline tracks its open positions but opens none."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np

from cts_desktop.domain import gates
from cts_desktop.domain.activity import ActivityGateParams
from cts_desktop.domain.book import BookParams, SetBook
from cts_desktop.domain.book_stats import window_means
from cts_desktop.domain.exits import ExitParams
from cts_desktop.domain.gates import GateThresholds
from cts_desktop.domain.indications import IndicationParams, IndicationType
from cts_desktop.domain.matrix import build_matrix
from cts_desktop.engine.pipeline import SymbolPipeline

DATA = Path(__file__).resolve().parents[2] / "data" / "bybit_BTCUSDT-PERP_1m_20221213.csv"
LOW_GATES = GateThresholds(phase1_count=2, phase1_min_win_rate=0.0, phase2_count=4, phase2_min_win_rate=0.0,
                           phase2_min_win_loss=0.0, pause_below_win_rate=0.0, pause_above_drawdown=10.0,
                           resume_win_rate=0.0, main_min_avg_pf=-100, main_min_closed=2, real_window=4,
                           real_min_avg_pf=-100, real_max_time_in_drawdown_s=1e12, exchange_window=4,
                           exchange_min_avg_pf=-100)


def ticks() -> list[tuple[float, float]]:
    """Each real minute bar as four ticks O, H/L by colour, L/H, C spread over its minute."""
    out = []
    with DATA.open() as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            t = int(row[0]) / 1000
            o, h, low, c = map(float, row[1:5])
            path = (o, low, h, c) if c >= o else (o, h, low, c)
            out += [(t + k * 15, p) for k, p in enumerate(path)]
    return out


def pipeline(gates: GateThresholds) -> SymbolPipeline:
    params = IndicationParams(pc=0.001, ranges=(3, 5), types=frozenset({IndicationType.DIRECTION,
                                                                        IndicationType.MOVE}))
    matrix = build_matrix((2, 4, 8), (0.5, 1.0), (None, (0.6, 0.2)))
    book = BookParams(exit=ExitParams(pc=0.001, fee=0.00055), max_open=2, history=50, cooldown_s=1.0)
    # minute bars give only four ticks a minute: the 10-s market-activity gate would see a still market
    return SymbolPipeline("BTC/USDT:USDT", params, matrix, book, gates, max_variants=8,
                          gate_params=ActivityGateParams(enabled=False))


def test_real_minutes_fire_indications_fill_sets_and_promote() -> None:
    p = pipeline(LOW_GATES)
    fired = opened = closed = 0
    signals = []
    for t, price in ticks():
        update = p.on_price(t, price, entries_allowed=True)
        fired += len(update.indications)
        opened += update.opened
        closed += len(update.closed)
        signals += update.signals
    assert fired > 10
    assert opened > 0 and closed > 0
    counts = p.status_counts()
    assert counts["active"] > 0
    assert signals, "with low gates some sets must reach Real and give signals"
    signal, row, _ = signals[-1]
    assert signal.symbol == "BTC/USDT:USDT" and signal.direction in ("long", "short")
    assert 0 < signal.stop_loss_frac < 0.01
    key = p.set_key(row)
    assert key.indication_type in ("direction", "move") and key.tp in (2.0, 4.0, 8.0)


def test_default_gates_give_no_signals_on_half_a_day() -> None:
    p = pipeline(GateThresholds())
    signals = []
    for t, price in ticks():
        signals += p.on_price(t, price, entries_allowed=True).signals
    assert signals == []  # 10 closed results and the phase checks are not reached this fast


def test_paused_pipeline_tracks_open_positions_but_opens_none() -> None:
    p = pipeline(LOW_GATES)
    data = ticks()
    half = len(data) // 2
    for t, price in data[:half]:
        p.on_price(t, price, entries_allowed=True)
    open_before = p.open_pseudo()
    assert open_before > 0
    opened_paused = closed_paused = fired_paused = 0
    for t, price in data[half:]:
        update = p.on_price(t, price, entries_allowed=False)
        opened_paused += update.opened
        closed_paused += len(update.closed)
        fired_paused += len(update.indications)
        assert update.signals == []
    assert opened_paused == 0
    assert fired_paused > 0  # indications are still computed
    assert closed_paused > 0  # open positions keep being tracked and closed
    assert p.open_pseudo() < open_before


def test_reconfigure_keeps_what_it_can_and_restarts_what_it_must() -> None:
    p = pipeline(LOW_GATES)
    data = ticks()
    for t, price in data[: len(data) // 2]:
        p.on_price(t, price, entries_allowed=True)
    book, engine = p.book, p.indications
    totals = book.total.copy()
    assert totals.sum() > 0
    gate = ActivityGateParams(enabled=False)
    # fee, cooldown, validation timeout, thresholds: the same book and indication engine, new values
    soft = BookParams(exit=ExitParams(pc=0.001, fee=0.0006), max_open=2, history=50, cooldown_s=5.0)
    params = replace(engine.params, validation_timeout_s=30.0)
    assert p.reconfigure(params, gate, book.matrix, soft, GateThresholds(), 4) == []
    assert p.book is book and p.indications is engine and (book.total == totals).all()
    assert book.params == soft and engine.params.validation_timeout_s == 30.0
    assert p.thresholds == GateThresholds() and p.max_variants == 4
    # the same number of configurations with other TP values: new sets, a new book
    other = build_matrix((2, 4, 9), (0.5, 1.0), (None, (0.6, 0.2)))
    assert len(other) == len(book.matrix)
    assert p.reconfigure(params, gate, other, soft, LOW_GATES, 8) == ["configuration sets"]
    assert p.book is not book and len(p.book) == 0 and p.book.matrix.same_as(other)
    # another history length also needs a new book; another range a new indication engine
    longer = replace(soft, history=100)
    assert p.reconfigure(replace(params, ranges=(3, 4)), gate, other, longer, LOW_GATES, 8) == [
        "indications", "configuration sets"]
    assert p.indications.params.ranges == (3, 4) and p.book.params.capacity == longer.capacity
    for t, price in data[len(data) // 2:]:  # and the pipeline goes on trading with the new configuration
        p.on_price(t, price, entries_allowed=True)
    assert p.book.total.sum() > 0


def test_closed_results_are_each_sets_newest_ring_entries() -> None:
    """Every result the pipeline reports is the ring entry the book stored for it: per set, the reported results'
    tail equals what its ring holds (trims included), and each close is reported once."""
    p = pipeline(LOW_GATES)
    p.book = SetBook(p.book.matrix, replace(p.book.params, history=2, trim_threshold=0.5))  # rings of 3: trims
    reported: dict[int, list[tuple[float, float, float, float]]] = {}
    for t, price in ticks():
        for r in p.on_price(t, price, entries_allowed=True).closed:
            reported.setdefault(r.row, []).append((r.result, r.entry_t, r.close_t, r.drawdown_s))
            assert r.result_pc == r.result / p.book.params.exit.pc
    book = p.book
    assert sum(len(v) for v in reported.values()) == int(book.total.sum()) > 0
    assert int(book.total.max()) > book.params.capacity  # some rings were trimmed on the way
    for row, got in reported.items():
        results, entry_t, close_t, drawdown = book.history(row)
        held = list(zip(results.tolist(), entry_t.tolist(), close_t.tolist(), drawdown.tolist(), strict=True))
        assert got[-len(held):] == held, row


def test_an_indication_no_real_set_takes_says_why() -> None:
    """Main sets exist but none reaches the Real gate's avg PF: the refusal names the best avg PF of the Main sets
    that took the indication, over the Real window, against the threshold; with no Main set at all it says so."""
    unreachable = replace(LOW_GATES, real_min_avg_pf=1000.0)
    p = pipeline(unreachable)
    refusals: list[tuple[str, str]] = []
    checked = 0
    for t, price in ticks():
        update = p.on_price(t, price, entries_allowed=True)
        assert not update.signals
        refusals += update.refusals
        for _, reason in update.refusals:
            if reason.startswith("no Real set for BTC"):  # the best of the Main sets that took it: at most the
                main = np.flatnonzero(gates.main_sets(p.book, unreachable)).astype(np.int64)  # best of all Main
                best = float(reason.split("best avg PF ")[1].split(" ")[0])
                assert best <= round(float(np.nanmax(window_means(p.book, 4, main)[0])), 2), reason
                assert " < 1000.00 over 4" in reason
                checked += 1
    assert checked, refusals[:5]
    first = pipeline(GateThresholds())
    reasons = [r for t, price in ticks()[:2000] for _, r in first.on_price(t, price, entries_allowed=True).refusals]
    assert reasons and all(r.startswith(("no Main set for BTC", "no set took")) for r in reasons), reasons[:3]
    assert "passed the gates (evaluating" in next(r for r in reasons if r.startswith("no Main"))
