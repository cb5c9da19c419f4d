"""§5.7 metrics on a hand-computed trade list."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cts_desktop.backtest.metrics import NO_LOSS_PF, TradeList, compute_metrics, equity_curve

H = 3600.0


def test_metrics_by_hand() -> None:
    # results +1 %, −2 %, +0.5 %, +2 % closing at 1 h, 2 h, 3 h, 5 h; each held 30 min
    exits = np.array([1, 2, 3, 5]) * H
    trades = TradeList(exits - 1800, exits, np.array([0.01, -0.02, 0.005, 0.02]))
    m = compute_metrics(trades, pc=0.001)
    assert (m.trades, m.wins, m.losses) == (4, 3, 1)
    assert m.win_rate_pct == 75.0
    assert m.net_pct == pytest.approx(1.5)
    assert m.gross_pf == pytest.approx(0.035 / 0.02)
    assert m.avg_pf == pytest.approx(0.015 / 4 / 0.001)
    # curve 1, −1, −0.5, 1.5 (%): peak 1 at 1 h, trough −1 → DD 2 %; below the peak from 1 h until 5 h
    assert m.max_drawdown_pct == pytest.approx(2.0)
    assert m.max_drawdown_hours == pytest.approx(4.0)
    assert m.avg_drawdown_pct == pytest.approx((2.0 + 1.5) / 2)
    assert m.avg_win_pct == pytest.approx(3.5 / 3) and m.avg_loss_pct == pytest.approx(-2.0)
    assert m.largest_win_pct == pytest.approx(2.0) and m.largest_loss_pct == pytest.approx(-2.0)
    assert m.avg_duration_min == pytest.approx(30.0)
    r = np.array([0.01, -0.02, 0.005, 0.02])
    assert m.sharpe == pytest.approx(r.mean() / r.std())
    assert m.sortino == pytest.approx(r.mean() / math.sqrt(0.02**2 / 4))
    assert equity_curve(trades)[-1] == (5 * H, pytest.approx(1.5))


def test_no_loss_and_no_trades() -> None:
    m = compute_metrics(TradeList(np.array([0.0]), np.array([60.0]), np.array([0.003])), pc=0.001)
    assert m.gross_pf == NO_LOSS_PF and m.max_drawdown_pct == 0.0 and m.max_drawdown_hours == 0.0
    empty = compute_metrics(TradeList(np.zeros(0), np.zeros(0), np.zeros(0)), pc=0.001)
    assert empty.trades == 0 and math.isnan(empty.gross_pf)
    assert empty.as_dict()["gross_pf"] is None
