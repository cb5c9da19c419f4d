"""The batch warm-up (compiled kernels over the whole prehistory) leaves every symbol pipeline exactly as the
tick-by-tick replay does, on every real candle series of the shared data folder.

Both paths get the same real candles (the 1-minute series as they are, the 5-minute ones with their 5-minute
spacing: gaps between candles, as after missing minutes) at the shipped default settings, and at settings that
reach the other branches (Optimal indications, a position timeout, a short ring that trims, trailing only,
no cooldown, no validation timeout). Compared bit for bit: every set's ring, counts, statistics' inputs, status
and open pseudo positions (all book arrays), the variants in order and the skipped count, the indication engine,
activity gate and frame builder, and every closed pseudo result in the order the ticks closed them. A book
restored from an earlier replay (the stored snapshot at a restart) continues the same way on both paths.
"""

from __future__ import annotations

import csv
import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest

from cts_desktop.domain.book import SetBook
from cts_desktop.domain.settings import default_values
from cts_desktop.engine import engine_config as cfg
from cts_desktop.engine.batch_warmup import replay_batch
from cts_desktop.engine.pipeline import PipelineUpdate, SymbolPipeline
from cts_desktop.engine.warmup import Candle, replay_candles
from tests.helpers.shared_data import candle_files, missing_reason

SERIES = [p for p in candle_files() if "PERP" in p.name or "UNITTEST" in p.name]
MINUTES = 600  # of a 1-minute series (10 h); a 5-minute series: 288 candles (a day)
OTHER_SETTINGS: dict[str, object] = {
    "indications.optimal.enabled": True, "strategy.main_position_timeout_hours": 1.0,
    "system.position_length": 50, "strategy.trailing_only": True, "strategy.position_cooldown_ms": 0,
    "strategy.validation_timeout_s": 0,
}
Result = tuple[int, tuple[float, ...]]


