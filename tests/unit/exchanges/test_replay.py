"""The replay price path walks the recorded candles faithfully; the replay clock maps time as documented."""

from __future__ import annotations

import pytest

from cts_desktop.exchanges.simulator.replay import CANDLE_MS, PricePath, ReplayClock, load_dataset


@pytest.fixture(scope="module")
def path() -> PricePath:
    return PricePath(load_dataset(), start_wall_ms=1_800_000_000_000, history_candles=288)


def test_dataset_is_three_weeks_of_three_perpetuals() -> None:
    data = load_dataset()
    assert set(data) == {"BTC", "ETH", "SOL"}
    assert all(len(s) == 21 * 288 for s in data.values())
    btc = data["BTC"]
    assert all(
        lo <= min(o, c) and hi >= max(o, c)
        for o, hi, lo, c in zip(btc.opens, btc.highs, btc.lows, btc.closes, strict=True)
    )
    assert len(btc.funding) >= 3 * 21


def test_each_candle_is_walked_adverse_extreme_by_colour(path: PricePath) -> None:
    s = path.series["BTC"]
    for k in range(50):
        o, h, lo, c = s.opens[k], s.highs[k], s.lows[k], s.closes[k]
        expected = (o, lo, h, c) if c >= o else (o, h, lo, c)
        assert s.vertices(k) == expected
        t0 = path.origin_ms + k * CANDLE_MS
        assert path.price("BTC", t0) == pytest.approx(o)
        assert path.price("BTC", t0 + CANDLE_MS // 3) == pytest.approx(expected[1])
        assert path.price("BTC", t0 + 2 * CANDLE_MS // 3) == pytest.approx(expected[2])


def test_bar_over_a_candle_is_the_recorded_candle(path: PricePath) -> None:
    s = path.series["ETH"]
    for k in (0, 7, 123):
        t0 = path.origin_ms + k * CANDLE_MS
        bar = path.bar("ETH", t0, t0 + CANDLE_MS)
        assert (bar.open, bar.high, bar.low) == pytest.approx((s.opens[k], s.highs[k], s.lows[k]))
        assert bar.close == pytest.approx(s.opens[k + 1], rel=1e-3)  # the next open: candles are contiguous
        assert bar.volume == pytest.approx(s.volumes[k])


def test_points_between_touch_every_extreme(path: PricePath) -> None:
    s = path.series["SOL"]
    t0 = path.origin_ms
    pts = path.points_between("SOL", t0, t0 + 3 * CANDLE_MS)
    assert max(pts) == pytest.approx(max(s.highs[:3]))
    assert min(pts) == pytest.approx(min(s.lows[:3]))


def test_replay_clock_identity_before_start_speed_and_steps() -> None:
    wall = ReplayClock.wall()
    clock = ReplayClock(wall - 10_000, speed=0)
    assert clock.replay_at(wall - 20_000) == wall - 20_000
    frozen = clock.replay_at(wall)
    assert frozen == wall - 10_000
    clock.step(60_000)
    assert clock.replay_at(ReplayClock.wall()) == frozen + 60_000
    clock.set_speed(10)
    now = ReplayClock.wall()
    assert clock.replay_at(now + 1_000) - clock.replay_at(now) == 10_000
