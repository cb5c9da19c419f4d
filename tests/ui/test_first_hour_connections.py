"""A newcomer's first moments on the Connections tab (issue 19): Test connection without keys says why (on screen,
in the log pane and in the app log) and the reload does not overwrite it; the Replay test works where no keyring
exists; simulator connections never talk of real money and messages do not follow to another connection; the first
visit highlights no row and offers no Delete; keys saved to the encrypted file are said to be there, and the key
fields are usable right after the file is created."""

from __future__ import annotations

import asyncio
import logging

import pytest
from keyring.backends import fail

from cts_desktop.app import GuiApp, create_qapp
from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID
from cts_desktop.services import Services
from cts_desktop.storage.secrets import SecretStore
from cts_desktop.ui import tasks
from cts_desktop.ui.tabs.connections import ConnectionsTab
from tests.helpers.waiting import until

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


def make_gui(services: Services) -> GuiApp:
    create_qapp()
    gui = GuiApp(services)
    services.start(asyncio.get_running_loop())
    return gui


def by_name(tab: ConnectionsTab, name: str) -> str:
    return next(i.id for i in tab.items.values() if i.config.name == name)


async def choose(tab: ConnectionsTab, name: str) -> str:
    connection_id = by_name(tab, name)
    tab.table.selectRow(tab.row_of(connection_id))
    await until(lambda: tab.detail is not None and tab.detail.config.id == connection_id, 30,
                f"{name} shown ({tab.selected_id}, {tab.title.text()}, {len(tab.table.selected_rows())})")
    return connection_id


async def test_test_without_keys_says_why_and_the_reload_keeps_it(services: Services,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    gui = make_gui(services)
    tab = gui.window.connections
    await gui.app.load_trading()
    await tab.refresh()
    # first visit: nothing highlighted while the panel asks for a choice, and nothing to delete
    assert tab.title.text() == "Select a connection"
    assert tab.table.selected_rows() == [] and not tab.delete_button.isEnabled()

    await choose(tab, "Bybit X03")
    assert tab.delete_button.isEnabled()
    caplog.set_level(logging.INFO)
    tab.test.button.click()
    await until(lambda: not tab.test.running and "API key" in tab.test.message.text(), 10, "refusal shown")
    await tasks.wait_all()  # whatever the test's end started (a reload) has run
    assert "Enter the API key and secret before testing" in tab.test.message.text()
    assert not tab.test.log.isHidden() and "Enter the API key" in tab.test.log.toPlainText()
    assert any("refused" in r.getMessage() and "Bybit X03" in r.getMessage() for r in caplog.records)
    await gui.shutdown()


async def test_replay_test_passes_without_a_keyring(services: Services) -> None:
    services.secrets = SecretStore(backend=fail.Keyring(), on_secret=services.redactor.add)
    gui = make_gui(services)
    tab = gui.window.connections
    await gui.app.load_trading()
    await tab.refresh()
    await choose(tab, "Replay (offline)")
    result = await tab.test.run_test()
    assert result is not None and result.passed, tab.test.message.text()
    await gui.shutdown()


async def test_simulator_never_talks_of_real_money_and_messages_stay_with_their_connection(
        services: Services) -> None:
    gui = make_gui(services)
    tab = gui.window.connections
    await gui.app.load_trading()
    await tab.refresh()
    await choose(tab, "Replay (offline)")
    assert "with real money" not in tab.live.toolTip() and "no real money" in tab.live.toolTip()
    tab.live.click()
    dialog = tab.live_dialog
    assert dialog is not None
    texts = " ".join(w.text() for w in dialog.findChildren(type(tab.title)))
    assert "with real money" not in texts and "simulator" in texts
    dialog.edit.setText("Replay (offline)")
    dialog.ok.click()
    await until(lambda: "Live trading is ON" in tab.notice.text(), 5, "live on message")
    assert "with real money" not in tab.notice.text() and "simulator" in tab.notice.text()

    await choose(tab, "Bybit X03")
    assert tab.notice.text() == ""  # the Replay message does not stay under another connection
    assert "with real money" in tab.live.toolTip()
    await gui.shutdown()
    assert tab.items[REPLAY_CONNECTION_ID].config.is_live_trade


async def test_keys_saved_to_the_encrypted_file_are_said_to_be_there(services: Services) -> None:
    services.secrets = SecretStore(backend=fail.Keyring(), on_secret=services.redactor.add)
    gui = make_gui(services)
    tab = gui.window.connections
    await gui.app.load_trading()
    await tab.refresh()
    await choose(tab, "Bybit X03")
    assert not tab.keys.key.isEnabled()  # no store can keep keys yet
    dialog = gui.security.open_create_dialog()
    dialog.first.setText("correct horse battery")
    dialog.second.setText("correct horse battery")
    dialog.submit()
    await until(lambda: tab.keys.key.isEnabled() and tab.keys.save.isEnabled(), 5, "key fields enabled")
    tab.keys.key.setText("some-api-key-123456")
    tab.keys.secret.setText("some-api-secret-abcdef")
    tab.keys.save.click()
    await until(lambda: "Keys saved" in tab.notice.text(), 5, "keys saved message")
    assert "encrypted secrets file" in tab.notice.text() and "keyring" not in tab.notice.text()
    await gui.shutdown()


async def test_strategies_default_to_a_connection_that_can_work(services: Services) -> None:
    gui = make_gui(services)
    await gui.app.load_trading()  # Bybit X03, BingX X01 (no keys, disabled) and the Replay connection
    from cts_desktop.ui.tabs.strategies import StrategiesTab

    tab = StrategiesTab(gui.app.strategies)
    await tab.refresh()
    assert tab.form.connection.currentData() == REPLAY_CONNECTION_ID
    assert tab.apply_connection.currentData() == REPLAY_CONNECTION_ID
    await gui.shutdown()
