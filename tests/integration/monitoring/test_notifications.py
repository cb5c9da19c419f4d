"""Notifications through Apprise to a local HTTP receiver (Apprise's ``json://`` webhook, no internet): one reaches it
for each event kind — fill, position closed with its net PnL, engine error and restart, guard tripped, other alert,
daily summary — and the test message; each kind's switch, the paper switch and the rate limit change what arrives;
the URLs live in the secret store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from cts_desktop.application.notifications import NotificationsPart
from cts_desktop.events.status import ConnectionStatus, EngineState, HealthStatus, TradeEngineStatus
from cts_desktop.events.trading import AlertRaised, OrderChanged, PositionChanged, TradeEngineChanged
from cts_desktop.monitoring.notifier import URLS, next_summary_at
from cts_desktop.services import AppOptions, Services
from cts_desktop.storage.models import Connection, Order, RealPosition
from tests.helpers.waiting import until

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])


@dataclass
class Receiver:
    url: str
    got: list[dict[str, Any]] = field(default_factory=list)

    def titles(self) -> list[str]:
        return [str(m.get("title", "")) for m in self.got]

    def find(self, text: str) -> list[dict[str, Any]]:
        return [m for m in self.got if text in str(m.get("title", "")) + "\n" + str(m.get("message", ""))]


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver("")

    async def take(request: web.Request) -> web.Response:
        found.got.append(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", take)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    found.url = f"json://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield found
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    services = Services(AppOptions(data_dir=tmp_path, console_log=False))
    services.start(asyncio.get_running_loop())
    with services.db.session() as session:
        session.add(Connection(id="c1", name="Sim", exchange="bybit"))
    try:
        yield services
    finally:
        await services.stop_monitoring()
        services.close()


def _engine(state: EngineState, error: str | None = None) -> TradeEngineStatus:
    return TradeEngineStatus(
        connection_id="c1", connection_name="Sim", state=state, connection=ConnectionStatus.CONNECTED, paper=False,
        paused=False, started_at=None, loops=(), health=HealthStatus.HEALTHY, symbols=(), pseudo_open=0,
        real_open=0, sets_by_status={}, balance_usdt=None, progress=None, progress_text="", last_error=error)


def _add_rows(services: Services) -> None:
    now = datetime.now(UTC)
    with services.db.session() as session:
        session.add(Order(connection_id="c1", client_order_id="cts-live-1", symbol="BTC/USDT:USDT", side="buy",
                          order_type="market", quantity=Decimal("0.010"), filled=Decimal("0.010"),
                          average_price=Decimal("50123.5"), paper=False, status="filled"))
        session.add(Order(connection_id="c1", client_order_id="cts-paper-1", symbol="ETH/USDT:USDT", side="sell",
                          order_type="market", quantity=Decimal("1"), filled=Decimal("1"), paper=True,
                          status="filled"))
        session.add(RealPosition(id=7, connection_id="c1", symbol="BTC/USDT:USDT", side="long", paper=False,
                                 quantity=Decimal("0.010"), realized_pnl=Decimal("12.5"), fees=Decimal("0.25"),
                                 funding=Decimal("-0.05"), status="closed", close_reason="tp", closed_at=now))


async def test_each_event_kind_reaches_the_receiver(services: Services, receiver: Receiver) -> None:
    part = NotificationsPart(services)
    assert "No notification URL" in part.summary()
    assert await part.set_urls(receiver.url + "\n") == "1 URL(s) stored: json://…"
    assert services.secrets.get(URLS) == receiver.url  # in the secret store, nowhere else
    with pytest.raises(ValueError, match="not a notification URL"):
        await part.set_urls("nonsense://x")
    assert "Test notification sent to 1 URL(s)" in await part.send_test()
    assert receiver.find("Notifications from CTS Desktop reach you here")

    _add_rows(services)
    bus = services.bus
    bus.publish(OrderChanged(key="c1", client_order_id="cts-paper-1", symbol="ETH/USDT:USDT", status="filled",
                             paper=True))  # paper: not told (Include paper trading is off)
    bus.publish(OrderChanged(key="c1", client_order_id="cts-live-1", symbol="BTC/USDT:USDT", status="filled",
                             paper=False))
    bus.publish(PositionChanged(key="c1", position_id=7, symbol="BTC/USDT:USDT"))
    bus.publish(PositionChanged(key="c1", position_id=7, symbol="BTC/USDT:USDT"))  # told once
    bus.publish(TradeEngineChanged(key="c1", status=_engine(EngineState.ERROR, "exchange down")))
    bus.publish(TradeEngineChanged(key="c1", status=_engine(EngineState.RUNNING)))
    bus.publish(AlertRaised(key="c1", severity="warning", source="protection",
                            message="daily loss kill switch tripped: -5.1 % in 24 h"))
    bus.publish(AlertRaised(key="c1", severity="warning", source="monitoring", message="connection Sim is stale"))
    await services.notifier.send_daily_summary()
    await until(lambda: len(receiver.got) >= 8, 30, "the seven notifications after the test message")
    fill = receiver.find("Order filled: BTC/USDT:USDT")
    assert fill and "buy 0.01 at 50123.5" in fill[0]["message"]
    closed = receiver.find("Position closed: BTC/USDT:USDT long")
    assert len(closed) == 1 and "net +12.20 USDT" in closed[0]["message"] and "(tp)" in closed[0]["message"]
    assert receiver.find("Engine error: Sim") and "exchange down" in receiver.find("Engine error: Sim")[0]["message"]
    assert receiver.find("Engine restarted: Sim")
    assert receiver.find("Trading guard tripped") and receiver.find("kill switch tripped")
    assert receiver.find("connection Sim is stale")
    summary = receiver.find("daily summary")
    assert summary and "Live: 1 position(s) closed, net +12.20 USDT" in summary[0]["message"]
    assert not receiver.find("ETH/USDT:USDT")
    assert len(receiver.got) == 8  # the test message and the seven

    # the switches change what arrives: paper on, alerts off
    services.settings.set_many({"monitoring.notify_paper": True, "monitoring.notify_alert": False})
    bus.publish(AlertRaised(key="c1", severity="warning", source="monitoring", message="muted alert"))
    bus.publish(OrderChanged(key="c1", client_order_id="cts-paper-1", symbol="ETH/USDT:USDT", status="filled",
                             paper=True))
    await until(lambda: receiver.find("Order filled (paper): ETH/USDT:USDT"), 30, "the paper fill")
    assert not receiver.find("muted alert")
    services.settings.set("monitoring.notify_daily_summary", False)
    await services.notifier.send_daily_summary()  # queued before the guard trip below, were it on
    bus.publish(AlertRaised(key="c1", severity="warning", source="protection", message="sentinel guard trip"))
    await until(lambda: receiver.find("sentinel guard trip"), 30, "the guard trip")
    assert len(receiver.find("daily summary")) == 1


async def test_the_rate_limit_holds_back_and_counts(services: Services, receiver: Receiver) -> None:
    services.settings.set("monitoring.notify_max_per_minute", 2)
    await NotificationsPart(services).set_urls(receiver.url)
    for n in range(5):
        services.bus.publish(AlertRaised(severity="info", source="monitoring", message=f"alert {n}"))
    await until(lambda: services.notifier.held_back == 3, 30, "three held back")
    assert [m["message"] for m in receiver.got] == ["alert 0", "alert 1"]
    services.settings.set("monitoring.notify_max_per_minute", 3)  # room for one more: it tells the count
    services.bus.publish(AlertRaised(severity="info", source="monitoring", message="alert 5"))
    await until(lambda: len(receiver.got) == 3, 30, "the next one")
    assert receiver.got[2]["message"] == "alert 5\n(3 more held back by the rate limit)"


@pytest.mark.filterwarnings("ignore")
async def test_the_daily_summary_hour_is_the_next_one() -> None:
    noon = datetime(2026, 12, 7, 12, 30).astimezone()
    assert next_summary_at(noon, 20) == noon.replace(hour=20, minute=0)
    assert next_summary_at(noon, 8) == noon.replace(day=8, hour=8, minute=0)
    assert next_summary_at(noon.replace(hour=20, minute=0), 20).day == 8


EVENTS = {
    "fill": OrderChanged(key="c1", client_order_id="cts-live-1", symbol="BTC/USDT:USDT", status="filled",
                         paper=False),
    "position_closed": PositionChanged(key="c1", position_id=7, symbol="BTC/USDT:USDT"),
    "engine": TradeEngineChanged(key="c1", status=_engine(EngineState.ERROR, "exchange down")),
    "guard": AlertRaised(key="c1", severity="warning", source="protection", message="drawdown guard tripped"),
    "alert": AlertRaised(key="c1", severity="warning", source="monitoring", message="connection Sim is stale"),
}


@pytest.mark.parametrize("kind", sorted(EVENTS))
async def test_each_switch_silences_its_kind_only(services: Services, receiver: Receiver, kind: str) -> None:
    from cts_desktop.monitoring.notifier import KINDS

    _add_rows(services)
    await NotificationsPart(services).set_urls(receiver.url)
    services.settings.set(KINDS[kind], False)
    services.bus.publish(EVENTS[kind])
    others = [k for k in sorted(EVENTS) if k != kind]
    for other in others:
        services.bus.publish(EVENTS[other])
    await until(lambda: len(receiver.got) >= len(others), 30, "the other kinds")
    await services.bus.drain()
    assert len(receiver.got) == len(others), receiver.titles()
    services.settings.set(KINDS[kind], True)  # on again: the next one is told
    again = {"engine": TradeEngineChanged(key="c1", status=_engine(EngineState.RUNNING)),
             "position_closed": PositionChanged(key="c1", position_id=8, symbol="BTC/USDT:USDT")}
    if kind == "position_closed":
        with services.db.session() as session:
            session.add(RealPosition(id=8, connection_id="c1", symbol="BTC/USDT:USDT", side="short", paper=False,
                                     quantity=Decimal("0.010"), realized_pnl=Decimal("-3"), status="closed",
                                     closed_at=datetime.now(UTC)))
    services.bus.publish(again.get(kind, EVENTS[kind]))
    await until(lambda: len(receiver.got) == len(others) + 1, 30, f"the {kind} notification once on")


async def test_the_daily_summary_comes_at_its_hour(tmp_path: Path, receiver: Receiver) -> None:
    """The summary loop reads the hour setting: a clock half a second before that hour sends it; another hour not."""
    import time as clock_time

    from cts_desktop.monitoring.notifier import Notifier

    services = Services(AppOptions(data_dir=tmp_path, console_log=False))
    try:
        start = datetime.now().astimezone().replace(hour=7, minute=59, second=59, microsecond=500_000)
        began = clock_time.monotonic()

        def clock() -> datetime:
            from datetime import timedelta

            return start + timedelta(seconds=clock_time.monotonic() - began)

        services.settings.set("monitoring.notify_summary_hour", 9)  # not this hour: nothing
        notifier = Notifier(services.bus, services.settings.values, services.secrets, services.db, clock=clock)
        notifier.set_urls([receiver.url])
        await notifier.start()
        await until(lambda: clock() >= start.replace(hour=8, minute=0, second=1), 10, "eight o'clock passed")
        assert not receiver.find("daily summary")
        await notifier.aclose()
        services.settings.set("monitoring.notify_summary_hour", 8)
        start = datetime.now().astimezone().replace(hour=7, minute=59, second=59, microsecond=500_000)
        began = clock_time.monotonic()
        await notifier.start()
        await until(lambda: receiver.find("daily summary"), 10, "the summary at eight")
        await notifier.aclose()
    finally:
        services.close()
