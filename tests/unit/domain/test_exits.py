"""Hand-computed exit paths of the one exit simulator (DOMAIN Part 1 §1).

Numbers use pc = 1 % and entry 100 so the levels are round: TP factor 2 → d = 2 → take profit 102;
SL ratio 0.5 → stop 99.
"""

from __future__ import annotations

import numpy as np
import pytest

from cts_desktop.domain.bars import LONG, SHORT, Bars
from cts_desktop.domain.exits import ExitConfig, ExitParams, ExitReason, result_pc, simulate_exit

P = ExitParams(pc=0.01, fee=0.0)
PLAIN = ExitConfig(tp=2.0, sl=0.5)


def bars(*rows: tuple[float, float, float, float], step: float = 60.0) -> Bars:
    """Bar 0 is the signal bar closing at 100; ``rows`` follow it."""
    a = np.array([(100.0, 100.0, 100.0, 100.0), *rows], dtype=np.float64)
    return Bars(np.arange(len(a), dtype=np.float64) * step, a[:, 0], a[:, 1], a[:, 2], a[:, 3])


def mirror(b: Bars) -> Bars:
    """The same path reflected around 100: a short on it must behave as a long on ``b``."""
    return Bars(b.time, 200 - b.open, 200 - b.low, 200 - b.high, 200 - b.close)


def test_take_profit_at_level() -> None:
    r = simulate_exit(bars((100.5, 101.0, 99.5, 100.8), (100.5, 102.5, 100.2, 101.0)), 0, LONG, PLAIN, P)
    assert (r.exit_index, r.exit_price, r.reason) == (2, 102.0, ExitReason.TAKE_PROFIT)
    assert r.result_pc == pytest.approx(2.0)


def test_take_profit_gap_exits_at_open() -> None:
    r = simulate_exit(bars((103.0, 104.0, 102.5, 103.5)), 0, LONG, PLAIN, P)
    assert (r.exit_price, r.reason) == (103.0, ExitReason.TAKE_PROFIT)


def test_stop_loss_at_level_and_gap() -> None:
    r = simulate_exit(bars((100.0, 100.5, 98.9, 99.5)), 0, LONG, PLAIN, P)
    assert (r.exit_index, r.exit_price, r.reason) == (1, 99.0, ExitReason.STOP_LOSS)
    assert r.result_pc == pytest.approx(-1.0)
    g = simulate_exit(bars((98.0, 98.5, 97.0, 98.2)), 0, LONG, PLAIN, P)
    assert (g.exit_price, g.reason) == (98.0, ExitReason.STOP_LOSS)


def test_both_touched_counts_stop() -> None:
    r = simulate_exit(bars((100.0, 103.0, 98.0, 101.0)), 0, LONG, PLAIN, P)
    assert (r.exit_price, r.reason) == (99.0, ExitReason.STOP_LOSS)


def test_trailing_arms_then_retraces_state_from_next_bar() -> None:
    # d = 2, arm at 100 + 0.5·2 = 101, trail distance 0.25·2 = 0.5, fixed stop 99.
    cfg = ExitConfig(tp=2.0, sl=0.5, trail_start=0.5, trail_stop=0.25)
    b = bars(
        (100.0, 101.5, 99.5, 101.2),  # arms (best 101.5 → stop 101.0) but its own low 99.5 does not count
        (101.3, 102.0, 101.2, 101.8),  # stop 101.0 holds; best 102 → stop 101.5 from the next bar
        (101.7, 101.9, 101.4, 101.5),  # low 101.4 reaches 101.5
    )
    r = simulate_exit(b, 0, LONG, cfg, P)
    assert (r.exit_index, r.exit_price, r.reason) == (3, 101.5, ExitReason.TRAILING)
    assert r.result_pc == pytest.approx(1.5)


