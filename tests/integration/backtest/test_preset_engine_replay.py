"""The Preset engine inside the coordinator on the Replay connection (simulator in-process, real ccxt, SQLite): a
preset type with fixed common-indicator sets (one with DCA) and a set with ranges (Block on) is assigned to the
connection; the engine starts it with its other loops, coordinates the set with ranges over downloaded 1-minute
history (results stored with the set, candidates trading on their symbol), builds candles from the live prices,
fires the sets, moves pseudo positions and — with Preset Trade on — sends entry signals to the order manager; a
new assignment is picked up while the engine runs."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from cts_desktop.backtest import store
from cts_desktop.backtest.presets import ConfigurationSetDef, PresetTypeDef
from cts_desktop.backtest.runner import FixedSet
from cts_desktop.domain.adjust import Adjust, DcaParams
from cts_desktop.domain.bars import LONG, SHORT
from cts_desktop.domain.exits import ExitConfig
from cts_desktop.engine import preset_engine
from cts_desktop.events.status import EngineState
from cts_desktop.storage.models_presets import PresetSet, PresetType, PresetTypeSet
from tests.helpers.waiting import becomes_true
from tests.integration.engine.test_coordinator_replay import make_world

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], object]]:
    return {"asyncio": asyncio.new_event_loop}


FIXED = [FixedSet("sma", (2.0, 4.0), LONG, ExitConfig(2.0, 1.0)),
         FixedSet("sma", (2.0, 4.0), SHORT, ExitConfig(2.0, 1.0)),
         FixedSet("rsi", (5.0, 40.0, 60.0), LONG, ExitConfig(3.0, 1.0, 0.6, 0.2)),
         FixedSet("sma", (2.0, 4.0), SHORT, ExitConfig(8.0, 2.0), Adjust(dca=DcaParams()))]
RANGED = ConfigurationSetDef(name="ema grid", indication="ema", param_values=((3.0, 5.0), (8.0, 13.0)),
                             tp_values=(2.0, 4.0), sl_values=(1.0, 2.0), range_days=1, trades_per_48h_min=1.0,
                             pf_min=0.1, drawdown_time_max_h=48.0, block=True)


async def test_preset_engine_runs_in_the_coordinator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preset_engine, "RELOAD_S", 0.5)
    async with make_world(tmp_path, live=False) as w:
        w.settings.set_many({"indications.common.candle_timeframe_s": 60, "strategy.preset_position_timeout_hours": 1,
                             "strategy.preset_block_enabled": True, "strategy.preset_dca_enabled": True})
        with w.db.session() as s:
            preset = PresetType(name="Replay preset", settings=PresetTypeDef(
                name="Replay preset", max_positions_per_direction=1, timeout_after_position_s=0).to_json())
            s.add(preset)
            s.flush()
            for priority, f in enumerate(FIXED):
                d = ConfigurationSetDef(name=f.label, indication=f.indication,
                                        param_values=tuple((p,) for p in f.params), tp_values=(f.exit.tp,),
                                        sl_values=(f.exit.sl,), directions=(f.direction,), pf_min=0.1, fixed=True)
                row = PresetSet(name=f.label, indication=f.indication, definition=d.to_json(), fixed=f.to_json(),
                                metrics={"gross_pf": 1.5, "trades": 10})
                s.add(row)
                s.flush()
                s.add(PresetTypeSet(preset_type_id=preset.id, set_id=row.id, priority=priority, active=True))
            grid = PresetSet(name=RANGED.name, indication="ema", definition=RANGED.to_json(), metrics={})
            s.add(grid)
            s.flush()
            grid_id = grid.id
            s.add(PresetTypeSet(preset_type_id=preset.id, set_id=grid.id, priority=len(FIXED), active=True))
            other = PresetType(name="Other preset", settings=PresetTypeDef(name="Other preset").to_json())
            s.add(other)
            s.flush()
            other_id = other.id
            f = FIXED[0]
            d = ConfigurationSetDef(name=f.label, indication=f.indication, param_values=tuple((p,) for p in f.params),
                                    tp_values=(f.exit.tp,), sl_values=(f.exit.sl,), directions=(f.direction,),
                                    fixed=True)
            row = PresetSet(name=f.label, indication=f.indication, definition=d.to_json(), fixed=f.to_json(),
                            metrics={"gross_pf": 1.5, "trades": 10})
            s.add(row)
            s.flush()
            s.add(PresetTypeSet(preset_type_id=other.id, set_id=row.id, priority=0, active=True))
            store.assign_preset(s, w.config.id, preset.id)
        w.service.store.save(replace(w.config, is_preset_trade=True))
        await w.coordinator.start()
        await w.coordinator.wait_started(timeout=120)
        engine = w.coordinator.engines[w.config.id]
        assert engine.state is EngineState.RUNNING, engine.last_error
        # prices carry wall-clock time, so the first live minute candle closes within a minute
        assert await becomes_true(lambda: getattr(engine, "preset_runner", None) is not None, 30), "no Preset engine"
        runner = engine.preset_runner
        coordinated = await becomes_true(lambda: runner.evaluations > 0 and runner.coordination is not None, 80)
        assert coordinated, runner.status()
        # the set with ranges was coordinated over a day of 1-minute history: Block doubles its 2×2×2×2×2 grid
        c = runner.coordination
        assert c["evaluated"] == 64 and c["symbols"] == ["BTC/USDT:USDT"], c
        candidates = [x for x in runner.sets if x.symbol is not None]
        assert len(candidates) == c["candidates"] == min(c["valid"], preset_engine.MAX_CANDIDATES) > 0
        assert all(x.set_id == grid_id and x.symbol == "BTC/USDT:USDT" for x in candidates)
        assert {x.fixed.adjust.block is not None for x in candidates} == {True, False}  # both grid variants
        with w.db.session() as s:
            stored = s.get(PresetSet, grid_id).metrics["coordination"]["BTC/USDT:USDT"]
        assert stored["evaluated"] == 64 and len(stored["rows"]) == len(candidates)
        assert [(r["params"], r["tp"], r["sl"], r["direction"]) for r in stored["rows"]] == [
            (list(x.fixed.params), x.fixed.exit.tp, x.fixed.exit.sl, x.fixed.direction) for x in candidates]
        assert len(runner.sets) == len(FIXED) + len(candidates)
        candles = runner.candles["BTC/USDT:USDT"]
        # minute candles in time order (warmed from the cached history, then built from the live prices)
        assert len(candles.time) >= 100
        assert all(b > a and b % 60 == 0 for a, b in itertools.pairwise(candles.time))
        assert candles.time[-1] >= time.time() - 180  # the newest closed candle is a live one
        # what fired opened pseudo positions; signals only for the non-trailing sets (Preset Trade is on)
        opened = sum(b.n_open + b.total_closed for b in runner.books.values())
        assert opened == runner.opened <= runner.fired  # a fire while the set holds its one position opens nothing
        assert runner.signals_sent <= runner.opened
        # a new assignment is picked up while the engine runs
        with w.db.session() as s:
            store.assign_preset(s, w.config.id, other_id)
        assert await becomes_true(lambda: engine.preset_runner is not runner, 10)
        assert [x.fixed for x in engine.preset_runner.sets] == [FIXED[0]]
        await w.coordinator.stop()
