"""Block and DCA (cts_desktop.domain.adjust): hand-checked DCA positions (synthetic edge cases and a real one on
Bybit BTCUSDT 5 m candles with its whole trade list), a hand-checked Block factor sequence, the adjusted walk
equal to the plain sweep when nothing is adjusted, and the backtest equal to the live adjusted book."""

from __future__ import annotations

import numpy as np
import pytest

from cts_desktop.backtest.runner import FixedSet, run_backtest
from cts_desktop.backtest.signals import entries
from cts_desktop.domain.adjust import (
    Adjust,
    AdjustedBook,
    BlockParams,
    DcaParams,
    adjusted_trades,
    block_factors,
)
from cts_desktop.domain.bars import LONG, SHORT, Bars
from cts_desktop.domain.exits import ExitConfig, ExitParams, ExitReason
from cts_desktop.domain.sweep import PreparedBars, sweep_trades

P0 = ExitParams(pc=0.01, fee=0.0)  # pc 1 %: entry 100, TP 2 → take profit 2 away, SL ratio 2 → stop 4 away
DCA3 = Adjust(dca=DcaParams((1.0, 2.0, 3.0), (1.0, 2.0, 3.0), 3))  # add-ons 1 %, 2 %, 3 % away; 1×, 2×, 3×


def path(*rows: tuple[float, float, float, float]) -> Bars:
    """Bar 0 is the signal bar closing at 100; ``rows`` (o, h, l, c) follow it one minute apart."""
    a = np.array([(100.0, 100.0, 100.0, 100.0), *rows], dtype=np.float64)
    return Bars(np.arange(len(a), dtype=np.float64) * 60.0, a[:, 0], a[:, 1], a[:, 2], a[:, 3])


def one(bars: Bars, direction: int, config: ExitConfig, adjust: Adjust = DCA3, params: ExitParams = P0):
    sig = np.zeros(len(bars), dtype=np.bool_)
    sig[0] = True
    tr = adjusted_trades(PreparedBars.build(bars, block=0, coarse_factor=0), sig, direction, config, params, adjust)
    assert len(tr.result) == 1 and tr.still_open == 0
    return tr


def test_gap_through_two_add_ons_fills_both_at_the_open_and_re_anchors_the_target() -> None:
    # add-ons at 99 and 98; the bar opens at 97.8: both fill there. Σq = 1 + 1 + 2 = 4,
    # Σq·e = 100 + 97.8 + 2 × 97.8 = 393.4, average 98.35 → take profit 98.35 × 1.02 = 100.317
    tr = one(path((97.8, 98.5, 97.5, 98.0), (98.0, 100.5, 97.9, 100.4)), LONG, ExitConfig(2.0, 2.0))
    assert tr.exit_index[0] == 2 and tr.reason[0] == ExitReason.TAKE_PROFIT
    assert tr.quantity[0] == 4.0
    assert tr.avg_entry[0] == pytest.approx(98.35, abs=1e-12)
    assert tr.exit_price[0] == pytest.approx(100.317, abs=1e-9)
    assert tr.result[0] == pytest.approx((4 * 100.317 - 393.4) / 100, abs=1e-12)  # 0.07868


def test_a_stop_before_the_add_on_wins() -> None:
    # SL ratio 0.4: stop 99.2 lies before the first add-on (99): the bar closes the position, nothing is added
    tr = one(path((99.5, 99.8, 98.5, 99.0)), LONG, ExitConfig(2.0, 0.4))
    assert tr.reason[0] == ExitReason.STOP_LOSS and tr.quantity[0] == 1.0
    assert tr.exit_price[0] == pytest.approx(99.2) and tr.result[0] == pytest.approx(-0.008)


