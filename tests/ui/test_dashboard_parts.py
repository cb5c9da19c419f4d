"""Dashboard parts on real services without an engine: the bridge batches events to at most ~5 signals a second
with the newest values, the table model caps/sorts/exports, notifications reach the tray and the ``toast`` log,
the live-trade confirmation accepts only the exact name, and the connection switches keep the rules."""

from __future__ import annotations

import asyncio
import csv
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from cts_desktop.app import GuiApp, create_qapp
from cts_desktop.events.trading import OrderChanged, PriceUpdate
from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID, ConnectionRuleError
from cts_desktop.services import Services
from cts_desktop.ui.bridge import EventBridge
from cts_desktop.ui.table import Column, DataTable, RowTableModel, fmt_num
from cts_desktop.ui.tabs.dashboard_connections import LiveTradeDialog
from tests.helpers.waiting import until

QASYNC = pytest.mark.asyncio(loop_factories=["qasync"])


@QASYNC
async def test_bridge_batches_to_five_signals_a_second_with_newest_values(services: Services) -> None:
    create_qapp()
    bridge = EventBridge(services.bus)
    emitted: list[dict[tuple[str, str], tuple[float, int]]] = []
    bridge.prices.connect(emitted.append)
    loop = asyncio.get_running_loop()
    started = loop.time()
    sent = 0

    def burst() -> bool:  # ~2,000 prices a second for 10 symbols, for a second
        nonlocal sent
        for k in range(10):
            services.bus.publish(PriceUpdate(key="c1", symbol=f"S{k}", price=float(sent), ts_ms=sent))
            sent += 1
        return loop.time() - started >= 1.0

    await until(burst, 10, "a second of prices", interval=0.005)
    await until(lambda: emitted and emitted[-1].get(("c1", "S9")) == (float(sent - 1), sent - 1), 2,
                "the newest prices flushed")
    bridge.close()
    assert sent > 500
    assert 3 <= len(emitted) <= 7  # one flush per 200 ms
    last = {key: value for batch in emitted for key, value in batch.items()}
    assert last[("c1", "S9")] == (float(sent - 1), sent - 1)  # the newest price of each symbol arrives
    count = len(emitted)
    services.bus.publish(PriceUpdate(key="c1", symbol="S0", price=1.0, ts_ms=1))
    bridge.flush()
    assert len(emitted) == count  # closed: no longer subscribed


@dataclass(frozen=True)
class Row:
    id: int
    symbol: str
    pnl: float | None


def test_table_model_caps_sorts_updates_and_exports(tmp_path: Path) -> None:
    model = RowTableModel([Column("id", "#", numeric=True), Column("symbol", "Symbol"),
                           Column("pnl", "PnL", fmt_num(2), True)], cap=3)
    rows = [Row(1, "BTC", 5.0), Row(2, "ETH", -1.5), Row(3, "SOL", None), Row(4, "XRP", 9.0)]
    model.set_rows(rows)
    assert model.rowCount() == 3 and [r.id for r in model.rows] == [1, 2, 3]
    model.sort(2, Qt.SortOrder.DescendingOrder)
    assert [r.id for r in model.rows] == [1, 2, 3]  # None last
    model.sort(2, Qt.SortOrder.AscendingOrder)
    assert [r.id for r in model.rows] == [2, 1, 3]
    assert model.data(model.index(0, 2)) == "-1.50"
    changed: list[tuple[int, int]] = []
    resets: list[bool] = []
    model.dataChanged.connect(lambda a, b: changed.append((a.row(), b.row())))
    model.modelReset.connect(lambda: resets.append(True))
    model.set_rows([Row(1, "BTC", 5.0), Row(2, "ETH", -2.0), Row(3, "SOL", None)])  # same keys, one value moved
    assert resets == [] and changed == [(0, 0)]
    model.set_rows([Row(7, "ADA", 1.0)])
    assert resets == [True] and model.rowCount() == 1
    model.set_rows(rows[:3])
    path = tmp_path / "t.csv"
    assert DataTable(model, "test.caps").export_csv(str(path)) == 3
    with path.open() as f:
        assert list(csv.reader(f)) == [["#", "Symbol", "PnL"], ["2", "ETH", "-1.50"], ["1", "BTC", "5.00"],
                                       ["3", "SOL", ""]]


