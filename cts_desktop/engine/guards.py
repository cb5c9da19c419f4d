"""The protections of one connection's Real entries, checked by the order manager before every entry and watched
at every exchange sync:

* **daily-loss kill switch** — no entry while the net result of the last 24 h (``net_result_since``) is a loss
  larger than ``daily_loss_limit_pct`` of the balance;
* **account drawdown guard** — no entry while the equity (balance with unrealised PnL) is ``max_drawdown_pct`` or
  more below its highest value since trading started (the paper account starts afresh at each start, so no older
  peak is carried over); entries resume when it recovers;
* **stop-loss streak guard** — after ``sl_streak_count`` Real positions of one symbol closed in a row by their
  stop loss, that symbol takes no entry for ``sl_streak_pause_s`` after the last stop.

Each trip is logged (warning), stored as an alert and published (the desktop notification); its release is
logged. :meth:`EntryGuards.states` is what the Dashboard shows: each protection, on or off, tripped or not, the
figure it watches and its threshold.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from cts_desktop.engine import order_records as rec
from cts_desktop.events.bus import EventBus
from cts_desktop.events.status import ProtectionState
from cts_desktop.events.trading import AlertRaised
from cts_desktop.exchanges.models import Balance, Position
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import Alert, RealPosition
from cts_desktop.storage.types import to_decimal

log = logging.getLogger("cts.engine.guards")
ZERO = Decimal(0)
STOP_REASON = "stop_loss"


class GuardLimits(Protocol):
    """The thresholds (the order manager's ``RiskLimits``); 0 switches a guard off."""

    @property
    def daily_loss_limit_pct(self) -> float: ...
    @property
    def max_drawdown_pct(self) -> float: ...
    @property
    def sl_streak_count(self) -> int: ...
    @property
    def sl_streak_pause_s(self) -> float: ...


def equity(balance: Balance, unrealised: Decimal, paper: bool) -> Decimal:
    """Balance with unrealised PnL: the paper account's total already holds it, an exchange's wallet does not."""
    total = to_decimal(balance.total)
    return total if paper else total + unrealised


def daily_loss_pct(net: Decimal, total: Decimal) -> Decimal:
    """The last 24 h's loss as a share of the balance, in percent (0 for a gain or an empty account)."""
    return -net / total * 100 if net < 0 and total > 0 else ZERO


def stop_streaks(session: Session, connection_id: str, paper: bool, count: int, pause_s: float,
                 now: datetime) -> dict[str, datetime]:
    """Symbols whose newest ``count`` closed Real positions all hit their stop loss, the newest less than
    ``pause_s`` ago → until when they are paused."""
    if count <= 0:
        return {}
    since = now - timedelta(seconds=pause_s)
    recent = session.execute(select(RealPosition.symbol).distinct().where(
        RealPosition.connection_id == connection_id, RealPosition.paper.is_(paper),
        RealPosition.status == "closed", RealPosition.close_reason == STOP_REASON,
        RealPosition.closed_at >= since, RealPosition.origin != "external")).scalars().all()
    out: dict[str, datetime] = {}
    for symbol in recent:
        last = session.execute(select(RealPosition.close_reason, RealPosition.closed_at).where(
            RealPosition.connection_id == connection_id, RealPosition.paper.is_(paper),
            RealPosition.symbol == symbol, RealPosition.status == "closed", RealPosition.origin != "external",
        ).order_by(RealPosition.closed_at.desc(), RealPosition.id.desc()).limit(count)).all()
        newest: datetime | None = last[0][1] if last else None
        if newest is not None and len(last) == count and all(reason == STOP_REASON for reason, _ in last):
            newest = newest if newest.tzinfo is not None else newest.replace(tzinfo=UTC)
            out[str(symbol)] = newest + timedelta(seconds=pause_s)
    return out


def _clock_text(at: datetime) -> str:
    return at.astimezone().strftime("%H:%M")


def _pct(value: float | Decimal) -> str:
    return f"{float(value):.2f}".rstrip("0").rstrip(".") + " %"


class EntryGuards:
    def __init__(self, connection_id: str, db: Database, bus: EventBus, *, paper: bool,
                 clock: Callable[[], float] = time.time) -> None:
        self.connection_id = connection_id
        self.db = db
        self.bus = bus
        self.paper = paper
        self.clock = clock
        self.kill_switch_active = False
        self.loss_pct: Decimal | None = None  # the last 24 h's loss in % of the balance, as last measured
        self.peak: Decimal | None = None  # highest equity since trading started
        self.equity: Decimal | None = None
        self.unrealised = ZERO  # of the exchange's positions at the last sync
        self.drawdown_active = False
        self.paused_symbols: dict[str, datetime] = {}  # symbol → paused until (a stop-loss streak)

    # --- at every sync ---------------------------------------------------------------------------------------

    async def observe(self, limits: GuardLimits, balance: Balance, positions: Sequence[Position]) -> None:
        """The figures at one exchange sync: equity and its peak, the day's loss, the stop-loss streaks."""
        self.unrealised = sum((to_decimal(p.unrealized_pnl or 0) for p in positions), ZERO)
        await self._kill_switch(limits, balance)
        await self._drawdown(limits, balance)
        await self._streaks(limits)

    # --- before every entry ----------------------------------------------------------------------------------

    async def check(self, symbol: str, limits: GuardLimits, balance: Balance) -> tuple[str, str] | None:
        """(kind, reason) of the protection that refuses an entry of ``symbol`` now, or None."""
        if await self._kill_switch(limits, balance):
            return "kill_switch", (f"kill switch: daily loss {_pct(self.loss_pct or ZERO)} > "
                                   f"{_pct(limits.daily_loss_limit_pct)} of the balance")
        if await self._drawdown(limits, balance):
            drawdown = self._drawdown_pct()
            return "drawdown", (f"drawdown guard: equity {_pct(drawdown)} below its peak ≥ "
                                f"{_pct(limits.max_drawdown_pct)}")
        await self._streaks(limits)
        until = self.paused_symbols.get(symbol)
        if until is not None:
            return "sl_streak", (f"stop-loss streak: {limits.sl_streak_count} stops in a row on {symbol}, "
                                 f"paused until {_clock_text(until)}")
        return None

    # --- the three protections ------------------------------------------------------------------------------

    async def _kill_switch(self, limits: GuardLimits, balance: Balance) -> bool:
        if limits.daily_loss_limit_pct <= 0:  # off: nothing to read at every sync
            self.kill_switch_active, self.loss_pct = False, None
            return False
        since = datetime.fromtimestamp(self.clock(), UTC) - timedelta(hours=24)
        connection_id = self.connection_id
        net = await self.db.run(lambda s: rec.net_result_since(s, connection_id, since))
        total = to_decimal(balance.total)
        self.loss_pct = daily_loss_pct(net, total)
        limit = to_decimal(limits.daily_loss_limit_pct)
        tripped = limit > 0 and net < 0 and -net > total * limit / 100
        if tripped and not self.kill_switch_active:
            log.critical("daily loss kill switch: %s USDT lost in 24 h; no new entries", net,
                         extra={"connection_id": connection_id})
            await self._alert("critical", f"daily loss kill switch tripped: {net:.2f} USDT in 24 h "
                                          f"({_pct(self.loss_pct)} > {_pct(limit)} of the balance); no new entries")
        elif self.kill_switch_active and not tripped:
            log.warning("daily loss kill switch released", extra={"connection_id": connection_id})
        self.kill_switch_active = tripped
        return tripped

    def _drawdown_pct(self) -> Decimal:
        if self.peak is None or self.equity is None or self.peak <= 0:
            return ZERO
        return max(ZERO, (self.peak - self.equity) / self.peak * 100)

    async def _drawdown(self, limits: GuardLimits, balance: Balance) -> bool:
        self.equity = equity(balance, self.unrealised, self.paper)
        self.peak = self.equity if self.peak is None else max(self.peak, self.equity)
        limit = to_decimal(limits.max_drawdown_pct)
        tripped = limit > 0 and self._drawdown_pct() >= limit
        if tripped and not self.drawdown_active:
            message = (f"drawdown guard tripped: equity {self.equity:.2f} is {_pct(self._drawdown_pct())} below its "
                       f"peak {self.peak:.2f} (limit {_pct(limit)}); no new entries until it recovers")
            log.warning(message, extra={"connection_id": self.connection_id})
            await self._alert("warning", message)
        elif self.drawdown_active and not tripped:
            log.warning("drawdown guard released: equity %.2f within %s of its peak", self.equity, _pct(limit),
                        extra={"connection_id": self.connection_id})
        self.drawdown_active = tripped
        return tripped

    async def _streaks(self, limits: GuardLimits) -> None:
        count, pause = limits.sl_streak_count, limits.sl_streak_pause_s
        if count <= 0:  # off
            self.paused_symbols = {}
            return
        now = datetime.fromtimestamp(self.clock(), UTC)
        connection_id, paper = self.connection_id, self.paper
        streaks = await self.db.run(lambda s: stop_streaks(s, connection_id, paper, count, pause, now))
        current = {symbol: until for symbol, until in streaks.items() if until > now}
        for symbol, until in current.items():
            if self.paused_symbols.get(symbol) != until:
                message = (f"stop-loss streak guard: {count} stops in a row on {symbol}; no entries on it until "
                           f"{_clock_text(until)}")
                log.warning(message, extra={"connection_id": connection_id, "symbol": symbol})
                await self._alert("warning", message)
        for symbol in set(self.paused_symbols) - set(current):
            log.info("stop-loss streak pause of %s ended", symbol, extra={"connection_id": connection_id,
                                                                          "symbol": symbol})
        self.paused_symbols = current

    async def _alert(self, severity: str, message: str) -> None:
        connection_id = self.connection_id
        await self.db.run(lambda s: s.add(Alert(severity=severity, source="protection", connection_id=connection_id,
                                                message=message[:2000])))
        self.bus.publish(AlertRaised(key=connection_id, severity=severity, source="protection", message=message))

    # --- for the Dashboard ------------------------------------------------------------------------------------

    def states(self, limits: GuardLimits) -> tuple[ProtectionState, ...]:
        loss = "not measured yet" if self.loss_pct is None else f"loss {_pct(self.loss_pct)}"
        paused = ", ".join(f"{s.split('/')[0]} until {_clock_text(u)}" for s, u in sorted(self.paused_symbols.items()))
        return (
            ProtectionState("kill_switch", "Daily loss kill switch", limits.daily_loss_limit_pct > 0,
                            self.kill_switch_active, loss, _pct(limits.daily_loss_limit_pct)),
            ProtectionState("drawdown", "Drawdown guard", limits.max_drawdown_pct > 0, self.drawdown_active,
                            "not measured yet" if self.equity is None else f"drawdown {_pct(self._drawdown_pct())}",
                            _pct(limits.max_drawdown_pct)),
            ProtectionState("sl_streak", "Stop-loss streak guard", limits.sl_streak_count > 0,
                            bool(self.paused_symbols), paused or "no streak",
                            f"{limits.sl_streak_count} stops → {limits.sl_streak_pause_s / 60:.0f} min"),
        )