def read_candles(path: Path) -> list[Candle]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as f:  # type: ignore[operator]
        rows = [r for r in csv.reader(f) if r and r[0][:1].isdigit()]
    candles: list[Candle] = [(int(float(r[0])), *(float(x) for x in r[1:6])) for r in rows]  # type: ignore[misc]
    five = len(candles) > 1 and candles[1][0] - candles[0][0] >= 300_000
    count = 288 if five else MINUTES
    middle = max(0, len(candles) // 2 - count)
    return candles[middle:middle + count]


def pipeline(values: dict[str, object], book: SetBook | None = None) -> SymbolPipeline:
    v = {**default_values(), **values}
    return SymbolPipeline("X/USDT:USDT", cfg.indication_params(v), cfg.exit_matrix(v), cfg.book_params(v),
                          cfg.gate_thresholds(v), int(cfg.number(v, "indications.max_variants_per_symbol")),
                          gate_params=cfg.activity_params(v), book=book)


def collector(into: list[Result]) -> object:
    def collect(update: PipelineUpdate) -> None:
        into.extend(zip(update.closed_rows.tolist(), map(tuple, update.closed_values.tolist()), strict=True))
    return collect


def assert_same(a: SymbolPipeline, b: SymbolPipeline) -> None:
    assert list(a.book.variants.items()) == list(b.book.variants.items())
    for name in (*SetBook.ARRAYS, "closed_now"):
        x, y = getattr(a.book, name), getattr(b.book, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), f"{name}: {np.argwhere(x != y)[:3].tolist()}"
    assert a.skipped_variants == b.skipped_variants
    assert (a.last_price, a.last_time) == (b.last_price, b.last_time)
    assert (a.frames._slot, a.frames._price) == (b.frames._slot, b.frames._price)
    ea, eb = a.indications, b.indications
    assert list(ea._frames) == list(eb._frames) and list(ea._recent) == list(eb._recent)
    assert ea._last_fired == eb._last_fired and list(ea._last_fired) == list(eb._last_fired)
    assert ea._keep_steps == eb._keep_steps
    assert (ea._run.sign, ea._run.length) == (eb._run.sign, eb._run.length)
    if ea._run.sign:
        assert ea._run == eb._run
    sa, sb = ea._steps, eb._steps
    assert (sa.level, sa.times, sa.signs, sa.prices) == (sb.level, sb.times, sb.signs, sb.prices)
    ga, gb = ea.gate, eb.gate
    assert (ga.state, list(ga._window), list(ga._changes), list(ga._absolute)) == (
        gb.state, list(gb._window), list(gb._changes), list(gb._absolute))


def both_paths(candles: list[Candle], values: dict[str, object],
               book: SetBook | None = None) -> tuple[SymbolPipeline, SymbolPipeline, list[Result]]:
    ticks_results: list[Result] = []
    batch_results: list[Result] = []
    by_ticks = pipeline(values, pickle.loads(pickle.dumps(book)) if book is not None else None)
    by_batch = pipeline(values, pickle.loads(pickle.dumps(book)) if book is not None else None)
    assert replay_candles(by_ticks, candles, collector(ticks_results), lambda: False)  # type: ignore[arg-type]
    assert replay_batch(by_batch, candles, collector(batch_results), lambda: False, True) is True  # type: ignore[arg-type]
    assert_same(by_ticks, by_batch)
    assert batch_results == ticks_results
    return by_ticks, by_batch, ticks_results


@pytest.mark.skipif(not SERIES, reason=missing_reason("the batch warm-up equality test"))
@pytest.mark.parametrize("path", SERIES, ids=[p.name.split(".")[0] for p in SERIES])
def test_batch_warmup_equals_the_tick_replay(path: Path) -> None:
    candles = read_candles(path)
    by_ticks, _, results = both_paths(candles, {})
    # the comparison means something: sets opened and closed pseudo positions, statuses moved
    assert len(by_ticks.book.variants) > 0 and results
    assert by_ticks.book.slot_b[:, :, 0].any()


@pytest.mark.skipif(not SERIES, reason=missing_reason("the batch warm-up equality test"))
@pytest.mark.parametrize("name", ["bybit_ETHUSDT-PERP_5m", "bybit_BTCUSDT-PERP_1m_20221213"])
def test_batch_warmup_equals_the_tick_replay_at_other_settings(name: str) -> None:
    path = next(p for p in SERIES if p.name.startswith(name))
    by_ticks, _, results = both_paths(read_candles(path), OTHER_SETTINGS)
    assert any(kind == "optimal" for kind, _, _ in by_ticks.book.variants) or by_ticks.skipped_variants
    assert results


@pytest.mark.skipif(not SERIES, reason=missing_reason("the batch warm-up equality test"))
def test_a_restored_book_continues_equally() -> None:
    path = next(p for p in SERIES if p.name.startswith("bybit_SOLUSDT-PERP_5m"))
    candles = read_candles(path)
    half = len(candles) // 2
    first = pipeline({})
    assert replay_candles(first, candles[:half], lambda _u: None, lambda: False)
    restored = SetBook.restore(first.book.snapshot(), first.book.params)
    assert restored.slot_b[:, :, 0].any()  # open pseudo positions carried into the second part
    both_paths(candles[half:], {}, restored)


@pytest.mark.skipif(not SERIES, reason=missing_reason("the batch warm-up equality test"))
def test_a_walk_whose_result_buffer_fills_resumes_equally(monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk stops before a set whose results might not fit its buffer and goes on in a larger one: with a
    first buffer of one row it stops at once and resumes many times — still every result, in order."""
    from cts_desktop.domain import book_replay

    calls = 0
    walk = book_replay._replay_sets

    def counted(*args: object) -> tuple[int, int]:
        nonlocal calls
        calls += 1
        return walk(*args)  # type: ignore[no-any-return]

    monkeypatch.setattr(book_replay, "RECORDS_AHEAD", 1)
    monkeypatch.setattr(book_replay, "_replay_sets", counted)
    path = next(p for p in SERIES if p.name.startswith("bybit_ETHUSDT-PERP_5m"))
    _, _, results = both_paths(read_candles(path), {})
    assert results and calls > 10
