"""The Dashboard against a running engine on the in-process simulator (Replay connection, real ccxt, real SQLite):
cards equal the DB/simulator truth, the buttons and the tray drive the coordinator, the live-trade switch refuses
without the typed name, the chart shows the stored candles with pseudo markers, screenshots for both themes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psutil
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from sqlalchemy import func, select

from cts_desktop.app import GuiApp, create_qapp
from cts_desktop.events.trading import PriceUpdate
from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID, ConnectionRuleError
from cts_desktop.services import Services
from cts_desktop.storage.models import Candle, ConfigSet, RealPosition
from cts_desktop.ui.tabs.dashboard_connections import LiveTradeDialog
from cts_desktop.ui.theme import apply_theme
from cts_desktop.ui.widgets import human_bytes
from tests.helpers.waiting import until
from tests.ui.conftest import replay_services, save_screenshot

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])

FAST = {
    "overall.use_main_symbols": True, "overall.main_symbols": ["BTC"], "overall.forced_symbols": [],
    "overall.prehistoric_days": 1, "overall.market_timeframe_s": 1,
    "strategy.phase1_count": 5, "strategy.phase1_min_win_rate": 0, "strategy.phase2_count": 20,
    "strategy.phase2_min_win_rate": 0, "strategy.phase2_min_win_loss_ratio": 0.5,
    "indications.activity.enabled": False, "indications.active.enabled": False,
    "indications.direction.range_min": 3, "indications.direction.range_max": 6,
    "indications.move.range_min": 3, "indications.move.range_max": 6,
    "strategy.tp_factors": [2, 4, 8], "strategy.sl_ratios": [0.5, 1.0], "strategy.trailing_starts": [0.6],
    "strategy.trailing_stops": [0.2],
    "system.exchange_sync_interval_s": 1, "system.persist_interval_ms": 500,
}


@pytest.fixture
def fast_services(data_dir: Path) -> Iterator[Services]:
    with replay_services(data_dir, FAST) as svc:
        yield svc


def seed_closed_positions(services: Services) -> Decimal:
    """Three closed paper positions: two inside the last 24 h (they count) and one 30 h ago (it does not)."""
    now = datetime.now(UTC)
    rows = [(Decimal("12.5"), Decimal("0.3"), Decimal("-0.1"), 2), (Decimal("-4"), Decimal("0.2"), Decimal(0), 3),
            (Decimal("100"), Decimal("1"), Decimal(0), 30)]
    with services.db.session() as s:
        for pnl, fees, funding, hours in rows:
            s.add(RealPosition(connection_id=REPLAY_CONNECTION_ID, symbol="BTC/USDT:USDT", side="long", paper=True,
                               quantity=Decimal("0.01"), entry_price=Decimal(60000), exit_price=Decimal(60100),
                               realized_pnl=pnl, fees=fees, funding=funding, status="closed",
                               opened_at=now - timedelta(hours=hours + 1), closed_at=now - timedelta(hours=hours)))
    return sum((p - f + u for p, f, u, h in rows if h < 24), Decimal(0))


def sql(services: Services, query: object) -> object:
    with services.db.session() as s:
        return s.execute(query).scalar_one()  # type: ignore[call-overload]


async def test_dashboard_drives_and_shows_the_engine(fast_services: Services) -> None:
    services = fast_services
    create_qapp()
    gui = GuiApp(services)
    services.start(asyncio.get_running_loop())
    window, dash = gui.window, gui.window.dashboard
    window.resize(1366, 768)
    gui.show()
    trading = await gui.app.load_trading()
    coordinator = trading.coordinator
    daily = seed_closed_positions(services)

    # stopped: banner, badge, only Start (and emergency) enabled
    await dash.refresh()
    assert dash.engine.badge.text() == "STOPPED"
    assert not dash.banner.isHidden() and "stopped" in dash.banner.text()
    assert dash.engine.buttons["start"].isEnabled() and not dash.engine.buttons["pause"].isEnabled()
    assert dash.cards["pnl"].value.text() == f"{float(daily):+,.2f}"
    assert set(dash.connections.cards) >= {REPLAY_CONNECTION_ID}

    # Start button → coordinator running; the batched bridge pushes the new state to the panel
    dash.engine.buttons["start"].click()
    await until(lambda: coordinator.state.value == "running", 20, "coordinator running")
    status = await coordinator.wait_started(90)
    engine = coordinator.engines[REPLAY_CONNECTION_ID]
    assert status.engines[0].state.value == "running", status.engines[0]
    await until(lambda: dash.engine.badge.text() == "RUNNING", 3, "badge via the bridge")
    await until(lambda: engine.meters["main"].cycles > 3 and engine.status().pseudo_open > 0, 40, "pseudo positions")

    # freeze the pipelines (no price moves them inside, also not a gap fill that restarts the feed), let the
    # persist loop write, then compare every card with the truth
    async with engine.prices_held():
        persisted, synced = engine.meters["persist"].cycles, engine.meters["sync"].cycles
        await until(lambda: engine.meters["persist"].cycles > persisted, 10, "a persist cycle after the last price")
        # the engine's balance is read at each sync (a reading younger than one interval is reused): two syncs
        # with prices held and the card's figure is the held one
        await until(lambda: engine.meters["sync"].cycles >= synced + 2, 30, "two exchange syncs with prices held")
        assert services.writer.flush(10)
        await dash.refresh()
        cards = dash.cards
        # paper trading: the balance is the paper account's equity, started from the simulator account's balance
        assert engine.paper and engine.paper_broker is not None
        paper_equity = float((await engine.paper_broker.balance()).total)
        assert cards["balance"].value.text() == f"{paper_equity:,.2f}"
        assert cards["connections"].value.text() == "1"
        assert cards["pnl"].value.text() == f"{float(daily):+,.2f}"
        live = sql(services, select(func.count()).where(RealPosition.status.in_(("opening", "open", "closing")),
                                                         RealPosition.paper.is_(False)))
        paper = sql(services, select(func.count()).where(RealPosition.status.in_(("opening", "open", "closing")),
                                                          RealPosition.paper.is_(True)))
        pseudo = sum(p.open_pseudo() for p in engine.pipelines.values())
        assert pseudo > 0
        assert cards["positions"].value.text() == str(live + paper)  # type: ignore[operator]
        assert cards["positions"].detail.text() == f"live {live} · paper {paper} · pseudo {pseudo}"
        active = sql(services, select(func.count()).where(ConfigSet.status == "active"))
        assert cards["strategies"].value.text() == str(active)
        with services.db.session() as s:
            variants = s.execute(select(ConfigSet.indication_type, ConfigSet.params, ConfigSet.direction,
                                        ConfigSet.symbol).distinct()).all()
        assert len(variants) > 0
        assert cards["indications"].value.text() == str(len(variants))
        metrics = await gui.app.dashboard.metrics()
        dash.metrics.show_metrics(metrics)
        assert cards["database"].value.text() == human_bytes(metrics.database_bytes)
        assert abs(metrics.database_bytes - services.db.size_bytes()) < 2**20  # the log keeps writing meanwhile
        rss = psutil.Process().memory_info().rss / 2**20
        assert cards["load"].detail.text().startswith(f"app {metrics.app_cpu_pct:.0f} % · {metrics.app_memory_mb:.0f}")
        assert abs(metrics.app_memory_mb - rss) < max(50.0, rss * 0.1), (metrics.app_memory_mb, rss)
        card = dash.connections.cards[REPLAY_CONNECTION_ID]
        assert card.badge.text() == "Connected"
        assert card.balance.text() == f"{paper_equity:,.2f}"
        assert card.positions.text() == str(sql(services, select(func.count()).where(
            RealPosition.connection_id == REPLAY_CONNECTION_ID,
            RealPosition.status.in_(("opening", "open", "closing")))))
        assert card.pseudo.text() == f"{engine.status().pseudo_open:,}"
        # ticker: each main symbol with the exchange's last price and 24 h change, all readable at 1366 px
        rows = await gui.app.dashboard.ticker()
        dash.ticker.show_rows(rows)
        dash.ticker.grab()
        assert rows and set(dash.ticker.visible_symbols) == {r.symbol for r in rows}
        for row in rows:
            assert row.last is not None and row.change_pct_24h is not None, row
            assert dash.ticker.text_of(row.symbol) == \
                f"{row.symbol.split('/')[0]} {row.last:,.2f} {row.change_pct_24h:+.2f} %"
        # a price the engine publishes reaches the ticker through the batched bridge
        moved = rows[0].last * 1.001
        services.bus.publish(PriceUpdate(key=REPLAY_CONNECTION_ID, symbol=rows[0].symbol, price=moved, ts_ms=0))
        dash.bridge.flush()
        assert dash.ticker.text_of(rows[0].symbol).split()[1] == f"{moved:,.2f}"
        main_row = dash.engine.loops.column_texts(0).index("main")
        assert dash.engine.loops.text(main_row, 1) == f"{engine.meters['main'].cycles:,}"
        assert dash.banner.isHidden()

        # chart: the stored 1-minute candles of the traded symbol, pseudo markers from the engine's book
        chart = dash.ensure_chart()
        assert chart.source == (REPLAY_CONNECTION_ID, "BTC/USDT:USDT")
        await chart.load()
        stored = sql(services, select(func.count()).where(Candle.connection_id == REPLAY_CONNECTION_ID,
                                                           Candle.symbol == "BTC/USDT:USDT", Candle.timeframe == "1m"))
        assert chart.chart.n == stored and stored > 0
        entries = chart.chart.markers["pseudo_entry"].data
        assert sum(int(d["data"].count) for d in entries) == sum(
            int(p.book.slot_b[:, :, 0].sum()) for p in engine.pipelines.values())

    await window.refresh()  # the status bar, as the window's timer would
    for theme in ("dark", "light"):
        apply_theme(QApplication.instance(), theme)  # type: ignore[arg-type]
        save_screenshot(window, f"dashboard-{theme}")

    # live-trade switch: refused without the exact typed name, accepted with it
    config = trading.connections.get(REPLAY_CONNECTION_ID)
    dialog = LiveTradeDialog(config.name, window)
    dialog.edit.setText("replay")
    assert not dialog.ok.isEnabled()
    with pytest.raises(ConnectionRuleError):
        await gui.app.dashboard.switches.set_live_trade(REPLAY_CONNECTION_ID, True, "replay")
    assert not trading.connections.get(REPLAY_CONNECTION_ID).is_live_trade
    card.live.click()  # opens the dialog, the switch stays off
    assert card.dialog is not None and not card.live.isChecked()
    card.dialog.edit.setText(config.name)
    assert card.dialog.ok.isEnabled()
    card.dialog.ok.click()
    await until(lambda: trading.connections.get(REPLAY_CONNECTION_ID).is_live_trade, 10, "live trade on")

    # Pause / Resume buttons and keyboard shortcuts
    await until(lambda: dash.engine.buttons["pause"].isEnabled(), 5, "pause enabled")
    dash.engine.buttons["pause"].click()
    await until(lambda: coordinator.state.value == "paused", 5, "paused")
    await until(lambda: dash.engine.badge.text() == "PAUSED", 3, "paused badge")
    resume = dash.engine.actions_["resume"]  # Engine menu, shortcut F7 (window-wide)
    assert resume.shortcut().toString() == "F7" and resume.isEnabled()
    window.activateWindow()
    await until(lambda: QApplication.activeWindow() is window, 2, "window active")
    QTest.keyClick(window, Qt.Key.Key_F7)
    await until(lambda: coordinator.state.value == "running", 5, "resumed")

    # Emergency stop asks first; "keep positions" stops everything and clears the live flags
    dash.engine.buttons["emergency"].click()
    box = dash.engine.confirm
    assert box is not None and coordinator.state.value == "running"
    dash.engine.keep.click()
    await until(lambda: coordinator.state.value == "stopped", 30, "emergency stop")
    assert not trading.connections.get(REPLAY_CONNECTION_ID).is_live_trade
    await until(lambda: dash.engine.badge.text() == "STOPPED", 3, "stopped badge")

    # tray menu drives the coordinator too
    tray = window.tray
    await until(lambda: tray.state == "stopped", 3, "tray shows stopped")
    tray.engine_actions["start"].trigger()
    await until(lambda: coordinator.state.value == "running", 20, "tray start")
    await until(lambda: tray.engine_actions["pause"].isEnabled(), 3, "tray state")
    tray.engine_actions["pause"].trigger()
    await until(lambda: coordinator.state.value == "paused", 5, "tray pause")
    await until(lambda: tray.state == "paused", 3, "tray icon state")
    tray.engine_actions["resume"].trigger()
    await until(lambda: coordinator.state.value == "running", 5, "tray resume")
    tray.engine_actions["stop"].trigger()
    await until(lambda: coordinator.state.value == "stopped", 30, "tray stop")
    await gui.shutdown()
