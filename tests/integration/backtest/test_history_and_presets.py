"""History download through the real adapter (ccxt bybit class) against the loopback simulator into the candle
cache: paged, resumable, cancellable, gaps reported; then a backtest and auto-optimal on the cached candles, the
chosen results saved as a preset configuration set and the preset assigned to a connection."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from cts_desktop.backtest import store
from cts_desktop.backtest.history import download_history, load_bars
from cts_desktop.backtest.jobs import Cancelled, CancelToken, ProgressInfo
from cts_desktop.backtest.optimal import OptimalRequest, run_optimal
from cts_desktop.backtest.presets import PREDEFINED, ConfigurationSetDef
from cts_desktop.backtest.runner import run_backtest
from cts_desktop.domain.exits import ExitParams
from cts_desktop.exchanges.simulator import SimulatorServer
from cts_desktop.storage.candles import store_candles
from cts_desktop.storage.db import Database, sqlite_url
from cts_desktop.storage.models import Candle, Connection
from tests.integration.backtest.conftest import make_adapter

SYMBOL = "BTC/USDT:USDT"
DAY = 86_400_000
CONN = "bybit-x03"


def make_db(tmp_path: Path) -> Database:
    db = Database(sqlite_url(tmp_path / "cts.sqlite3"))
    db.migrate()
    with db.session() as s:
        s.add(Connection(id=CONN, name="Bybit X03", exchange="bybit"))
    return db


@pytest.mark.asyncio
async def test_download_is_paged_resumable_and_reports_gaps(sim: SimulatorServer, tmp_path: Path) -> None:
    db = make_db(tmp_path)
    adapter = make_adapter(sim, "bybit")
    until = (sim.market.path.start_ms // 300_000) * 300_000
    since = until - 3 * DAY  # 864 five-minute candles: several pages of 200
    adapter.caps = dataclasses.replace(adapter.caps, ohlcv_limit=200)
    seen: list[ProgressInfo] = []
    token = CancelToken()
    fetch_page = adapter.ohlcv
    pages = 0

    async def cancel_after_two_pages(*args: Any, **kwargs: Any) -> Any:
        # counted by pages, not by progress reports: those come at most every 0.1 s, and on a quick machine the
        # second one was the last page's (the download had finished before the cancel)
        nonlocal pages
        rows = await fetch_page(*args, **kwargs)
        pages += 1
        if pages == 2:
            token.cancel()
        return rows

    adapter.ohlcv = cancel_after_two_pages  # type: ignore[method-assign]
    with pytest.raises(Cancelled):
        await download_history(db, adapter, CONN, SYMBOL, "5m", since, until, token, seen.append)
    adapter.ohlcv = fetch_page  # type: ignore[method-assign]
    assert seen, "no progress was reported"
    with db.session() as s:
        partial = s.query(Candle).count()
    assert 0 < partial < 864  # what arrived before the cancel is kept

    # a hole inside the cache is detected and fetched; the resumed run fetches only what is missing
    with db.session() as s:
        s.query(Candle).filter(Candle.ts >= since + 100 * 300_000, Candle.ts < since + 110 * 300_000).delete()
    left = 864 - (partial - 10)
    report = await download_history(db, adapter, CONN, SYMBOL, "5m", since, until, None, seen.append)
    assert report.fetched >= left and report.fetched < 864
    assert report.complete, report.gap_text()
    assert seen[-1].done == seen[-1].total
    bars = await load_bars(db, CONN, SYMBOL, "5m", since, until)
    assert len(bars) == 864

    # the exchange has nothing before the contract's history: that range stays a reported gap
    first = sim.market.path.origin_ms
    report = await download_history(db, adapter, CONN, SYMBOL, "5m", first - DAY, first + DAY, None, None)
    assert report.gaps and report.gaps[0].start_ms == first - DAY
    assert "→" in report.gap_text()
    await adapter.close()
    db.dispose()


def test_backtest_optimal_and_presets_on_cached_candles(db: Database) -> None:
    """On SQLite and PostgreSQL (migration 0002)."""
    import numpy as np

    with db.session() as s:
        s.add(Connection(id=CONN, name="Bybit X03", exchange="bybit"))
    data = Path(__file__).resolve().parents[2] / "data" / "bybit_BTCUSDT-PERP_5m_20251006.csv"
    raw = np.loadtxt(data, delimiter=",", skiprows=1)
    with db.session() as s:
        store_candles(s, CONN, SYMBOL, "5m", raw.tolist())
    import asyncio

    bars = asyncio.run(load_bars(db, CONN, SYMBOL, "5m", int(raw[0, 0]), int(raw[-1, 0]) + 300_000))
    assert len(bars) == raw.shape[0]
    params = ExitParams(0.001, 0.00055)
    definition = ConfigurationSetDef(name="ema", indication="ema", param_values=((5.0, 9.0), (21.0, 31.0)),
                                     tp_values=(4.0, 8.0), sl_values=(0.5, 1.0), trades_per_48h_min=1.0,
                                     pf_min=0.5, block=True, dca=True)
    result = run_optimal(OptimalRequest((definition,), params), {SYMBOL: bars})
    ranked = result.ranked()
    # the best three, and the best with Block and DCA (their parameters go into the stored set)
    chosen = [*ranked[:3], next(r for r in ranked[3:] if r.adjust.block and r.adjust.dca)]
    with db.session() as s:
        assert store.seed_predefined(s) == 5
        assert store.seed_predefined(s) == 0
        type_id = store.save_optimal_sets(s, "My EMA", chosen, [definition])
        store.assign_preset(s, CONN, type_id)
    with db.session() as s:
        names = [t.name for t in store.list_preset_types(s)]
        assert set(p.name for p in PREDEFINED) <= set(names) and "My EMA" in names
        sets = store.preset_sets(s, type_id)
        assert [x.fixed for x in sets] == [store.FixedSet(r.indication, r.params, r.direction, r.exit, r.adjust)
                                           for r in chosen]
        last = sets[-1].definition
        assert last.block and last.block_only and last.dca and last.dca_only
        assert last.adjust_variants() == [chosen[-1].adjust]
        assert store.connection_preset(s, CONN) == type_id
        conservative = next(t for t in store.list_preset_types(s) if t.name == "Conservative")
        assert conservative.predefined and conservative.sets == 2
        with pytest.raises(ValueError):
            store.save_optimal_sets(s, "Conservative", chosen, [definition])
    # the saved sets backtest to the figures auto-optimal ranked them by
    fixed = [x.fixed for x in sets if x.fixed is not None]
    report = run_backtest(fixed, {SYMBOL: bars}, params)
    for set_report, row in zip(report.sets, chosen, strict=True):
        assert set_report.metrics.trades == row.trades
        assert set_report.metrics.net_pct == pytest.approx(row.net_pct, abs=1e-9)
    with db.session() as s:
        bt = store.save_backtest(s, "saved sets", "backtest", {"symbols": [SYMBOL]}, report.to_json(),
                                 report.equity)
    with db.session() as s:
        listed = store.list_backtests(s)
        assert listed[0].id == bt and listed[0].summary["trades"] == report.metrics.trades


def test_coordination_results_evaluator_verdict_and_assignment_signature(db: Database) -> None:
    """What the Preset engine stores: coordination rows per set and symbol, a disabled fixed set (link off, reason,
    time); the assignment signature changes with it exactly as the engine expects (so it does not start over)."""
    from cts_desktop.engine.preset_engine import after_disabling

    with db.session() as s:
        s.add(Connection(id=CONN, name="Bybit X03", exchange="bybit"))
    with db.session() as s:
        assert store.preset_signature(s, CONN) == (None, ())
        store.seed_predefined(s)
        balanced = next(t for t in store.list_preset_types(s) if t.name == "Balanced")
        store.assign_preset(s, CONN, balanced.id)
        before = store.preset_signature(s, CONN)
        sets = store.preset_sets(s, balanced.id)
        assert before == (balanced.id, tuple(sorted((x.id, x.priority, True) for x in sets)))
        first = sets[0]
        store.save_coordination(s, first.id, SYMBOL, [{"params": [3.0], "tp": 2.0}], 1000.0, 64, 12)
        store.disable_preset_set(s, balanced.id, sets[1].id, "gross PF 0.40 of the last 25 is below 1", 2000.0)
    with db.session() as s:
        rows = {x.id: x for x in store.preset_sets(s, balanced.id)}
        c = rows[first.id].metrics["coordination"][SYMBOL]
        assert (c["evaluated"], c["valid"], c["rows"][0]["tp"]) == (64, 12, 2.0)
        assert rows[first.id].active and not rows[sets[1].id].active
        assert rows[sets[1].id].metrics["disabled"] == {"reason": "gross PF 0.40 of the last 25 is below 1",
                                                        "at": 2000.0}
        assert [x.id for x in store.preset_sets(s, balanced.id, active_only=True)] == [
            x.id for x in sets if x.id != sets[1].id]
        after = store.preset_signature(s, CONN)
    assert after != before and after == after_disabling(before, {sets[1].id})
    assert after != after_disabling(before, {first.id})