def test_trailing_replaces_take_profit() -> None:
    cfg = ExitConfig(tp=2.0, sl=0.5, trail_start=0.5, trail_stop=0.25)
    r = simulate_exit(bars((100.0, 102.5, 99.9, 102.4), (102.4, 105.0, 102.2, 104.9)), 0, LONG, cfg, P)
    assert r.reason is ExitReason.OPEN and r.exit_index == -1


def test_trailing_gap_below_trailing_stop_exits_at_open() -> None:
    cfg = ExitConfig(tp=2.0, sl=0.5, trail_start=0.5, trail_stop=0.25)
    r = simulate_exit(bars((100.0, 102.0, 99.8, 101.9), (100.6, 100.9, 100.1, 100.5)), 0, LONG, cfg, P)
    assert (r.exit_index, r.exit_price, r.reason) == (2, 100.6, ExitReason.TRAILING)


def test_fixed_stop_before_arming_and_in_the_arming_bar() -> None:
    cfg = ExitConfig(tp=2.0, sl=0.5, trail_start=0.5, trail_stop=0.25)
    # The arming bar also touches the fixed stop: the adverse extreme comes first, so the stop counts.
    r = simulate_exit(bars((100.0, 101.5, 98.9, 101.0)), 0, LONG, cfg, P)
    assert (r.exit_price, r.reason) == (99.0, ExitReason.STOP_LOSS)


def test_timeout_closes_at_close() -> None:
    cfg = ExitConfig(tp=2.0, sl=0.5)
    quiet = ((100.1, 100.4, 99.6, 100.2), (100.2, 100.5, 99.7, 100.3), (100.3, 100.6, 99.8, 100.4))
    r = simulate_exit(bars(*quiet), 0, LONG, cfg, ExitParams(pc=0.01, fee=0.0, timeout_s=120.0))
    assert (r.exit_index, r.exit_price, r.reason) == (2, 100.3, ExitReason.TIMEOUT)


def test_short_take_profit_and_both_touched() -> None:
    r = simulate_exit(bars((99.5, 99.8, 97.5, 98.5)), 0, SHORT, PLAIN, P)
    assert (r.exit_price, r.reason) == (98.0, ExitReason.TAKE_PROFIT)
    assert r.result_pc == pytest.approx(2.0)
    both = simulate_exit(bars((100.0, 101.5, 97.0, 99.0)), 0, SHORT, PLAIN, P)
    assert (both.exit_price, both.reason) == (101.0, ExitReason.STOP_LOSS)
    assert both.result_pc == pytest.approx(-1.0)


@pytest.mark.parametrize(
    "cfg", [PLAIN, ExitConfig(tp=2.0, sl=0.5, trail_start=0.5, trail_stop=0.25)], ids=["plain", "trailing"]
)
def test_short_is_the_mirror_of_long(cfg: ExitConfig) -> None:
    path = bars(
        (100.0, 101.5, 99.5, 101.2), (101.3, 102.0, 101.2, 101.8), (101.7, 101.9, 101.4, 101.5),
        (101.5, 101.6, 98.0, 98.5),
    )
    long_r = simulate_exit(path, 0, LONG, cfg, P)
    short_r = simulate_exit(mirror(path), 0, SHORT, cfg, P)
    assert short_r.exit_index == long_r.exit_index and short_r.reason == long_r.reason
    assert short_r.exit_price == pytest.approx(200 - long_r.exit_price)
    assert short_r.result_pc == pytest.approx(long_r.result_pc)


def test_fees_on_entry_and_exit_notional() -> None:
    params = ExitParams(pc=0.01, fee=0.001)
    r = simulate_exit(bars((100.5, 102.5, 100.2, 101.0)), 0, LONG, PLAIN, params)
    # (102 - 100)/100 - 0.001 · (100 + 102)/100 = 0.01798 → 1.798 pc
    assert r.result == pytest.approx(0.01798)
    assert r.result_pc == pytest.approx(1.798)
    assert result_pc(100.0, 98.0, SHORT, params) == pytest.approx((0.02 - 0.00198) / 0.01)
