"""The trader's cockpit against a running engine on the simulator (Replay connection, real ccxt, real SQLite):
the Sets tab's rows equal the engine's books, a reason appears for a refused entry of each kind (Dashboard line,
Monitoring › Decisions), the protections trip at their thresholds and show it, screenshots of the Sets view."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QWidget
from sqlalchemy import func, select

from cts_desktop.app import GuiApp
from cts_desktop.domain.book_stats import window_stats
from cts_desktop.engine.connection_engine import ConnectionEngine
from cts_desktop.engine.order_types import EntrySignal
from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID
from cts_desktop.exchanges.models import OrderRequest, OrderSide, OrderType
from cts_desktop.services import AppOptions, Services
from cts_desktop.storage.models import BalanceSnapshot, Order, RealPosition
from cts_desktop.ui.table import fmt_price
from cts_desktop.ui.tabs.journal import JOURNAL_COLUMNS, JournalTab
from cts_desktop.ui.tabs.sets import SetsTab
from cts_desktop.ui.theme import apply_theme
from tests.helpers.waiting import until
from tests.integration.engine.conftest import db_sides, exchange_sides
from tests.ui.conftest import ARTIFACTS, open_window, save_screenshot
from tests.ui.test_dashboard import FAST

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])
BTC = "BTC/USDT:USDT"


@pytest.fixture
def cockpit_services(data_dir: Path) -> Iterator[Services]:
    svc = Services(AppOptions(data_dir=data_dir, console_log=False, log_level="info", replay_speed=60.0))
    svc.settings.set_many({**FAST, "strategy.real_cooldown_s": 0, "strategy.max_real_per_symbol_direction": 1,
                           "strategy.daily_loss_limit_pct": 5.0})
    try:
        yield svc
    finally:
        svc.close()


def seed_closed(services: Services, net: Decimal, reason: str, minutes_ago: float) -> None:
    closed = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    with services.db.session() as s:
        s.add(RealPosition(connection_id=REPLAY_CONNECTION_ID, symbol=BTC, side="long", paper=True,
                           quantity=Decimal("0.01"), entry_price=Decimal(60000), exit_price=Decimal(59900),
                           realized_pnl=net, fees=Decimal(0), status="closed", close_reason=reason,
                           opened_at=closed - timedelta(minutes=3), closed_at=closed))


async def signal_decided(engine: ConnectionEngine, direction: str, kind: str) -> str:
    """Send an entry signal the way the Preset engine does (the Main engine is off: its own signals would come in
    between) and wait for the decision of ``kind`` it gets."""
    before = engine.decisions.last_of_kind.get(kind)
    price = engine.pipelines[BTC].last_price
    assert price is not None
    sent = time.time()
    engine.send_signal(BTC, EntrySignal(BTC, direction, price, 0.3, 0.6, label="test signal"), -1, sent)

    def since_sent() -> str:  # at a timeout: what was decided instead (the newest decision of each kind since)
        newest = {d.kind: (d.direction, d.reason) for d in engine.decisions.recent if d.at >= sent}
        return f"a {kind} decision (decided since the signal: {newest or 'nothing'})"

    await until(lambda: engine.decisions.last_of_kind.get(kind) is not before, 60, since_sent)
    return engine.decisions.last_of_kind[kind].reason


async def test_sets_view_equals_the_books_and_every_refusal_has_its_reason(cockpit_services: Services) -> None:
    services = cockpit_services
    gui: GuiApp = open_window(services)
    window, dash = gui.window, gui.window.dashboard
    trading = await gui.app.load_trading()
    coordinator = trading.coordinator
    config = trading.connections.get(REPLAY_CONNECTION_ID)
    trading.connections.update(replace(config, position_mode="hedge"))  # a long and a short side by side
    await coordinator.start()
    await coordinator.wait_started(90)
    engine = coordinator.engines[REPLAY_CONNECTION_ID]
    assert engine.orders is not None and engine.paper
    await until(lambda: sum(len(p.book) for p in engine.pipelines.values()) > 0 and engine.status().pseudo_open > 0,
                60, "sets in the books")

    # --- the Sets tab equals the engine's books (read with no price moving them) ------------------------------
    window.tabs.setCurrentWidget(window.sets)
    tab = window.sets.ensure()
    assert isinstance(tab, SetsTab)
    await until(lambda: any(int(p.book.total.max(initial=0)) > 0 for p in engine.pipelines.values()), 60,
                "a set with closed pseudo results")
    async with engine.prices_held():
        await tab.refresh(force=True)
        books = {symbol: p for symbol, p in engine.pipelines.items()}
        total = sum(len(p.book) for p in books.values())
        assert tab.table.row_count() == total == len(tab.model.rows) and total > 0
        assert tab.count.text() == f"{total:,} sets"
        statuses = ("evaluating", "active", "paused", "failed")
        for row in tab.model.rows:
            book = books[row.symbol].book
            assert (row.status, row.trades, row.open_now) == (
                statuses[int(book.status[row.row])], int(book.total[row.row]), int(book.open_count()[row.row]))
        changed = [r for r in tab.model.rows if r.status != "evaluating"]  # every other status is a change
        # since when: the price time the engine noted for the change; a change made inside the compiled warm-up
        # (engine/batch_warmup.py) has no time noted and shows empty
        assert changed and all(r.status_since_s == noted_since(books[r.symbol].status_since, r.row) for r in changed)
        stats = {symbol: window_stats(p.book, 20) for symbol, p in books.items()}  # the book's own figures
        for row in tab.model.rows:
            figures = stats[row.symbol]
            assert row.window_trades == int(figures.n[row.row])
            assert row.avg_pf == pytest.approx(float(figures.avg_pf[row.row]), rel=1e-9, nan_ok=True)
            assert row.win_rate == pytest.approx(float(figures.win_rate[row.row]), nan_ok=True)
        layers = {symbol: p.layer_of(np.arange(len(p.book), dtype=np.int64)) for symbol, p in books.items()}
        main = sum(layer in ("main", "real") for ls in layers.values() for layer in ls)
        real = sum(layer == "real" for ls in layers.values() for layer in ls)
        funnel = tab.last_funnel
        assert funnel is not None and (funnel.base, funnel.main, funnel.real) == (total, main, real)
        # sorted by trades, the first row is the set with the most closed results; its history is plotted
        tab.table.sortByColumn([c.header for c in tab.model.columns].index("Trades"),
                               tab.table.horizontalHeader().sortIndicatorOrder().DescendingOrder)
        top = tab.model.rows[0]
        assert top.trades == max(int(p.book.total.max(initial=0)) for p in books.values())
        tab.table.selectRow(0)
        await tab.show_selected()
        assert tab.history_key == top.key
        curve = tab.history_plot.items[0].getData()
        assert len(curve[1]) == int(books[top.symbol].book.count[top.row]) > 0
        # a filter narrows the rows to what it names
        tab.status.setCurrentText("failed" if any(r.status == "failed" for r in tab.model.rows) else "evaluating")
        await tab.refresh(force=True)
        assert {r.status for r in tab.model.rows} == {tab.status.currentText()}
        tab.status.setCurrentText("(any)")
        await tab.refresh(force=True)
        tab.table.selectRow(0)
        await tab.show_selected()
        for theme in ("dark", "light"):
            apply_theme(QApplication.instance(), theme)  # type: ignore[arg-type]
            save_screenshot(window, f"sets-{theme}")

    # --- why (no) trade: a reason for each kind ---------------------------------------------------------------
    await until(lambda: "no_real_set" in engine.decisions.last_of_kind, 60, "an indication no Real set took")
    assert "Real" in engine.decisions.last_of_kind["no_real_set"].reason or \
        "Main" in engine.decisions.last_of_kind["no_real_set"].reason
    services.settings.set_many({"system.main_engine_enabled": False})  # from here only the test's signals
    cycles = engine.meters["orders"].cycles  # two order-loop cycles later no signal of the engine's own is left
    await until(lambda: engine.meters["orders"].cycles >= cycles + 2 and engine.order_loop.idle(), 10,
                "the order loop past the engine's own signals")
    if engine.orders.kill_switch_active or engine.paper_broker.positions_:  # type: ignore[union-attr]
        async with engine.prices_held():  # the engine entered before: flat first, so the test's limits hold
            await engine.orders.close_all("test")  # type: ignore[union-attr]

        def live_rows() -> int:
            with services.db.session() as s:
                return int(s.execute(select(func.count()).where(
                    RealPosition.status.in_(("opening", "open", "closing")))).scalar_one())

        await until(lambda: live_rows() == 0, 30, "the closed positions recorded (else the next entry hits the limit)")
    assert "test signal" in await signal_decided(engine, "long", "taken")
    assert "already 1 open long" in await signal_decided(engine, "long", "max_open")
    services.settings.set_many({"strategy.max_real_per_symbol_direction": 5, "strategy.real_cooldown_s": 3600})
    assert (await signal_decided(engine, "long", "cooldown")).startswith("cooldown until ")
    services.settings.set_many({"strategy.real_cooldown_s": 0})
    # stop-loss streak: the last 2 closes on BTC were stops; the guard off lets the entry through, 2 in a row pause
    # it. A close that was no stop ends a streak: the stops close after every other one — after a take profit here,
    # and after the engine's own entry if the test closed one above (that one closed seconds ago)
    seed_closed(services, Decimal(1), "take_profit", 0)
    for _ in range(2):
        seed_closed(services, Decimal(-1), "stop_loss", 0)
    services.settings.set_many({"strategy.sl_streak_count": 2, "strategy.sl_streak_pause_min": 30})
    reason = await signal_decided(engine, "short", "sl_streak")
    with services.db.session() as s:
        last_stop = s.execute(select(func.max(RealPosition.closed_at))).scalar_one()
    paused_until = (last_stop.replace(tzinfo=UTC) + timedelta(minutes=30)).astimezone().strftime("%H:%M")
    assert reason == f"stop-loss streak: 2 stops in a row on BTC/USDT:USDT, paused until {paused_until}"
    services.settings.set_many({"strategy.sl_streak_count": 0})
    assert "test signal" in await signal_decided(engine, "short", "taken")
    # drawdown guard: the paper long and short offset each other; the short closed by hand, the long alone falls
    short = [p for p in engine.paper_broker.positions_.values() if p.side.value == "short"]  # type: ignore[union-attr]
    assert short
    with services.db.session() as s:
        short_id = s.query(RealPosition.id).filter(RealPosition.side == "short",
                                                   RealPosition.status == "open").scalar()
    message = await dash.manual_action("close", REPLAY_CONNECTION_ID, short_id)
    assert message == f"Position #{short_id}: close order filled", message
    services.settings.set_many({"strategy.max_drawdown_pct": 0.5})
    async with engine.prices_held():
        price = engine.pipelines[BTC].last_price
        assert price is not None and engine.paper_broker is not None
        engine.paper_broker.on_price(BTC, price * 0.85)  # the long loses 15 %, its stop (30 % away) holds
        await engine.orders.sync(engine.symbols)
        assert engine.orders.guards.drawdown_active
        reason = await signal_decided(engine, "long", "drawdown")
        assert "below its peak" in reason and "0.5 %" in reason
        engine._publish()
        dash.bridge.flush()
        assert "Drawdown guard: TRIPPED" in dash.cockpit.protections.text()
    services.settings.set_many({"strategy.max_drawdown_pct": 0})
    # kill switch: a 6 % loss of the paper balance closed within 24 h
    balance = Decimal(repr((await engine.paper_broker.balance()).total))
    seed_closed(services, -balance * Decimal("0.06"), "closed", 5)
    reason = await signal_decided(engine, "long", "kill_switch")
    assert reason.startswith("kill switch: daily loss 6") and reason.endswith("> 5 % of the balance")
    await until(lambda: "Daily loss kill switch: TRIPPED" in dash.cockpit.protections.text(), 10, "shown tripped")
    assert dash.cockpit.protections.objectName() == "warningBanner"
    assert "limit 5 %" in dash.cockpit.protections.text()
    # paused: the order loop drops the signal and says so
    services.settings.set_many({"system.main_engine_enabled": True})
    coordinator.pause()
    assert "paused" in await signal_decided(engine, "long", "paused")
    # the Main engine is on again: its own signals (either side, as the market goes) are refused the same way
    await until(lambda: re.search(r"no trade BTC (long|short) — the engine is paused", dash.cockpit.decisions.text()),
                10, "the Dashboard's why line")

    # Monitoring › Decisions shows every kind with its reason
    monitoring = window.monitoring
    window.tabs.setCurrentWidget(monitoring)
    assert monitoring.decisions is not None
    monitoring.pages.setCurrentWidget(monitoring.decisions)
    await monitoring.refresh_page()
    kinds = set(monitoring.decisions.table.column_texts(4))
    assert kinds >= {"no_real_set", "taken", "max_open", "cooldown", "sl_streak", "drawdown", "kill_switch",
                     "paused"}, kinds
    for theme in ("dark", "light"):
        apply_theme(QApplication.instance(), theme)  # type: ignore[arg-type]
        save_screenshot(window, f"decisions-{theme}")
    card = dash.connections.cards[REPLAY_CONNECTION_ID]
    await dash.refresh_connections()
    assert card.toolTip() == f"Why (no) trade: {engine.decisions.last.reason}"  # type: ignore[union-attr]
    monitoring.decisions.kind.setCurrentText("kill_switch")
    assert set(monitoring.decisions.table.column_texts(4)) == {"kill_switch"}
    assert monitoring.decisions.table.text(0, 5) == engine.decisions.last_of_kind["kill_switch"].reason
    await coordinator.stop()
    await asyncio.sleep(0)
    await gui.shutdown()


def seed_history(services: Services) -> None:
    """A week of closed paper and live trades and of paper balance snapshots, for the journal's bars and the
    equity curve."""
    now = datetime.now(UTC)
    with services.db.session() as s:
        for day in range(7, 0, -1):
            for k, net in enumerate((Decimal("14.2") - day * 3, Decimal(-4) + day)):
                closed = now - timedelta(days=day, hours=k * 3)
                s.add(RealPosition(connection_id=REPLAY_CONNECTION_ID, symbol=BTC, side=("long", "short")[k],
                                   paper=day % 3 != 0, quantity=Decimal("0.01"), entry_price=Decimal(60000),
                                   exit_price=Decimal(60100), realized_pnl=net + Decimal("0.5"), fees=Decimal("0.5"),
                                   funding=Decimal(0), status="closed", close_reason=("take_profit", "stop_loss")[k],
                                   opened_at=closed - timedelta(minutes=40), closed_at=closed))
            for hour in range(0, 24, 2):
                ts = now - timedelta(days=day) + timedelta(hours=hour)
                total = Decimal(10_000) + Decimal(7 - day) * 11 + hour
                s.add(BalanceSnapshot(connection_id=REPLAY_CONNECTION_ID, total=total, free=total, used=Decimal(0),
                                      paper=True, equity=total + (hour % 5) - 2, ts=ts))


def with_menu(window: QWidget, menu: QMenu) -> QPixmap:
    """The window with its open context menu drawn where it pops up (a menu is a window of its own)."""
    QApplication.sendPostedEvents()
    picture = window.grab()
    painter = QPainter(picture)
    painter.drawPixmap(window.mapFromGlobal(menu.pos()), menu.grab())
    painter.end()
    return picture


async def test_close_from_the_positions_menu_then_journal_and_equity(cockpit_services: Services) -> None:
    services = cockpit_services
    gui: GuiApp = open_window(services)
    window, dash = gui.window, gui.window.dashboard
    trading = await gui.app.load_trading()  # creates the Replay connection
    seed_history(services)
    coordinator = trading.coordinator
    config = trading.connections.get(REPLAY_CONNECTION_ID)
    trading.connections.update(replace(config, position_mode="hedge"))
    await gui.app.dashboard.switches.set_live_trade(REPLAY_CONNECTION_ID, True, config.name)
    services.settings.set_many({"system.main_engine_enabled": False})  # the engine takes no entry of its own
    await trading.replay.start()
    outsider = trading.replay.adapter()  # another app on the same account leaves an order far from the market
    await outsider.set_position_mode(True)
    assert trading.replay.server is not None
    theirs = await outsider.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.LIMIT, 0.01, "someone-else",
                                                     price=round(trading.replay.server.market.price("BTC") * 0.5, 1),
                                                     hedged=True))
    await outsider.close()
    await coordinator.start()
    await coordinator.wait_started(90)
    engine = coordinator.engines[REPLAY_CONNECTION_ID]
    server = trading.replay.server
    assert engine.orders is not None and not engine.paper and server is not None
    server.market.clock.set_speed(0)  # the market stands still: nothing closes on the exchange by itself
    opened = await engine.orders.open_position(EntrySignal(BTC, "long", server.market.price("BTC"), 0.3, 0.6,
                                                           label="test"))
    assert opened.accepted and opened.real_position_id is not None, opened
    await engine.orders.sync(engine.symbols)

    # the open position with the exchange's mark and liquidation price, its unrealised PnL and time open
    await dash.refresh()
    view = dash.tables.views["positions"]
    row = next(r for r in dash.tables.models["positions"].rows if r.id == opened.real_position_id)
    account = list(server.market.keyring.keys.values())[-1].account
    sim_position = next(p for p in account.positions.values() if p.size > 0)
    liquidation = sim_position.liquidation_price(account.leverage_of("BTC")) or None  # none in reach: not shown
    assert row.liquidation_price == (pytest.approx(liquidation, rel=1e-6) if liquidation else None)
    mark = server.market.price("BTC")
    assert row.mark_price == pytest.approx(mark, rel=1e-6)
    assert row.unrealized_pnl == pytest.approx((mark - (row.entry_price or 0)) * row.quantity, abs=0.01)
    headers = [c.header for c in dash.tables.models["positions"].columns]
    index = dash.tables.models["positions"].rows.index(row)
    assert view.text(index, headers.index("Liq. price")) == fmt_price(row.liquidation_price)
    assert view.text(index, headers.index("Mark")) == fmt_price(row.mark_price)
    assert view.text(index, headers.index("Open for")).endswith("s")

    # the context menu closes it (live: asked first); one reduce-only order reaches the exchange
    before = {o.order_id for o in account.orders.values()}
    menu = view._menu(view.visualRect(view.model().index(index, 0)).center())
    texts = [a.text() for a in menu.actions()]
    close_text = f"Close position #{row.id} long {BTC} (LIVE)"
    assert texts[:2] == [close_text, f"Close all of {BTC} (LIVE)"], texts
    for theme in ("dark", "light"):
        apply_theme(QApplication.instance(), theme)  # type: ignore[arg-type]
        assert with_menu(window, menu).save(str(ARTIFACTS / f"position-menu-{theme}.png"))
    next(a for a in menu.actions() if a.text() == close_text).trigger()
    menu.close()
    confirm = dash.tables.confirm
    assert confirm is not None and confirm.isVisible() and f"#{row.id}" in confirm.text()
    assert {o.order_id for o in account.orders.values()} == before  # nothing sent before the answer
    confirm.accept()
    await until(lambda: dash.manual_message.startswith(f"Position #{row.id}"), 20, "the manual close")
    assert dash.manual_message == f"Position #{row.id}: close order filled"
    sent = [o for o in account.orders.values() if o.order_id not in before]
    assert len(sent) == 1 and sent[0].side == "Sell" and sent[0].position_idx == 1, sent
    await engine.orders.sync(engine.symbols)
    assert db_sides(services.db, REPLAY_CONNECTION_ID) == exchange_sides(server) == {}
    with services.db.session() as s:
        closed = s.get(RealPosition, row.id)
        assert closed is not None and closed.status == "closed" and closed.close_reason == "manual"
        closed_net = closed.realized_pnl - closed.fees + closed.funding

    # the Daily P&L card: live money apart from paper (the close by hand is the only live close of the 24 h)
    await dash.refresh()
    with services.db.session() as s:
        day = datetime.now(UTC) - timedelta(hours=24)
        recent = s.execute(select(RealPosition).where(RealPosition.status == "closed",
                                                      RealPosition.closed_at >= day)).scalars().all()
        paper_net = sum((p.realized_pnl - p.fees + p.funding for p in recent if p.paper), Decimal(0))
        paper_count = sum(1 for p in recent if p.paper)
    assert [p.id for p in recent if not p.paper] == [row.id]
    assert dash.cards["pnl"].value.text() == f"{float(closed_net):+,.2f}"
    assert dash.cards["pnl"].detail.text() == f"live · 1 closed · paper {float(paper_net):+,.2f}" + (
        f" ({paper_count})" if paper_count else "")

    # the outsider's order (recorded as external at the start) cancelled from the orders menu, asked first
    await dash.refresh_tables()
    orders = dash.tables.views["orders"]
    external = next(r for r in dash.tables.models["orders"].rows if r.status == "open")
    at = dash.tables.models["orders"].rows.index(external)
    menu = orders._menu(orders.visualRect(orders.model().index(at, 0)).center())
    cancel = menu.actions()[0]
    assert cancel.text() == f"Cancel order #{external.id} buy {BTC}" and cancel.isEnabled()
    cancel.trigger()
    menu.close()
    assert dash.tables.confirm is not None and f"#{external.id}" in dash.tables.confirm.text()
    dash.tables.confirm.accept()
    await until(lambda: dash.manual_message == f"Order #{external.id} cancelled", 20, "the cancel")
    on_exchange = next(o for o in account.orders.values() if o.order_id == theirs.id)
    assert on_exchange.status.value.lower() in ("cancelled", "canceled")
    with services.db.session() as s:
        assert s.get(Order, external.id).status == "canceled"  # type: ignore[union-attr]

    # the journal equals the DB's closed positions
    window.tabs.setCurrentWidget(window.journal)
    journal = window.journal.ensure()
    assert isinstance(journal, JournalTab)
    await journal.refresh()
    with services.db.session() as s:
        truth = [(p.id, p.realized_pnl - p.fees + p.funding, p.paper) for p in s.execute(
            select(RealPosition).where(RealPosition.status == "closed")
            .order_by(RealPosition.closed_at.desc(), RealPosition.id.desc())).scalars()]
    assert [(r.id, r.net, r.paper) for r in journal.model.rows] == truth
    headers = [c.header for c in JOURNAL_COLUMNS]
    assert journal.table.column_texts(headers.index("Net")) == [f"{float(n):,.2f}" for _, n, _ in truth]
    assert journal.table.text(0, headers.index("Reason")) == "manual"  # the newest: the close by hand
    assert journal.table.text(0, headers.index("Net")) == f"{float(closed_net):,.2f}"
    live = sum((n for _, n, p in truth if not p), Decimal(0))
    assert f"live: {sum(1 for t in truth if not t[2])} closed, net {float(live):+,.2f} USDT" in journal.summary.text()
    assert sum(b.net for b in journal.bars if b.kind == "live") == live
    assert {b.kind for b in journal.bars} == {"paper", "live"}
    journal.kind.setCurrentText("live")
    await journal.refresh()
    assert [r.id for r in journal.model.rows] == [t[0] for t in truth if not t[2]]
    journal.kind.setCurrentText("(any)")
    await journal.refresh()
    path = ARTIFACTS.parent / "journal.csv"
    assert journal.table.export_csv(str(path)) == len(truth)
    for theme in ("dark", "light"):
        apply_theme(QApplication.instance(), theme)  # type: ignore[arg-type]
        save_screenshot(window, f"journal-{theme}")

    # the equity curve from the balance snapshots: the seeded paper week and the live engine's syncs apart
    journal.pages.setCurrentIndex(1)
    await journal.refresh_equity()
    with services.db.session() as s:
        counts = dict(s.execute(select(BalanceSnapshot.paper, func.count()).group_by(BalanceSnapshot.paper)).all())
    curves = {c.kind: len(c.points) for c in journal.curves}
    assert curves == {"paper": counts[True], "live": counts[False]}, (curves, counts)
    assert len(journal.equity_plot.items) == 2
    for theme in ("dark", "light"):
        apply_theme(QApplication.instance(), theme)  # type: ignore[arg-type]
        save_screenshot(window, f"equity-{theme}")
    await coordinator.stop()
    await gui.shutdown()


def noted_since(noted: object, row: int) -> float | None:
    """The time the pipeline noted for a set's last status change (None: none noted)."""
    import math

    values = list(noted)  # type: ignore[call-overload]
    at = float(values[row]) if row < len(values) else math.nan
    return at if math.isfinite(at) else None