def test_live_trade_dialog_accepts_only_the_exact_name(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = LiveTradeDialog("Bybit X03")
    qtbot.addWidget(dialog)
    confirmed: list[str] = []
    dialog.confirmed.connect(confirmed.append)
    for wrong in ("", "bybit x03", "Bybit X0", "Bybit X03!"):
        dialog.edit.setText(wrong)
        assert not dialog.ok.isEnabled()
        dialog._accept()
    assert confirmed == []
    dialog.edit.setText("Bybit X03")
    assert dialog.ok.isEnabled()
    dialog.ok.click()
    assert confirmed == ["Bybit X03"]


@QASYNC
async def test_notifications_reach_the_tray_and_the_toast_log(services: Services) -> None:
    create_qapp()
    gui = GuiApp(services)
    services.start(asyncio.get_running_loop())
    window = gui.window
    services.bus.publish(OrderChanged(key="c1", client_order_id="cts-1", symbol="BTC/USDT:USDT", status="filled",
                                      paper=True))
    services.bus.publish(OrderChanged(key="c1", client_order_id="cts-2", symbol="BTC/USDT:USDT", status="open",
                                      paper=True))
    window.bridge.flush()
    assert window.tray.notifications[-1][0] == "Order filled (paper)"
    assert "cts-1" in window.tray.notifications[-1][1]
    assert services.writer.flush(10)
    logs = await gui.app.overview.recent_logs(limit=20)
    toasts = [r for r in logs if r.category == "toast"]
    assert toasts and "Order filled" in toasts[0].message and toasts[0].level == "INFO"
    await gui.shutdown()


@QASYNC
async def test_connection_switches_keep_the_rules(services: Services) -> None:
    create_qapp()
    gui = GuiApp(services)
    services.start(asyncio.get_running_loop())
    dashboard = gui.app.dashboard
    trading = await gui.app.load_trading()
    bybit = next(c for c in trading.connections.list() if c.name == "Bybit X03")
    with pytest.raises(ConnectionRuleError):  # never tested: cannot be enabled
        await dashboard.switches.set_enabled(bybit.id, True)
    with pytest.raises(ConnectionRuleError):  # disabled: no live trading even with the name
        await dashboard.switches.set_live_trade(bybit.id, True, "Bybit X03")
    await dashboard.switches.set_enabled(REPLAY_CONNECTION_ID, False)
    assert not trading.connections.get(REPLAY_CONNECTION_ID).is_enabled
    await dashboard.switches.set_enabled(REPLAY_CONNECTION_ID, True)  # Replay moves no money: no test needed
    assert trading.connections.get(REPLAY_CONNECTION_ID).is_enabled
    assert await dashboard.switches.set_volume_factor(REPLAY_CONNECTION_ID, 2.345) == 2.3
    assert trading.connections.get(REPLAY_CONNECTION_ID).settings.live_volume_factor == 2.3
    with pytest.raises(ConnectionRuleError):
        await dashboard.switches.set_volume_factor(REPLAY_CONNECTION_ID, 11)
    cards = {c.id: c for c in await dashboard.connection_cards()}
    assert cards[REPLAY_CONNECTION_ID].volume_factor == 2.3 and cards[bybit.id].status == "Disabled"
    logging.getLogger("cts.engine").info("replay line", extra={"connection_id": REPLAY_CONNECTION_ID})
    assert services.writer.flush(10)
    assert any(r.message == "replay line" for r in await dashboard.connection_log(REPLAY_CONNECTION_ID))
    await gui.shutdown()


def test_emergency_stop_asks_and_reports_the_choice(qtbot) -> None:  # type: ignore[no-untyped-def]
    from cts_desktop.ui.tabs.dashboard_engine import EnginePanel

    panel = EnginePanel()
    qtbot.addWidget(panel)
    commands: list[tuple[str, bool]] = []
    panel.command.connect(lambda name, close: commands.append((name, close)))
    panel.buttons["emergency"].click()
    assert panel.confirm is not None and commands == []  # nothing happens before the answer
    panel.close_all.click()
    assert commands == [("emergency", True)]
    panel.trigger("emergency")
    assert panel.confirm is not None
    panel.keep.click()
    panel.trigger("emergency")
    assert panel.confirm is not None
    panel.confirm.reject()  # Cancel / Escape
    assert commands == [("emergency", True), ("emergency", False)]
    panel.trigger("pause")  # disabled while stopped
    panel.trigger("start")
    assert commands[-1] == ("start", False) and len(commands) == 3


@QASYNC
async def test_banner_shows_an_unhealthy_running_engine(services: Services) -> None:
    import time as _time

    from cts_desktop.events.status import EngineState, EngineStatus, HealthStatus

    create_qapp()
    gui = GuiApp(services)
    services.start(asyncio.get_running_loop())
    dash = gui.window.dashboard
    await dash.refresh()
    assert "stopped" in dash.banner.text()
    status = EngineStatus(state=EngineState.RUNNING, started_at=_time.time() - 65, main_enabled=True,
                          preset_enabled=False, engines=(), health=HealthStatus.UNHEALTHY, last_error=None)
    dash._on_engine_status(status)
    assert "unhealthy" in dash.banner.text() and "stopped" not in dash.banner.text()
    assert dash.engine.badge.text() == "RUNNING" and dash.engine.facts["uptime"].text() == "00:01:05"
    dash._on_engine_status(replace(status, health=HealthStatus.HEALTHY))
    assert "engine" not in dash.banner.text()
    await gui.shutdown()


def test_connection_card_shows_a_clock_skew(qtbot) -> None:  # type: ignore[no-untyped-def]
    """A skew over 1 s reported in the engine's status (issue 14 item 6) is a badge on the connection card, pushed
    with the engine snapshots between full refreshes; back in step, the badge goes."""
    from cts_desktop.application.dashboard_data import ConnectionCard
    from cts_desktop.events.status import ConnectionStatus, EngineState, HealthStatus, TradeEngineStatus
    from cts_desktop.ui.tabs.dashboard_connections import ConnectionsPanel

    engine = TradeEngineStatus(
        connection_id="c1", connection_name="Bybit X03", state=EngineState.RUNNING,
        connection=ConnectionStatus.CONNECTED, paper=False, paused=False, started_at=None, loops=(),
        health=HealthStatus.HEALTHY, symbols=(), pseudo_open=0, real_open=0, sets_by_status={}, balance_usdt=None,
        progress=None, progress_text="", last_error=None, clock_offset_ms=-200, clock_skewed=False)
    card = ConnectionCard(id="c1", name="Bybit X03", exchange="bybit", is_replay=False, enabled=True, active=True,
                          live_trade=True, volume_factor=1.0, open_positions=0, engine=engine)
    panel = ConnectionsPanel(None, lambda coro, what: coro.close())
    qtbot.addWidget(panel)
    panel.show_cards([card])
    widget = panel.cards["c1"]
    assert widget.clock.isHidden()
    assert "multiplies with Settings › Overall › Base volume factor" in widget.volume.toolTip()  # which wins
    panel.show_engines({"c1": replace(engine, clock_offset_ms=-3_012, clock_skewed=True)})
    assert not widget.clock.isHidden() and widget.clock.text() == "clock 3.0 s ahead"
    assert "offset -3012 ms" in widget.clock.toolTip() and "trading goes on" in widget.clock.toolTip()
    panel.show_engines({"c1": replace(engine, clock_offset_ms=8_000, clock_skewed=True)})
    assert widget.clock.text() == "clock 8.0 s behind"
    panel.show_engines({"c1": engine})
    assert widget.clock.isHidden()