def test_a_target_re_anchored_below_the_open_is_taken_at_its_level() -> None:
    # opens at 101.6 (below the first target 102), falls to 98.9: add-on at 99 → average 99.5, target 101.49;
    # the high after the low reaches it: exit at 101.49, not at the open that came before the fill
    tr = one(path((101.6, 101.7, 98.9, 101.0)), LONG, ExitConfig(2.0, 2.0))
    assert tr.exit_index[0] == 1 and tr.reason[0] == ExitReason.TAKE_PROFIT
    assert tr.exit_price[0] == pytest.approx(101.49, abs=1e-9)
    assert tr.result[0] == pytest.approx((2 * 101.49 - 199.0) / 100, abs=1e-12)


def test_short_add_ons_are_above_the_entry() -> None:
    # short: add-ons at 101 and 102; the bar opens at 102.2: both fill there (Σq 4, average 101.65), the third
    # (103) is not reached; take profit 101.65 × 0.98 = 99.617 on the next bar.
    # profit = 1 × (100 − 99.617) + 1 × (102.2 − 99.617) + 2 × (102.2 − 99.617) = 8.132 → 0.08132
    tr = one(path((102.2, 102.5, 101.5, 102.0), (102.0, 102.1, 99.5, 99.6)), SHORT, ExitConfig(2.0, 2.0))
    assert tr.reason[0] == ExitReason.TAKE_PROFIT and tr.quantity[0] == 4.0
    assert tr.avg_entry[0] == pytest.approx(101.65, abs=1e-12)
    assert tr.exit_price[0] == pytest.approx(99.617, abs=1e-9)
    assert tr.result[0] == pytest.approx(0.08132, abs=1e-12)


def test_no_add_on_once_trailing_armed() -> None:
    # trailing start 0.5 / stop 2: arms at 101 (bar 1, high 101.5), trailing stop 101.5 − 4 = 97.5; bar 2 dips to
    # 98.5 through the add-on level 99 but adds nothing; bar 3 falls through 97.5: trailing exit, one unit
    tr = one(path((100.0, 101.5, 99.8, 101.0), (101.0, 101.2, 98.5, 99.5), (99.5, 99.6, 97.0, 97.2)), LONG,
             ExitConfig(2.0, 2.0, 0.5, 2.0))
    assert tr.reason[0] == ExitReason.TRAILING and tr.quantity[0] == 1.0
    assert tr.exit_price[0] == pytest.approx(97.5) and tr.result[0] == pytest.approx(-0.025)


