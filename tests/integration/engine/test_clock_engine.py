"""The engine with this computer's clock 8 s ahead of the exchange's (issue 14 item 6), on the Replay connection (the
simulator in-process, real ccxt, real SQLite): it starts, enters and syncs live positions with the corrected time;
its status carries the offset for the Dashboard card; the skew raises exactly one alert however often the clock is
measured again."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from cts_desktop.engine.order_types import EntrySignal
from cts_desktop.events.status import EngineState
from cts_desktop.events.trading import AlertRaised
from cts_desktop.storage.models import Alert, Order
from tests.integration.engine.test_coordinator_replay import make_world

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])

SKEW = -8_000  # the venue's clock 8 s behind this computer's: every uncorrected signed request is refused


async def test_engine_trades_shows_and_alerts_once_with_a_skewed_clock(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_world(tmp_path) as world:
        server = world.replay.server
        assert server is not None
        server.set_clock_offset(SKEW)
        alerts: list[AlertRaised] = []
        world.bus.subscribe(AlertRaised, alerts.append)
        with caplog.at_level(logging.WARNING):
            await world.coordinator.start()
            status = await world.coordinator.wait_started(120)
        assert status.engines[0].state is EngineState.RUNNING, status.engines[0]
        engine = world.coordinator.engines[world.config.id]
        shown = engine.status()
        assert shown.clock_skewed and shown.clock_offset_ms is not None
        assert abs(shown.clock_offset_ms - SKEW) < 100 and shown.clock_text == "8.0 s ahead"
        # live entries and syncs go on with the corrected timestamps
        assert engine.orders is not None
        price = server.market.price("BTC")
        outcome = await engine.orders.open_position(EntrySignal("BTC/USDT:USDT", "long", price, 0.01, 0.02))
        assert outcome.accepted and outcome.status == "filled", outcome
        await engine.orders.sync(engine.symbols)
        # measured again (every 5 minutes in the app): still one alert, one warning line
        await engine.adapter.clock.measure()
        await engine.adapter.clock.measure()
        assert [(a.source, a.key) for a in alerts if a.source == "clock"] == [("clock", world.config.id)]
        assert "8.0 s ahead" in alerts[0].message and "trading goes on" in alerts[0].message
        assert world.writer.flush(10)
        with world.db.session() as s:
            stored = s.execute(select(Alert.source, Alert.connection_id)).all()
            order = s.execute(select(Order).where(Order.client_order_id == outcome.client_order_id)).scalar_one()
        assert [tuple(r) for r in stored if r[0] == "clock"] == [("clock", world.config.id)]
        assert order.status == "filled"
        skew_lines = [r for r in caplog.records if "8.0 s ahead" in r.getMessage()]
        assert len(skew_lines) == 1  # corrected before the first signed request: the exchange never refused one
        assert "refused a request for its timestamp" not in caplog.text
