"""The Connections tab on real services (SQLite, the in-memory test keyring, real ccxt) against the exchange
simulator started in-process: keys go to the keyring and never to the DB, the test shows the simulator's BTC
price and balance (and the plain message for a bad key), live trading needs the typed name, delete asks and is
refused while a live position is open; a 1366×768 screenshot in the light theme."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import keyring
import pytest
import pytest_asyncio
from PySide6.QtWidgets import QApplication, QMessageBox

from cts_desktop.app import GuiApp, create_qapp
from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID, ConnectionRuleError
from cts_desktop.exchanges.simulator import SimulatorConfig, SimulatorServer
from cts_desktop.services import Services
from cts_desktop.storage.models import RealPosition
from cts_desktop.storage.secrets import SERVICE_NAME, SecretRef, masked
from cts_desktop.ui import tasks
from cts_desktop.ui.tabs.connections import ConnectionsTab
from cts_desktop.ui.theme import apply_theme
from tests.helpers.waiting import until
from tests.ui.conftest import save_screenshot

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    """A frozen simulator (speed 0): its BTC price does not move while a test reads it."""
    server = SimulatorServer(SimulatorConfig(speed=0))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def make_gui(services: Services) -> GuiApp:
    create_qapp()
    gui = GuiApp(services)
    services.start(asyncio.get_running_loop())
    return gui


def stored(connection_id: str, field: str) -> str | None:
    """Straight from the (in-memory) keyring backend, not through the app."""
    return keyring.get_password(SERVICE_NAME, SecretRef.connection(connection_id, field).key)


def database_bytes(services: Services) -> bytes:
    assert services.writer.flush(10)
    services.db.dispose()  # checkpoint: every committed page is in the main file (plus any WAL left behind)
    folder = Path(services.paths.sqlite_file).parent
    return b"".join(p.read_bytes() for p in folder.glob(Path(services.paths.sqlite_file).name + "*"))


def by_name(tab: ConnectionsTab, name: str) -> str:
    return next(i.id for i in tab.items.values() if i.config.name == name)


async def test_keys_go_to_the_keyring_and_nothing_secret_to_the_db(services: Services) -> None:
    gui = make_gui(services)
    tab = gui.window.connections
    await tab.refresh()
    assert tab.table.row_count() == 0 and not tab.empty.isHidden()

    # predefined Bybit X03 (first use builds the trading services: both predefined rows and Replay appear)
    config = await tab.add("predefined", "bybit")
    assert config.name == "Bybit X03" and not config.is_enabled
    assert set(tab.table.column_texts(0)) == {
        "Bybit X03", "BingX X01", "Replay (offline)"}
    assert tab.selected_id == config.id and tab.detail is not None
    assert tab.table.text(tab.row_of(config.id), 3) == "No keys"
    assert not tab.keys.form.isRowVisible(tab.keys.password)  # Bybit keys have no passphrase

    key, secret = "BK" + secrets.token_hex(12), secrets.token_hex(20)
    tab.keys.key.setText(key)
    tab.keys.secret.setText(secret)
    tab.keys.save.click()
    assert tab.keys.key.text() == "" and tab.keys.secret.text() == ""  # cleared at once
    await until(lambda: stored(config.id, "secret") == secret, 5, "secret in the keyring")
    assert stored(config.id, "api_key") == key
    await until(lambda: tab.keys.key.placeholderText().startswith("stored: "), 5, "masked key shown")
    assert masked(key) in tab.keys.key.placeholderText()
    assert tab.table.text(tab.row_of(config.id), 3) == "Not tested"

    # any ccxt exchange: searchable list computed off the GUI thread; OKX needs a passphrase
    tab.open_picker()
    picker = tab.picker
    assert picker is not None
    await until(lambda: picker.list.count() > 20, 20, "ccxt exchange list")
    started = time.perf_counter()
    again = await gui.app.connections.exchanges()  # cached: no second pass over ccxt
    assert time.perf_counter() - started < 0.1 and len(again) == picker.list.count()
    assert all(c.id in picker.choices for c in again) and {"bybit", "bingx", "okx"} <= set(picker.choices)
    picker.search.setText("okx")
    assert set(picker.visible_ids()) >= {"okx", "myokx"} and "bybit" not in picker.visible_ids()
    save_screenshot(picker, "connections-add-exchange")
    picker.search.setText("hyperliquid")  # wallet keys: listed, not selectable
    item = picker.list.item(next(r for r in range(picker.list.count()) if not picker.list.item(r).isHidden()))
    assert "not supported" in item.text() and not item.flags() & item.flags().ItemIsEnabled
    picker.search.setText("okx")
    picker.select("okx")
    assert "passphrase" in picker.info.text()
    picker.name.setText("Bybit X03")
    assert not picker.ok.isEnabled() and "already exists" in picker.error.text()
    picker.name.setText("My OKX")
    picker.ok.click()
    await until(lambda: any(i.config.name == "My OKX" for i in tab.items.values()), 10, "OKX added")
    okx = by_name(tab, "My OKX")
    await until(lambda: tab.detail is not None and tab.detail.config.id == okx, 5, "OKX selected")
    assert tab.keys.form.isRowVisible(tab.keys.password)
    okx_key, okx_secret, phrase = secrets.token_hex(16), secrets.token_hex(24), "pp-" + secrets.token_hex(8)
    await tab.save_keys(okx_key, okx_secret, "")  # without the passphrase: refused, nothing stored
    assert "passphrase" in tab.notice.text() and stored(okx, "api_key") is None
    await tab.save_keys(okx_key, okx_secret, phrase)
    assert (stored(okx, "api_key"), stored(okx, "secret"), stored(okx, "password")) == (okx_key, okx_secret, phrase)
    assert "stored" in tab.keys.password.placeholderText()

    # nothing secret in any widget text, the DB file or the log file
    texts = [w.text() for w in tab.findChildren(type(tab.keys.key))] + [tab.keys.stored.text(), tab.notice.text()]
    for value in (key, secret, okx_key, okx_secret, phrase):
        assert not any(value in t for t in texts)
    await gui.shutdown()
    raw = database_bytes(services)
    assert b"Bybit X03" in raw and b"My OKX" in raw  # the scan does see the rows
    log_text = Path(services.paths.log_file).read_bytes()
    for value in (key, secret, okx_key, okx_secret, phrase):
        assert value.encode() not in raw, "a secret reached the database file"
        assert value.encode() not in log_text, "a secret reached the log file"


async def test_connection_test_shows_price_balance_and_bad_key_message(services: Services,
                                                                       sim: SimulatorServer) -> None:
    gui = make_gui(services)
    window, tab = gui.window, gui.window.connections
    window.resize(1366, 768)
    window.tabs.setCurrentWidget(tab)
    gui.show()
    account = sim.market.create_account(12_345.67, exchange="bybit")
    config = await tab.add("predefined", "bybit")
    await tab.save_keys(account.key, account.secret, "")
    tab.test.api_url = sim.base_url  # the adapter talks to the simulator instead of Bybit

    lines: list[str] = []
    tab.test.log.textChanged.connect(lambda: lines.append(tab.test.log.toPlainText()))
    finished = asyncio.Event()
    after_test = tab.test.on_finished
    tab.test.on_finished = lambda result: (after_test(result), finished.set())
    assert tab.test.connection_id == config.id
    tab.test.button.click()
    await asyncio.wait_for(finished.wait(), 30)
    trading = await gui.app.load_trading()
    assert trading.connections.get(config.id).is_enabled, tab.test.message.text()
    assert tab.test.price.text() == f"{sim.market.price('BTC'):,.2f}"
    assert tab.test.balance.text() == "12,345.67"
    assert "Connection successful" in tab.test.message.text()
    assert not tab.test.log.isHidden()
    log = tab.test.log.toPlainText()
    assert "signed balance: ok" in log and "GET /v5/market/time" in log
    assert any("server time: asking" in t and "signed balance: ok" not in t for t in lines)  # it grew live
    assert account.key not in log and account.secret not in log
    await until(lambda: tab.table.text(tab.row_of(config.id), 3) == "Enabled", 5, "enabled badge")
    await tab.reload()  # the stored truth re-read: this session's result (price, trace) stays on screen
    assert tab.test.price.text() == f"{sim.market.price('BTC'):,.2f}" and tab.test.balance.text() == "12,345.67"
    assert "Requests:" in tab.test.log.toPlainText() and "one-way" in tab.test.account.text()
    assert tab.enabled.isChecked() and tab.live.isEnabled()
    tab.test.show_log(False)
    assert tab.test.log.isHidden()
    tab.test.show_log(True)

    for theme in ("dark", "light"):
        apply_theme(QApplication.instance(), theme)  # type: ignore[arg-type]
        save_screenshot(window, f"connections-{theme}")

    # BingX X01 with a key the exchange does not know: the plain message, and it stays disabled
    bingx = by_name(tab, "BingX X01")
    tab.select(bingx)
    await tab.load_detail(bingx)
    await tab.save_keys("unknown" + secrets.token_hex(12), secrets.token_hex(20), "")
    result = await tab.test.run_test()
    assert result is not None and not result.passed
    assert "does not know this API key" in tab.test.message.text()
    assert tab.test.price.text() == f"{sim.market.price('BTC'):,.2f}"  # the public step passed before
    assert tab.test.balance.text() == "—"
    await until(lambda: tab.table.text(tab.row_of(bingx), 3) == "Test failed", 5, "failed badge")
    assert not trading.connections.get(bingx).is_enabled
    tab.enabled.click()  # enabling without a passed test is refused by the service
    await until(lambda: "successfully before enabling" in tab.notice.text(), 5, "enable refused")
    assert not trading.connections.get(bingx).is_enabled and not tab.enabled.isChecked()
    await gui.shutdown()


async def test_live_trade_needs_the_typed_name(services: Services) -> None:
    gui = make_gui(services)
    tab = gui.window.connections
    config = await tab.add("replay")  # enabled from the start: it moves no money
    assert config.id == REPLAY_CONNECTION_ID and tab.enabled.isChecked() and tab.live.isEnabled()
    trading = await gui.app.load_trading()

    tab.live.click()
    dialog = tab.live_dialog
    assert dialog is not None and dialog.isVisible() and not tab.live.isChecked()
    dialog.edit.setText("replay")
    assert not dialog.ok.isEnabled()
    dialog.ok.click()
    with pytest.raises(ConnectionRuleError, match="type the connection name"):
        await gui.app.connections.switches.set_live_trade(config.id, True, "replay")
    await tab.set_live(True, "Replay")  # the tab's own path refuses as well, and says why
    assert "type the connection name" in tab.notice.text()
    await tasks.wait_all()
    assert not trading.connections.get(config.id).is_live_trade and not tab.live.isChecked()
    dialog.reject()

    tab.live.click()
    dialog = tab.live_dialog
    assert dialog is not None
    dialog.edit.setText(config.name)
    assert dialog.ok.isEnabled()
    dialog.ok.click()
    await until(lambda: trading.connections.get(config.id).is_live_trade, 5, "live trade on")
    await until(lambda: tab.live.isChecked() and tab.table.text(tab.row_of(config.id), 3) == "LIVE", 5,
                "LIVE badge")
    tab.live.click()  # switching off needs no confirmation
    await until(lambda: not trading.connections.get(config.id).is_live_trade, 5, "live trade off")

    # Test on the Replay connection runs against the built-in simulator (its generated keys, its account)
    result = await tab.test.run_test()
    assert result is not None and result.passed, tab.test.message.text()
    assert tab.test.balance.text() == f"{trading.replay.options.balance:,.2f}"
    assert tab.test.price.text() == f"{trading.replay.server.market.price('BTC'):,.2f}" or \
        trading.replay.server.market.clock.speed > 0  # a moving replay may have ticked since
    assert "127.0.0.1" in tab.test.log.toPlainText()
    await gui.shutdown()


async def test_delete_asks_and_refuses_with_an_open_live_position(services: Services) -> None:
    gui = make_gui(services)
    tab = gui.window.connections
    config = await tab.add("predefined", "bingx")
    await tab.save_keys("k" + secrets.token_hex(12), secrets.token_hex(20), "")
    with services.db.session() as s:
        s.add(RealPosition(connection_id=config.id, symbol="BTC/USDT:USDT", side="long", paper=False,
                           quantity=Decimal("0.01"), entry_price=Decimal(60000), status="open"))
        s.add(RealPosition(connection_id=config.id, symbol="ETH/USDT:USDT", side="short", paper=True,
                           quantity=Decimal("0.1"), entry_price=Decimal(3000), status="open"))
    await tab.reload()
    assert tab.table.text(tab.row_of(config.id), 5) == "1"  # the paper one does not count

    tab.delete_button.click()
    await until(lambda: "open live position" in tab.notice.text(), 5, "refusal")
    assert tab.confirm is None  # refused before asking
    with pytest.raises(ConnectionRuleError, match="1 open live position"):
        await gui.app.connections.switches.delete(config.id)
    trading = await gui.app.load_trading()
    assert trading.connections.get(config.id).name == "BingX X01"

    with services.db.session() as s:  # the live position closed
        for row in s.query(RealPosition).filter_by(connection_id=config.id, paper=False):
            row.status = "closed"
    tab.delete_button.click()
    await until(lambda: tab.confirm is not None and tab.confirm.isVisible(), 5, "confirmation")
    box = tab.confirm
    assert box is not None and "BingX X01" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()  # cancel keeps it
    await tasks.wait_all()
    assert trading.connections.store.get(config.id) is not None
    tab.delete_button.click()
    await until(lambda: tab.confirm is not None and tab.confirm is not box and tab.confirm.isVisible(), 5, "ask")
    tab.delete_confirm.click()
    await until(lambda: trading.connections.store.get(config.id) is None, 5, "deleted")
    assert stored(config.id, "api_key") is None and stored(config.id, "secret") is None
    await until(lambda: tab.row_of(config.id) == -1, 5, "row gone")
    with pytest.raises(ConnectionRuleError, match="built in"):
        await gui.app.connections.switches.delete(REPLAY_CONNECTION_ID)
    await gui.shutdown()


async def test_every_option_round_trips_and_bad_values_are_refused(services: Services) -> None:
    from dataclasses import replace

    from sqlalchemy import select

    from cts_desktop.storage.models import Connection

    gui = make_gui(services)
    window, tab = gui.window, gui.window.connections
    window.resize(1366, 768)
    window.tabs.setCurrentWidget(tab)
    gui.show()
    config = await tab.add("predefined", "bingx")
    form = tab.options
    assert form.name.text() == "BingX X01" and form.rate_default.isChecked()
    assert not form.rate_second.isEnabled() and form.rate_second.value() == 5.0  # BingX default limiter, §8.4
    form.name.setText("BingX main")
    form.api_type.setCurrentIndex(form.api_type.findData("futures"))
    form.testnet.setChecked(True)
    form.margin.setCurrentIndex(form.margin.findData("isolated"))
    form.position.setCurrentIndex(form.position.findData("one-way"))
    form.live_vf.setValue(2.5)
    form.preset_vf.setValue(0.7)
    form.use_main.setChecked(True)
    for index, box in enumerate(form.pf.values()):
        box.setValue(0.5 + index / 10)
    form.pf["live_pf_min_real"].setValue(form.pf["live_pf_min_real"].minimum())  # back to "as in Settings"
    assert form.pf["live_pf_min_real"].text() == "as in Settings"
    form.drawdown.setValue(36)
    form.rate_default.setChecked(False)
    form.rate_second.setValue(3.5)
    form.rate_minute.setValue(90)
    form.rate_concurrent.setValue(2)
    form.pages.setCurrentIndex(3)
    save_screenshot(window, "connections-options")
    form.save.click()
    trading = await gui.app.load_trading()
    await until(lambda: trading.connections.get(config.id).name == "BingX main", 5, "options saved")
    saved = trading.connections.get(config.id)
    s = saved.settings
    assert (saved.is_testnet, saved.margin_mode, saved.position_mode) == (True, "isolated", "one-way")
    assert (s.live_volume_factor, s.preset_volume_factor, s.use_main_symbols) == (2.5, 0.7, True)
    assert [getattr(s, n) for n in form.pf] == [0.5, None]  # None: the Settings value applies
    assert s.max_drawdown_hours == 36.0
    assert (s.rate_limit.per_second, s.rate_limit.per_minute, s.rate_limit.concurrent) == (3.5, 90, 2)
    with services.db.session() as session:
        assert session.execute(select(Connection.api_type).where(Connection.id == config.id)).scalar_one() == \
            "futures"
    await until(lambda: tab.title.text() == "BingX main", 5, "editor re-read")
    assert form.api_type.currentData() == "futures" and form.live_vf.value() == 2.5

    # what the widgets cannot produce, the Connections part still refuses (with every reason), and nothing is written
    edit = form.edit()
    bad = replace(edit, name=" ", settings=replace(edit.settings, live_volume_factor=12.0, live_pf_min_main=2.5))
    with pytest.raises(ConnectionRuleError) as refused:
        await gui.app.connections.save(config.id, bad)
    text = str(refused.value)
    assert "name must not be empty" in text and "0.1–10" in text and "0.1–2.0" in text
    assert trading.connections.get(config.id).settings.live_volume_factor == 2.5
    with pytest.raises(ConnectionRuleError, match="already exists"):
        await gui.app.connections.save(config.id, replace(edit, name="Bybit X03"))
    form.name.setText("")
    form.save.click()  # refused in the form before it reaches the Connections part
    assert "must not be empty" in form.problems.text()
    await gui.shutdown()