def test_real_dca_trade_list_by_hand(bars: Bars) -> None:
    """RSI(14, 30, 70) long, TP 10 × pc 0.1 % (d = 1 %), SL 1.0, default DCA (0.5/1/1.5/2 %, ×1.5/2/2.3/2.5),
    taker fee 0.055 % on every entry and exit."""
    params = ExitParams(pc=0.001, fee=0.00055)
    fixed = FixedSet("rsi", (14.0, 30.0, 70.0), LONG, ExitConfig(10.0, 1.0), Adjust(dca=DcaParams()))
    report = run_backtest([fixed], {"BTCUSDT": bars}, params)
    got = [(t.entry_time, t.exit_time, t.reason, t.size) for t in report.trades]
    assert got == [
        (1759785600.0, 1759849500.0, "stop_loss", 6.8),  # all four add-ons (1 + 1.5 + 2 + 2.3), then the stop
        (1759851300.0, 1759912200.0, "take_profit", 2.5),
        (1759930800.0, 1759932000.0, "take_profit", 1.0),
        (1759972500.0, 1760011800.0, "take_profit", 4.5),
        (1760020200.0, 1760048100.0, "take_profit", 6.8),
    ]
    # the fourth trade by hand: entry at the close of 2025-10-09 01:15 UTC (bar 879)
    e0 = 122527.4
    stop0 = e0 * (1 - 0.01)  # 121302.126
    add1, add2, add3 = e0 * (1 - 0.005), e0 * (1 - 0.01), e0 * (1 - 0.015)  # 121914.763, 121302.126, 120689.489
    assert add2 <= stop0  # the second add-on is not reachable under the first stop ...
    # bars 880–892 stay above add1 (lowest low 121930.2); bar 893 (02:25) opens 121984.0 above it and its low
    # 121886.5 reaches it: +1.5 at 121914.763
    assert bars.low[880:893].min() > add1 and bars.open[893] > add1 >= bars.low[893]
    q, cost = 1.0 + 1.5, e0 + 1.5 * add1
    assert cost / q == pytest.approx(122159.81780, abs=1e-5)
    assert cost / q * (1 - 0.01) < add2  # ... but under the re-anchored stop (120938.2) it is
    # bars 894–964 stay above add2 (lowest low 121353.3); bar 965 (08:25) opens 121470.1, its low 121130.1
    # reaches add2: +2.0 at 121302.126
    assert bars.low[894:965].min() > add2 and bars.open[965] > add2 >= bars.low[965]
    q, cost = q + 2.0, cost + 2.0 * add2
    avg = cost / q
    assert avg == pytest.approx(121778.621444, abs=1e-6)
    # new stop 120560.8 and add3 120689.5: the lowest low until the exit (121080.0) reaches neither
    assert bars.low[966:1011].min() > add3 > avg * (1 - 0.01)
    take = avg * (1 + 0.01)  # 122996.4077: first reached by bar 1010 (11:50, high 123098.0, open 122961.8)
    assert bars.high[966:1010].max() < take <= bars.high[1010] and bars.open[1010] < take
    result = (q * take - cost - 0.00055 * (cost + q * take)) / e0
    trade = report.trades[3]
    assert trade.entry_price == e0 and trade.size == q == 4.5
    assert trade.avg_entry == pytest.approx(avg, rel=1e-12)
    assert trade.exit_price == pytest.approx(take, rel=1e-12)
    assert trade.result == pytest.approx(result, rel=1e-9)
    assert result == pytest.approx(0.0397806512, abs=1e-10)
    # without DCA the same entry is stopped out at 121302.126 on bar 965
    plain = run_backtest([FixedSet("rsi", (14.0, 30.0, 70.0), LONG, ExitConfig(10.0, 1.0))], {"BTCUSDT": bars},
                         params)
    same = [t for t in plain.trades if t.entry_time == 1759972500.0]
    assert same and same[0].reason == "stop_loss" and same[0].exit_price == pytest.approx(stop0)


def test_block_factor_sequence_by_hand() -> None:
    """Blocks of 2, factor 2 after a losing block, one neutral position first, auto-disable below 25 % / back
    above 40 %. One position at a time; each closes on the bar the next one opens (a close counts first)."""
    r = np.array([1, -3, -1, -1, 2, 1, -1, -1, -2, -2, -1, -1, -1, -1, -1, 1, 1, -3, 1, 1, -3, 1, 2, 2, -3, 0.5, -1,
                  1], dtype=np.float64)
    n = len(r)
    entry = np.arange(n, dtype=np.int64) * 10
    exit_ = entry + 10
    factor, adjusted = block_factors(entry, exit_, r, n, 0, 2, 1.0, 1, True, 25.0, 40.0, 50)
    # blocks (close order): L L W L L L L W L W L W L W
    # e2: neutral wait; e3–e5 adjusted; e9–e14 adjusted (after r14 the adjusted win rate is 2/9 < 25 %: off);
    # e15, e19, e23 adjusted at factor 1 (off); after r23 the rate is 5/12 > 40 %: on again; e27 factor 2
    want_f = [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]
    want_a = {3, 4, 5, 9, 10, 11, 12, 13, 14, 15, 19, 23, 27}
    assert factor.tolist() == want_f
    assert set(np.flatnonzero(adjusted).tolist()) == want_a
    # a position still open at the end (exit -1) takes its factor like any other
    f2, _a2 = block_factors(entry, exit_, r, n - 1, 1, 2, 1.0, 1, True, 25.0, 40.0, 50)
    assert f2.tolist() == want_f


