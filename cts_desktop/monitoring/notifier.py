"""Notifications to the user's phone or chat through Apprise (Telegram, Discord, Slack, e-mail, ntfy, webhooks …),
in the window and headless alike.

Events on the bus become messages by the table :data:`RULES` (event type → the function that words it, or says
"nothing to tell"); each message has a kind with its own switch in *Settings › Monitoring › Notifications* —
fill, position closed (with its net PnL), engine error or restart, kill switch or guard tripped, other alerts, the
daily summary. A new kind is a row in :data:`KINDS` and one in :data:`RULES`. Paper trading is left out unless
asked for. At most ``monitoring.notify_max_per_minute`` are sent per minute; what is held back is counted and told
with the next one sent. The URLs are secrets (they carry tokens): kept in the secret store, never logged.
Sending runs in a worker thread, one message at a time, so a slow service never holds the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cts_desktop.events.bus import Event, EventBus
from cts_desktop.events.status import EngineState
from cts_desktop.events.trading import AlertRaised, OrderChanged, PositionChanged, TradeEngineChanged
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import Order, RealPosition
from cts_desktop.storage.secrets import SecretRef, SecretStore, SecretStoreError

log = logging.getLogger("cts.monitoring.notifier")

URLS = SecretRef("app", "notifications", "urls")

# kind → the setting that switches it (the test message has none: it is always sent)
KINDS: dict[str, str] = {
    "fill": "monitoring.notify_fill",
    "position_closed": "monitoring.notify_position_closed",
    "engine": "monitoring.notify_engine",
    "guard": "monitoring.notify_guard",
    "alert": "monitoring.notify_alert",
    "daily_summary": "monitoring.notify_daily_summary",
}
GUARD_SOURCES = ("protection", "guard", "kill_switch")
CLOSED = ("closed", "reconciled")


@dataclass(frozen=True, slots=True)
class Message:
    kind: str
    title: str
    body: str
    level: str = "info"  # Apprise's notify type: info | success | warning | failure


@dataclass
class Context:
    """What the rules may read: the settings, the database, and what was told already."""

    values: Callable[[], Mapping[str, object]]
    db: Database
    engine_errors: set[str] = field(default_factory=set)  # connections whose engine failed and is not running again
    closed_told: set[int] = field(default_factory=set)

    @property
    def paper_too(self) -> bool:
        return bool(self.values().get("monitoring.notify_paper", False))


def _money(value: Decimal) -> str:
    return f"{value:+.2f} USDT"


async def fill_message(event: OrderChanged, ctx: Context) -> Message | None:
    if event.status != "filled" or (event.paper and not ctx.paper_too):
        return None

    def read(session: Session) -> tuple[str, Decimal, Decimal | None, bool] | None:
        query = select(Order).where(Order.client_order_id == event.client_order_id)
        order = session.execute(query).scalar_one_or_none()
        return None if order is None else (order.side, order.filled, order.average_price, order.reduce_only)

    found = await ctx.db.run(read)
    what = "" if found is None else (f"{found[0]} {found[1].normalize():f}"
                                     + (f" at {found[2].normalize():f}" if found[2] is not None else "")
                                     + (" (closing)" if found[3] else ""))
    return Message("fill", f"Order filled{' (paper)' if event.paper else ''}: {event.symbol}",
                   f"{event.symbol} {what} · {event.client_order_id}".replace("  ", " "), "info")


async def position_closed_message(event: PositionChanged, ctx: Context) -> Message | None:
    if event.position_id in ctx.closed_told:
        return None

    def read(session: Session) -> tuple[str, str, bool, Decimal, str | None] | None:
        p = session.get(RealPosition, event.position_id)
        if p is None or p.status not in CLOSED:
            return None
        net = (p.realized_pnl or Decimal(0)) - (p.fees or Decimal(0)) + (p.funding or Decimal(0))
        return p.symbol, p.side, bool(p.paper), net, p.close_reason

    ctx.closed_told.add(event.position_id)  # before the read: a second event meanwhile finds it taken
    found = await ctx.db.run(read)
    if found is None:
        ctx.closed_told.discard(event.position_id)  # not closed yet: a later change tells it
        return None
    symbol, side, paper, net, reason = found
    if paper and not ctx.paper_too:
        return None
    return Message("position_closed", f"Position closed{' (paper)' if paper else ''}: {symbol} {side}",
                   f"{symbol} {side} closed{f' ({reason})' if reason else ''}: net {_money(net)}",
                   "success" if net >= 0 else "warning")


def engine_message(event: TradeEngineChanged, ctx: Context) -> Message | None:
    status = event.status
    if status.state is EngineState.ERROR and status.connection_id not in ctx.engine_errors:
        ctx.engine_errors.add(status.connection_id)
        return Message("engine", f"Engine error: {status.connection_name}",
                       f"The engine of {status.connection_name} failed: {status.last_error or 'unknown error'}",
                       "failure")
    if status.state is EngineState.RUNNING and status.connection_id in ctx.engine_errors:
        ctx.engine_errors.discard(status.connection_id)
        return Message("engine", f"Engine restarted: {status.connection_name}",
                       f"The engine of {status.connection_name} runs again after its error.", "success")
    return None


def alert_message(event: AlertRaised, _ctx: Context) -> Message | None:
    level = {"critical": "failure", "error": "failure", "warning": "warning"}.get(event.severity, "info")
    if event.source in GUARD_SOURCES or "kill switch" in event.message.lower():
        return Message("guard", "Trading guard tripped", event.message, level)
    if event.source == "engine":
        return Message("engine", f"Engine {event.severity}", event.message, level)
    return Message("alert", f"Alert ({event.severity}, {event.source})", event.message, level)


Rule = Callable[[Any, Context], "Message | Awaitable[Message | None] | None"]
# event type → the rule that words it; a guard-trip or other new event is one more row here
RULES: list[tuple[type[Event], Rule]] = [
    (OrderChanged, fill_message),
    (PositionChanged, position_closed_message),
    (TradeEngineChanged, engine_message),
    (AlertRaised, alert_message),
]


def next_summary_at(after: datetime, hour: int) -> datetime:
    """The first ``hour``:00 (local time of ``after``) strictly after ``after``."""
    at = after.replace(hour=hour, minute=0, second=0, microsecond=0)
    return at if at > after else at + timedelta(days=1)


def daily_summary(session: Session, now: datetime) -> Message:
    since = now - timedelta(hours=24)
    rows = session.execute(select(RealPosition.paper, func.count(), func.sum(RealPosition.realized_pnl),
                                  func.sum(RealPosition.fees), func.sum(RealPosition.funding))
                           .where(RealPosition.status.in_(CLOSED), RealPosition.closed_at >= since)
                           .group_by(RealPosition.paper)).all()
    open_count = session.execute(select(func.count()).where(RealPosition.status.in_(("opening", "open", "closing"))))
    lines = []
    for paper, count, realized, fees, funding in sorted(rows, key=lambda r: bool(r[0])):
        net = Decimal(realized or 0) - Decimal(fees or 0) + Decimal(funding or 0)
        lines.append(f"{'Paper' if paper else 'Live'}: {count} position(s) closed, net {_money(net)}")
    lines.append(f"Open positions now: {open_count.scalar_one()}")
    if len(lines) == 1:
        lines.insert(0, "No position closed in the last 24 h.")
    return Message("daily_summary", f"CTS Desktop daily summary {now:%Y-%m-%d}", "\n".join(lines), "info")


def deliver(urls: list[str], message: Message) -> bool:
    """Send to every URL (blocking: a worker thread). True when all took it."""
    import apprise

    sender = apprise.Apprise()
    for url in urls:
        sender.add(url)
    kind = {"success": apprise.NotifyType.SUCCESS, "warning": apprise.NotifyType.WARNING,
            "failure": apprise.NotifyType.FAILURE}.get(message.level, apprise.NotifyType.INFO)
    return bool(sender.notify(title=message.title, body=message.body, notify_type=kind))


def _scheme(url: str) -> str:
    return url.partition("://")[0] + "://…"


class Notifier:
    def __init__(self, bus: EventBus, values: Callable[[], Mapping[str, object]], secrets: SecretStore, db: Database,
                 *, on_secret: Callable[[str], None] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now().astimezone()) -> None:
        self.bus = bus
        self.values = values
        self.secrets = secrets
        self.context = Context(values, db)
        self.on_secret = on_secret
        self.clock = clock
        self.urls: list[str] = []
        self.sent: deque[float] = deque()  # monotonic times of the sends within the last minute
        self.held_back = 0
        self.delivered = 0
        self._queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=1000)
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: list[Callable[[], None]] = []
        self._pending: set[asyncio.Future[None]] = set()  # rules reading the database

    # --- URLs ---------------------------------------------------------------------------------------------------

    def load_urls(self) -> list[str]:
        """Read the URLs from the secret store (blocking); none where no store is usable."""
        try:
            stored = self.secrets.get(URLS) or ""
        except SecretStoreError as error:
            log.info("notifications: no URLs can be read (%s)", error)
            stored = ""
        self.urls = [line.strip() for line in stored.splitlines() if line.strip()]
        self._tell_secret()
        return self.urls

    def set_urls(self, urls: list[str]) -> list[str]:
        """Check and store the URLs (blocking); ValueError names one Apprise does not understand."""
        cleaned = [u.strip() for u in urls if u.strip()]
        if self.on_secret is not None:  # redactable before Apprise may log one it cannot parse
            for url in cleaned:
                self.on_secret(url)
        if cleaned:
            import apprise

            for url in cleaned:
                if apprise.Apprise.instantiate(url) is None:
                    raise ValueError(f"not a notification URL Apprise understands: {_scheme(url)}")
            self.secrets.set(URLS, "\n".join(cleaned))
        else:
            self.secrets.delete(URLS)
        self.urls = cleaned
        self._tell_secret()
        log.info("notifications: %d URL(s) stored (%s); %s", len(cleaned), ", ".join(_scheme(u) for u in cleaned),
                 self.describe())
        return cleaned

    def describe(self) -> str:
        """What is sent, in words (logged when URLs are stored and at start): the kinds switched on, paper trades,
        the rate limit."""
        kinds = [kind.replace("_", " ") for kind in KINDS if self.enabled(kind)]
        paper = "with" if self.context.paper_too else "without"
        limit = int(self.values().get("monitoring.notify_max_per_minute", 10))  # type: ignore[call-overload]
        return (f"sending {', '.join(kinds) or 'nothing (every kind is off)'}, {paper} paper trades, "
                f"at most {limit} per minute")

    def _tell_secret(self) -> None:
        if self.on_secret is not None:
            for url in self.urls:
                self.on_secret(url)

    # --- lifecycle ----------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if await asyncio.to_thread(self.load_urls):
            log.info("notifications: %d URL(s); %s", len(self.urls), self.describe())
        for event_type, rule in RULES:
            self._unsubscribe.append(self.bus.subscribe(event_type, self._handler(rule)))
        self._tasks = [asyncio.create_task(self._send_loop(), name="notifications"),
                       asyncio.create_task(self._summary_loop(), name="daily summary")]

    async def aclose(self) -> None:
        tasks = [*self._tasks, *self._pending]
        self.stop()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    def _handler(self, rule: Rule) -> Callable[[Event], None]:
        def handle(event: Event) -> None:
            if not self.urls:  # nowhere to send: not even a database read
                return
            try:
                made = rule(event, self.context)
            except Exception:
                log.exception("notifications: %s could not be worded", type(event).__name__)
                return
            if asyncio.iscoroutine(made):  # a rule that reads the database first
                task = asyncio.ensure_future(self._finish(made, type(event).__name__))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)
            elif isinstance(made, Message):
                self.offer(made)

        return handle

    async def _finish(self, made: Awaitable[Message | None], what: str) -> None:
        try:
            message = await made
        except Exception:
            log.exception("notifications: %s could not be worded", what)
            return
        if message is not None:
            self.offer(message)

    def stop(self) -> None:
        """Stop listening and sending now (the services close; :meth:`aclose` also waits)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        for task in [*self._tasks, *self._pending]:
            if not task.done():
                with contextlib.suppress(RuntimeError):  # its loop closed already
                    task.cancel()

    def enabled(self, kind: str) -> bool:
        setting = KINDS.get(kind)
        return setting is None or bool(self.values().get(setting, True))

    def offer(self, message: Message) -> None:
        """Queue a message of a kind the user wants (dropped when there is nowhere to send it)."""
        if not self.urls or not self.enabled(message.kind):
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.held_back += 1

    # --- sending ------------------------------------------------------------------------------------------------

    def _allowed_now(self) -> bool:
        now = time.monotonic()
        while self.sent and now - self.sent[0] >= 60.0:
            self.sent.popleft()
        limit = int(self.values().get("monitoring.notify_max_per_minute", 10))  # type: ignore[call-overload]
        return len(self.sent) < limit

    async def _send_loop(self) -> None:
        while True:
            message = await self._queue.get()
            if not self._allowed_now():
                self.held_back += 1
                continue
            if self.held_back:
                message = Message(message.kind, message.title,
                                  f"{message.body}\n({self.held_back} more held back by the rate limit)",
                                  message.level)
                self.held_back = 0
            self.sent.append(time.monotonic())
            await self._deliver(message)

    async def _deliver(self, message: Message) -> bool:
        urls = list(self.urls)
        try:
            ok = await asyncio.to_thread(deliver, urls, message)
        except Exception as error:
            log.warning("notifications: %s not sent: %s", message.kind, type(error).__name__)
            return False
        if ok:
            self.delivered += 1
        else:
            log.warning("notifications: %s not sent to every URL (%s)", message.kind,
                        ", ".join(_scheme(u) for u in urls))
        return ok

    async def send_test(self) -> str:
        """Send a test message now to every URL (no rate limit, no switch); the outcome in words."""
        if not self.urls:
            return "No notification URL is stored."
        ok = await self._deliver(Message("test", "CTS Desktop test notification",
                                         "Notifications from CTS Desktop reach you here."))
        return (f"Test notification sent to {len(self.urls)} URL(s)." if ok
                else "The test notification could not be sent to every URL: check them and the log.")

    async def send_daily_summary(self) -> None:
        now = self.clock()
        self.offer(await self.context.db.run(lambda session: daily_summary(session, now)))

    async def _summary_loop(self) -> None:
        since = self.clock()
        while True:
            hour = int(self.values().get("monitoring.notify_summary_hour", 20))  # type: ignore[call-overload]
            target = next_summary_at(since, hour)
            now = self.clock()
            if now >= target:
                since = now
                with contextlib.suppress(Exception):
                    await self.send_daily_summary()
                continue
            await asyncio.sleep(min(60.0, (target - now).total_seconds()))


__all__ = ["KINDS", "RULES", "URLS", "Message", "Notifier", "daily_summary", "deliver", "next_summary_at"]
