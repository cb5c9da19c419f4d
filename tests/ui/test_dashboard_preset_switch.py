"""The Preset-trade switch on a Dashboard connection card (real services, the Replay connection): switching it on
opens the typed-name confirmation; only the exact name stores Preset trade on (what the Preset engine reads before
it sends a live entry); switching it off needs no confirmation. The application layer refuses a wrong name too."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtWidgets import QDialog, QLabel

from cts_desktop.app import GuiApp, create_qapp
from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID, ConnectionRuleError
from cts_desktop.services import Services
from cts_desktop.ui.tabs.dashboard_connections import ConnectionsPanel, LiveTradeDialog
from tests.helpers.waiting import until
from tests.ui.conftest import save_screenshot

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


async def test_preset_trade_switch_needs_the_typed_name(services: Services) -> None:
    create_qapp()
    gui = GuiApp(services)
    services.start(asyncio.get_running_loop())
    dashboard = gui.app.dashboard
    trading = await gui.app.load_trading()
    with pytest.raises(ConnectionRuleError):
        await dashboard.switches.set_preset_trade(REPLAY_CONNECTION_ID, True, "replay")
    assert not trading.connections.get(REPLAY_CONNECTION_ID).is_preset_trade

    tasks: list[asyncio.Task[None]] = []
    panel = ConnectionsPanel(dashboard, lambda coro, what: tasks.append(asyncio.ensure_future(coro)))
    cards = {c.id: c for c in await dashboard.connection_cards()}
    panel.show_cards([cards[REPLAY_CONNECTION_ID]])
    panel.resize(900, 300)
    panel.show()
    widget = panel.cards[REPLAY_CONNECTION_ID]
    switch = widget.preset
    name = cards[REPLAY_CONNECTION_ID].name
    assert switch.isEnabled() and not switch.isChecked()

    switch.click()  # on: asks first, stays off meanwhile
    dialog = switch.dialog
    assert isinstance(dialog, LiveTradeDialog) and dialog.isVisible() and not switch.isChecked()
    assert any("Preset trading places real orders" in label.text() for label in dialog.findChildren(QLabel))
    dialog.edit.setText(name[:-1])
    assert not dialog.ok.isEnabled()
    dialog.reject()
    assert dialog.result() == QDialog.DialogCode.Rejected and not switch.isChecked()
    assert not trading.connections.get(REPLAY_CONNECTION_ID).is_preset_trade

    switch.click()
    dialog = switch.dialog
    assert isinstance(dialog, LiveTradeDialog)
    dialog.edit.setText(name)
    save_screenshot(dialog, "dashboard-preset-confirm")
    dialog.ok.click()
    await until(lambda: tasks and all(t.done() for t in tasks), 10, "the switch stored")
    assert switch.isChecked() and trading.connections.get(REPLAY_CONNECTION_ID).is_preset_trade
    assert widget.detail.text() == f"Preset trading ON for {name}."

    switch.click()  # off: no confirmation
    await until(lambda: all(t.done() for t in tasks) and not switch.isChecked(), 10, "the switch off")
    assert not trading.connections.get(REPLAY_CONNECTION_ID).is_preset_trade
    panel.close()
    await gui.shutdown()