@pytest.mark.parametrize("max_open", [1, 2])
def test_adjusted_walk_without_adjustments_is_the_plain_sweep(bars: Bars, max_open: int) -> None:
    for kind, params in (("rsi", (14.0, 30.0, 70.0)), ("direction", (3.0,))):
        long_, short = entries(kind, params, bars, 0.001)
        for direction, sig in ((LONG, long_), (SHORT, short)):
            for config in (ExitConfig(4.0, 1.0), ExitConfig(10.0, 0.6, 0.6, 0.2)):
                for block in (0, 16):
                    prep = PreparedBars.build(bars, block=block, coarse_factor=4 if block else 0)
                    p = ExitParams(pc=0.001, fee=0.00055, timeout_s=7200.0 if block else 0.0)
                    a = sweep_trades(prep, sig, direction, config, p, max_open)
                    x = adjusted_trades(prep, sig, direction, config, p, Adjust(), max_open)
                    assert len(a.result) >= 3
                    for name in ("entry_index", "exit_index", "exit_price", "reason", "result"):
                        np.testing.assert_array_equal(getattr(a, name), getattr(x, name))
                    assert a.still_open == x.still_open and (x.quantity == 1.0).all()


ADJUSTED = [
    (FixedSet("rsi", (14.0, 30.0, 70.0), LONG, ExitConfig(10.0, 1.0), Adjust(dca=DcaParams())), 0.0, 1),
    (FixedSet("rsi", (9.0, 35.0, 65.0), SHORT, ExitConfig(8.0, 1.2),
              Adjust(BlockParams(3, 0.5, 1), DcaParams((0.3, 0.6, 0.9), (1.0, 1.5, 2.0), 3))), 0.0, 2),
    (FixedSet("bollinger", (20.0, 2.0), LONG, ExitConfig(8.0, 0.8, 0.6, 0.2), Adjust(BlockParams())), 0.0, 2),
    (FixedSet("sma", (3.0, 8.0), SHORT, ExitConfig(6.0, 1.5, 1.0, 0.3),
              Adjust(dca=DcaParams((0.3, 0.5), (1.0, 2.0), 2))), 3600.0, 1),
    (FixedSet("direction", (3.0,), LONG, ExitConfig(4.0, 1.2), Adjust(BlockParams(2, 1.0, 0, True, 45.0, 50.0))),
     0.0, 2),
]


@pytest.mark.parametrize(("fixed", "timeout", "max_open"), ADJUSTED, ids=[s[0].label for s in ADJUSTED])
def test_adjusted_backtest_equals_the_live_adjusted_book(bars: Bars, fixed: FixedSet, timeout: float,
                                                         max_open: int) -> None:
    params = ExitParams(pc=0.001, fee=0.00055, timeout_s=timeout)
    report = run_backtest([fixed], {"BTCUSDT": bars}, params, max_open=max_open)
    book = AdjustedBook(fixed.direction, fixed.exit, params, fixed.adjust, max_open=max_open, history=10_000)
    long_, short = entries(fixed.indication, fixed.params, bars, params.pc)
    sig = long_ if fixed.direction == LONG else short
    for i in range(len(bars)):
        book.update_bar(float(bars.time[i]), float(bars.open[i]), float(bars.high[i]), float(bars.low[i]),
                        float(bars.close[i]))
        if sig[i]:
            book.on_signal(float(bars.time[i]), float(bars.close[i]))
    ours = [(t.entry_time, t.exit_time, t.exit_price, t.size, t.result) for t in report.trades]
    live = sorted((p.entry_time, p.close_time, p.exit_price, p.factor * p.quantity, p.result) for p in book.closed)
    assert len(ours) >= 4
    assert sorted(ours) == live  # bit for bit: the same kernels in the same order
    if fixed.adjust.dca is not None:
        assert any(t.size > 1.0 for t in report.trades), "the case must add to some position"
    if fixed.adjust.block is not None:
        assert len({round(p.factor, 6) for p in book.closed}) > 1, "the case must adjust some position"
