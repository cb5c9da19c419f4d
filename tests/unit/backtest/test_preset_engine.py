"""Preset engine core on real 1-minute candles replayed as prices: the candles it builds equal the resampled
candles, every set fires exactly where the backtest's signal rule fires, and live entry signals go out only for
qualifying, non-trailing sets with the set's TP/SL distances."""

from __future__ import annotations

import numpy as np

from cts_desktop.backtest.runner import FixedSet
from cts_desktop.backtest.signals import entries
from cts_desktop.domain.bars import LONG, SHORT, Bars
from cts_desktop.domain.exits import ExitConfig, ExitParams
from cts_desktop.engine.preset_engine import LiveSet, PresetRunner
from tests.unit.backtest.conftest import load_bars

PARAMS = ExitParams(pc=0.001, fee=0.00055)
SETS = [
    LiveSet(1, FixedSet("rsi", (7.0, 35.0, 65.0), LONG, ExitConfig(4.0, 1.0)), 1.0, 25, True),
    LiveSet(2, FixedSet("sma", (3.0, 8.0), SHORT, ExitConfig(6.0, 0.5)), 1.0, 25, True),
    LiveSet(3, FixedSet("sma", (3.0, 8.0), LONG, ExitConfig(6.0, 0.5, 0.6, 0.2)), 1.0, 25, True),  # trailing
    LiveSet(4, FixedSet("macd", (6.0, 13.0, 5.0), LONG, ExitConfig(2.0, 1.0)), 1.0, 25, False),  # failed backtest
]


def resample(bars: Bars, seconds: float) -> Bars:
    start = np.floor(bars.time / seconds) * seconds
    keys, first = np.unique(start, return_index=True)
    last = np.r_[first[1:], len(bars)] - 1
    return Bars(keys, bars.open[first], np.maximum.reduceat(bars.high, first),
                np.minimum.reduceat(bars.low, first), bars.close[last])


def test_candles_signals_and_live_entries() -> None:
    one_min = load_bars("bybit_BTCUSDT-PERP_1m_20221213.csv")
    runner = PresetRunner(SETS, PARAMS, candle_s=300.0, max_open=1)
    fired: dict[int, list[float]] = {s.set_id: [] for s in SETS}
    sent = []
    for i in range(len(one_min)):
        t = float(one_min.time[i])
        o, h, lo, c = (float(x[i]) for x in (one_min.open, one_min.high, one_min.low, one_min.close))
        path = (o, lo, h, c) if c >= o else (o, h, lo, c)
        for k, price in enumerate(path):
            before = runner.fired
            out = runner.on_price("BTC", t + 15.0 * k, price)
            if runner.fired != before:
                candles = runner.candles["BTC"]
                for s in SETS:
                    f = s.fixed
                    long_, short = entries(f.indication, f.params, candles.bars(), PARAMS.pc)
                    if (long_ if f.direction == LONG else short)[-1]:
                        fired[s.set_id].append(candles.time[-1])
            sent += out
    expected = resample(one_min, 300.0)
    built = runner.candles["BTC"].bars()
    n = len(built)
    assert n == len(expected) - 1  # the last candle is still open
    for name in ("time", "open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(built, name), getattr(expected, name)[:n])
    for s in SETS:
        f = s.fixed
        long_, short = entries(f.indication, f.params, expected.slice(0, n), PARAMS.pc)
        sig = long_ if f.direction == LONG else short
        want = [float(expected.time[j]) for j in np.flatnonzero(sig) if j >= 2]
        assert fired[s.set_id] == want
    assert sum(len(v) for v in fired.values()) == runner.fired > 3
    labels = {sig.label.split(":")[0] for sig in sent}
    assert labels <= {"preset set 1", "preset set 2"} and sent
    for sig in sent:
        s = SETS[0] if sig.label.startswith("preset set 1") else SETS[1]
        assert sig.take_profit_frac == s.fixed.exit.tp * PARAMS.pc
        assert sig.stop_loss_frac == s.fixed.exit.sl * s.fixed.exit.tp * PARAMS.pc
        assert sig.direction == ("long" if s.fixed.direction == LONG else "short")
    assert runner.open_pseudo() >= 0 and len(runner.books) >= 3
