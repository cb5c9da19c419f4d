"""Frames, step series, activity gate and indications — hand cases and checks on a real Bybit 1 m slice."""

from __future__ import annotations

import numpy as np
import pytest

from cts_desktop.domain.activity import (
    ActivityGate,
    ActivityGateParams,
    ActivityReading,
    MarketState,
    measure,
    next_state,
)
from cts_desktop.domain.book import BookParams, SetBook
from cts_desktop.domain.exits import ExitParams
from cts_desktop.domain.indications import (
    IndicationEngine,
    IndicationParams,
    IndicationType,
    last_part,
    range_ratio,
    run_indications,
)
from cts_desktop.domain.matrix import build_matrix
from cts_desktop.domain.steps import FrameBuilder, StepSeries, one_second_frames, step_series

OPEN_GATE = ActivityGateParams(enabled=False)


@pytest.fixture(scope="module")
def frames(btc1m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Real closes at their real times (open time + 60 s), as a 1-s frame series (forward-filled)."""
    return one_second_frames(btc1m[:, 0] / 1000.0 + 60.0, btc1m[:, 4])


@pytest.fixture(scope="module")
def replay(btc1m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same real closes replayed 60× accelerated: one minute per 1-s frame (as the simulator's replay)."""
    return np.arange(btc1m.shape[0], dtype=np.float64), btc1m[:, 4].copy()


def test_frames_hand_case_and_incremental_equals_batch(frames: tuple[np.ndarray, np.ndarray]) -> None:
    t, p = one_second_frames(np.array([0.2, 0.7, 2.5]), np.array([100.0, 101.0, 102.0]))
    assert t.tolist() == [0.0, 1.0, 2.0] and p.tolist() == [101.0, 101.0, 102.0]
    fb = FrameBuilder()
    got = []
    for tt, pp in ((0.2, 100.0), (0.7, 101.0), (2.5, 102.0), (3.1, 103.0)):
        got += fb.push(tt, pp)
    assert got == [(0.0, 101.0), (1.0, 101.0), (2.0, 102.0)]
    ft, _fp = frames
    assert np.all(np.diff(ft) == 1.0) and ft.size == 720 * 60 + 1


def test_step_series_hand_case() -> None:
    s = StepSeries(pc=0.01)
    assert [s.push(t, p) for t, p in enumerate((100.0, 100.5, 101.0, 98.9, 99.5))] == [0, 0, 1, -2, 0]
    assert s.signs == [1, -1, -1] and s.level == 98.9


def test_step_series_invariant_on_real_prices(frames: tuple[np.ndarray, np.ndarray]) -> None:
    t, p = frames
    pc = 0.0005
    _st, signs, sp = step_series(t, p, pc)
    assert signs.size > 50
    level = p[0]
    k = 0
    for price in p[1:]:
        n = int(np.floor(abs(price - level) / (pc * level)))
        if n:
            assert np.all(signs[k : k + n] == np.sign(price - level)) and np.all(sp[k : k + n] == price)
            k += n
            level = price
        else:
            assert abs(price - level) < pc * level
    assert k == signs.size


def runs_before_each_step(signs: np.ndarray) -> list[int]:
    out, run = [], 0
    for i, s in enumerate(signs):
        out.append(run)
        run = run + 1 if i and s == signs[i - 1] else 1
    return out


def test_direction_and_move_follow_the_step_series(frames: tuple[np.ndarray, np.ndarray]) -> None:
    t, p = frames
    params = IndicationParams(pc=0.0005, ranges=(3, 5), validation_timeout_s=0.0,
                              types=frozenset({IndicationType.DIRECTION, IndicationType.MOVE}))
    got = run_indications(t, p, params, OPEN_GATE)
    st, signs, _ = step_series(t, p, 0.0005)
    before = runs_before_each_step(signs)
    for r in (3, 5):
        # Direction(R): first opposite step after a run of >= R; its time is that step's time.
        exp = sorted({(st[i], int(signs[i])) for i in range(1, signs.size)
                      if signs[i] != signs[i - 1] and before[i] >= r})
        mine = sorted({(i.time, i.direction) for i in got if i.kind is IndicationType.DIRECTION and i.params == (r,)})
        assert mine == exp and len(exp) > 3
        # Move(R): the step that makes a run reach R.
        run_len = [b + 1 if i and signs[i] == signs[i - 1] else 1 for i, b in enumerate(before)]
        exp_m = sorted({(st[i], int(signs[i])) for i in range(signs.size) if run_len[i] == r})
        mine_m = sorted({(i.time, i.direction) for i in got if i.kind is IndicationType.MOVE and i.params == (r,)})
        assert mine_m == exp_m


def test_validation_timeout_and_determinism(frames: tuple[np.ndarray, np.ndarray]) -> None:
    t, p = frames
    params = IndicationParams(pc=0.0005, ranges=(3, 4), validation_timeout_s=900.0)
    a = run_indications(t, p, params, OPEN_GATE)
    assert a == run_indications(t, p, params, OPEN_GATE)
    last: dict[object, float] = {}
    for ind in a:
        if ind.key in last:
            assert ind.time - last[ind.key] >= 900.0
        last[ind.key] = ind.time
    free = run_indications(t, p, IndicationParams(pc=0.0005, ranges=(3, 4), validation_timeout_s=0.0), OPEN_GATE)
    assert len(free) > len(a)


def test_optimal_is_a_filtered_direction(replay: tuple[np.ndarray, np.ndarray]) -> None:
    t, p = replay
    params = IndicationParams(pc=0.0005, ranges=(3,), validation_timeout_s=0.0,
                              types=frozenset({IndicationType.DIRECTION, IndicationType.OPTIMAL}))
    got = run_indications(t, p, params, OPEN_GATE)
    directions = {(i.time, i.direction) for i in got if i.kind is IndicationType.DIRECTION}
    optimal = [i for i in got if i.kind is IndicationType.OPTIMAL]
    assert optimal and len({(i.time) for i in optimal}) < len(directions)
    by_time: dict[float, set[tuple[float, ...]]] = {}
    for i in optimal:
        assert (i.time, i.direction) in directions
        by_time.setdefault(i.time, set()).add(i.params)
    for fired in by_time.values():
        for r, d, v, lp in fired:
            # looser variants (bigger drawdown allowance, smaller market-change range, smaller last part) pass too
            for d2 in params.drawdowns:
                if d2 > d:
                    assert (r, d2, v, lp) in fired
            for v2 in params.market_changes:
                if v2 < v:
                    assert (r, d, float(v2), lp) in fired


def test_active_share_recomputed(replay: tuple[np.ndarray, np.ndarray]) -> None:
    t, p = replay
    params = IndicationParams(pc=0.0005, validation_timeout_s=0.0, activity_window_s=20,
                              active_ranges=(1, 2), types=frozenset({IndicationType.ACTIVE}))
    got = run_indications(t, p, params, OPEN_GATE)
    assert got
    index = {tt: k for k, tt in enumerate(t.tolist())}
    for ind in got[:200]:
        k = index[ind.time]
        w = p[k - 20 : k + 1]
        ch = np.abs(np.diff(w) / w[:-1]) >= range_ratio(ind.params[0]) * params.pc
        assert ch.mean() >= ind.params[1]
        assert ch[-last_part(20, 0.2):].mean() >= ind.params[2]
        assert ind.direction == np.sign(w[-1] - w[0])


def test_gate_thresholds_and_hysteresis() -> None:
    gp = ActivityGateParams(pc=0.001, activation=0.002, deactivation=0.0005, min_volatility=0.0,
                            min_price_change=0.0, pc_ratio_index=1)
    ok = dict(mean_change=1.0, volatility=1.0, range_fraction=1.0)
    assert next_state(MarketState.PAUSED, ActivityReading(0.002, **ok), gp) is MarketState.ACTIVE
    assert next_state(MarketState.PAUSED, ActivityReading(0.0019999, **ok), gp) is MarketState.MONITORING
    assert next_state(MarketState.ACTIVE, ActivityReading(0.0005, **ok), gp) is MarketState.ACTIVE
    assert next_state(MarketState.ACTIVE, ActivityReading(0.0004999, **ok), gp) is MarketState.PAUSED
    assert next_state(MarketState.MONITORING, ActivityReading(0.0005, **ok), gp) is MarketState.MONITORING
    low_mean = ActivityReading(0.003, mean_change=0.05 * gp.pc - 1e-12, volatility=1.0, range_fraction=1.0)
    assert next_state(MarketState.PAUSED, low_mean, gp) is MarketState.MONITORING
    gate = ActivityGate(ActivityGateParams(calc_range_s=2, activation=0.002, deactivation=0.0005,
                                           min_volatility=0.0, min_price_change=0.0, pc_ratio_index=1))
    prices = (100.0, 100.0, 100.3, 100.4, 100.5, 100.5, 100.5, 100.6)
    states = [gate.push(x) for x in prices]
    assert states[:2] == [MarketState.PAUSED, MarketState.PAUSED]  # warming up
    assert states[2] is MarketState.ACTIVE  # movement 0.3 %
    assert 0.0005 <= measure(prices[2:5]).movement < 0.002 and states[4] is MarketState.ACTIVE  # hysteresis
    assert 0.0005 <= measure(prices[3:6]).movement < 0.002 and states[5] is MarketState.ACTIVE
    assert states[6] is MarketState.PAUSED  # a flat window
    assert states[7] is MarketState.MONITORING  # 0.1 %: between the thresholds, not yet active again


def test_nothing_fires_unless_the_market_is_active(replay: tuple[np.ndarray, np.ndarray]) -> None:
    t, p = replay
    params = IndicationParams(pc=0.0005, ranges=(3,), validation_timeout_s=0.0)
    assert run_indications(t, p, params, OPEN_GATE)
    closed = ActivityGateParams(pc=0.0005, activation=1.0, deactivation=0.5)  # 100 % in 10 s: never
    assert run_indications(t, p, params, closed) == []
    live = ActivityGateParams(pc=0.0005, min_volatility=0.0, activation=0.003, deactivation=0.001)
    gated = run_indications(t, p, params, live)
    assert 0 < len(gated) < len(run_indications(t, p, params, OPEN_GATE))


def test_indications_drive_the_book(replay: tuple[np.ndarray, np.ndarray]) -> None:
    t, p = replay
    params = IndicationParams(pc=0.0005, ranges=(3, 5), validation_timeout_s=5.0,
                              types=frozenset({IndicationType.DIRECTION, IndicationType.MOVE}))
    engine = IndicationEngine(params, ActivityGate(OPEN_GATE))
    book = SetBook(build_matrix(), BookParams(ExitParams(pc=0.0005, fee=0.00055)))
    fired = 0
    for tt, pp in zip(t.tolist(), p.tolist(), strict=True):
        book.update_price(tt, pp)  # exits first, then the entries of this frame
        for ind in engine.push(tt, pp):
            fired += 1
            book.on_indication(ind.variant_key, tt, pp)
    assert fired > 10 and len(book.variants) == 8 and len(book) == 8 * 924
    assert book.total.sum() > 1000


def test_optimal_filters_hand_case() -> None:
    # pc 1 %: 100 → 101.5 (one up step) → 103.5 (one up step) → 102.0 (one down step: Direction(2) short).
    # Run: start 100, extreme 103.5, size 3.5; retracement 1.5 = 0.43 × size → only drawdown 0.5 passes.
    # Market change over the run's frames [100, 101.5, 103.5]: changes 0.015 and 0.019704 (mean 0.017352);
    # every range passes (the largest needs 1.3448 × pc = 0.013448); last part = the newest change,
    # 1.1355 × the mean → last-part ratio 1.0 passes, 1.5 does not.
    params = IndicationParams(pc=0.01, ranges=(2,), validation_timeout_s=0.0,
                              types=frozenset({IndicationType.DIRECTION, IndicationType.OPTIMAL}))
    got = run_indications(np.arange(4.0), np.array([100.0, 101.5, 103.5, 102.0]), params, OPEN_GATE)
    direction = [i for i in got if i.kind is IndicationType.DIRECTION]
    optimal = sorted(i.params for i in got if i.kind is IndicationType.OPTIMAL)
    assert [(i.time, i.direction, i.params) for i in direction] == [(3.0, -1, (2.0,))]
    assert optimal == [(2.0, 0.5, float(v), 1.0) for v in (1, 3, 5, 7, 9)]
    assert all(i.direction == -1 and i.price == 102.0 for i in got)
