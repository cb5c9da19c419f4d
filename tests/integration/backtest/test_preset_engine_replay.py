"""The Preset engine inside the coordinator on the Replay connection (simulator in-process, real ccxt, SQLite): a
preset type with fixed common-indicator sets is assigned to the connection, the engine starts it with its other
loops, builds candles from the live prices, fires the sets, closes pseudo positions and — with Preset Trade on —
sends entry signals to the order manager."""

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
from cts_desktop.domain.bars import LONG, SHORT
from cts_desktop.domain.exits import ExitConfig
from cts_desktop.engine.status import EngineState
from cts_desktop.storage.models_presets import PresetSet, PresetType, PresetTypeSet
from tests.integration.engine.test_coordinator_replay import make_world

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], object]]:
    return {"asyncio": asyncio.new_event_loop}


FIXED = [FixedSet("sma", (2.0, 4.0), LONG, ExitConfig(2.0, 1.0)),
         FixedSet("sma", (2.0, 4.0), SHORT, ExitConfig(2.0, 1.0)),
         FixedSet("rsi", (5.0, 40.0, 60.0), LONG, ExitConfig(3.0, 1.0, 0.6, 0.2))]


async def test_preset_engine_runs_in_the_coordinator(tmp_path: Path) -> None:
    async with make_world(tmp_path, live=False) as w:
        w.settings.set_many({"indications.common.candle_timeframe_s": 60, "strategy.preset_position_timeout_hours": 1})
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
            s.flush()
            store.assign_preset(s, w.config.id, preset.id)
        w.service.store.save(replace(w.config, is_preset_trade=True))
        await w.coordinator.start()
        await w.coordinator.wait_started(timeout=120)
        engine = w.coordinator.engines[w.config.id]
        assert engine.state is EngineState.RUNNING, engine.last_error
        # prices carry wall-clock time, so the first live minute candle closes within a minute
        deadline = time.monotonic() + 80
        runner = None
        while time.monotonic() < deadline:
            runner = getattr(engine, "preset_runner", None)
            if runner is not None and runner.evaluations > 0:
                break
            await asyncio.sleep(0.25)
        assert runner is not None, "the Preset engine did not start"
        assert runner.evaluations > 0, "no live candle closed"
        assert len(runner.sets) == 3
        candles = runner.candles["BTC/USDT:USDT"]
        # minute candles in time order (warmed from the cached history, then built from the live prices)
        assert len(candles.time) >= 100
        assert all(b > a and b % 60 == 0 for a, b in itertools.pairwise(candles.time))
        assert candles.time[-1] >= time.time() - 180  # the newest closed candle is a live one
        # what fired opened pseudo positions; signals only for the non-trailing sets (Preset Trade is on)
        opened = sum(int(b.open_count().sum()) + int(b.count.sum()) for b in runner.books.values() if len(b))
        assert opened <= runner.fired  # a fire while the set holds its one position opens nothing
        assert runner.signals_sent <= runner.fired
        await w.coordinator.stop()
