"""Reading the account's own fills and funding payments from the exchange into the ledger, incrementally.

Each symbol has a mark: fills are read from it, and it moves only past fills that are stored, less an overlap
(exchanges list an execution a moment after it happened, BingX stamps fills to the second). The first read after
a start begins at the older of the newest stored fill and the oldest live position's opening, so nothing that
happened while the app was stopped — or killed — is skipped; a fetch that fails moves no mark.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cts_desktop.engine import funding_ledger
from cts_desktop.engine import position_ledger as ledger
from cts_desktop.engine.broker import Broker
from cts_desktop.engine.ledger_writes import LedgerWrites
from cts_desktop.exchanges.errors import ExchangeError
from cts_desktop.exchanges.models import FundingPayment as FundingReport
from cts_desktop.exchanges.models import Trade
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import Fill, FundingPayment, RealPosition

log = logging.getLogger("cts.engine.orders")

OVERLAP_MS = 10_000  # read again this far behind the newest stored fill
LOOK_BACK_MS = 10_000  # a look-back starts this far before a position's opening
RATE_WINDOW_MS = 60_000  # a settlement's rate is looked up this far around the payment's time


class FillSync:
    def __init__(self, connection_id: str, db: Database, broker: Broker, ledger: LedgerWrites) -> None:
        self.connection_id = connection_id
        self.db = db
        self.ledger = ledger
        self.broker = broker
        self._trades_since: dict[str, int | None] = {}
        self._funding_since: dict[str, int | None] = {}
        self._order_sides: dict[str, str | None] = {}

    async def fills(self, symbols: Iterable[str]) -> int:
        """New fills of ``symbols`` stored; returns how many."""
        added = 0
        for symbol in symbols:
            if symbol not in self._trades_since:
                self._trades_since[symbol] = await self._mark_from_db(symbol, Fill)
            fetched = await self.broker.my_trades(symbol, since=self._trades_since[symbol])
            added += await self._store(fetched, symbol, move_mark=True)
        return added

    async def store_pushed(self, trades: list[Trade]) -> int:
        """Fills the exchange pushed (private stream): stored now; the marks stay where the REST reads left them,
        so the next read lists these again and finds them stored (the stream is checked, never trusted alone)."""
        return await self._store(trades, "", move_mark=False)

    async def look_back(self, symbol: str, since: datetime) -> int:
        """Read a symbol's fills again from ``since`` (not from the mark); returns how many were new."""
        start = int(since.timestamp() * 1000) - LOOK_BACK_MS
        return await self._store(await self.broker.my_trades(symbol, since=start), symbol, move_mark=False)

    async def funding(self, symbols: Iterable[str]) -> set[int]:
        """New funding payments of ``symbols`` stored and shared; returns the positions whose funding changed."""
        touched: set[int] = set()
        for symbol in symbols:
            if symbol not in self._funding_since:
                self._funding_since[symbol] = await self._mark_from_db(symbol, FundingPayment)
            reports = await self.broker.funding_history(symbol, since=self._funding_since[symbol])
            reports = await self._sided([r for r in reports if r.timestamp is not None])
            if reports:
                touched |= await self._record_funding(reports)
                newest = max(r.timestamp or 0 for r in reports)
                self._funding_since[symbol] = max(self._funding_since[symbol] or 0, newest - OVERLAP_MS)
        return touched

    async def _sided(self, reports: list[FundingReport]) -> list[FundingReport]:
        """Where the exchange names no side (BingX) and one settlement has a payment of each sign (hedge mode,
        long and short held), the settlement's rate tells which is which: with a positive rate longs pay."""
        by_time: dict[int, list[FundingReport]] = {}
        for report in reports:
            by_time.setdefault(report.timestamp or 0, []).append(report)
        out: list[FundingReport] = []
        for ts, group in by_time.items():
            signs = {r.amount > 0 for r in group if r.side is None and r.amount != 0}
            rate = await self._rate_at(group[0].symbol, ts) if len(signs) == 2 else None
            for report in group:
                if report.side is None and rate:
                    paid = report.amount < 0
                    report = replace(report, side="long" if paid == (rate > 0) else "short")
                out.append(report)
        return out

    async def _rate_at(self, symbol: str, ts: int) -> float | None:
        rates = getattr(self.broker, "funding_rates", None)
        if rates is None:
            return None
        try:
            near = await rates(symbol, ts - RATE_WINDOW_MS, ts + RATE_WINDOW_MS)
        except ExchangeError as error:
            log.info("%s: funding rate at %d unknown (%s): payments shared by signed quantity", symbol, ts, error,
                     extra={"connection_id": self.connection_id})
            return None
        return min(near, key=lambda r: abs(r[0] - ts))[1] if near else None

    def _record_funding(self, reports: list[FundingReport]) -> Awaitable[set[int]]:
        return self.ledger(lambda s: funding_ledger.record_funding(s, self.connection_id, reports))

    def _mark_from_db(self, symbol: str, model: type[Fill] | type[FundingPayment]) -> Awaitable[int | None]:
        return self.db.run(lambda s: self._start_mark(s, symbol, model))

    def _start_mark(self, session: Session, symbol: str, model: type[Fill] | type[FundingPayment]) -> int | None:
        newest = session.execute(
            select(func.max(model.ts)).where(model.connection_id == self.connection_id, model.symbol == symbol)
        ).scalar_one()
        oldest_live = session.execute(
            select(func.min(RealPosition.opened_at)).where(
                RealPosition.connection_id == self.connection_id, RealPosition.symbol == symbol,
                RealPosition.status.in_(ledger.OPEN_STATES),
            )
        ).scalar_one()
        stamps = [int(t.timestamp() * 1000) for t in (newest, oldest_live) if t is not None]
        return min(stamps) - OVERLAP_MS if stamps else None

    async def _store(self, fetched: list[Trade], symbol: str, *, move_mark: bool) -> int:
        trades = await self._complete(fetched)
        connection_id = self.connection_id
        added = await self.ledger(lambda s: ledger.store_fills(s, connection_id, trades)) if trades else 0
        if move_mark and fetched and len(trades) == len(fetched):  # the mark moves only past stored fills
            newest = max(t.timestamp or 0 for t in fetched)
            self._trades_since[symbol] = max(self._trades_since.get(symbol) or 0, newest - OVERLAP_MS)
        return added

    async def _complete(self, trades: list[Trade]) -> list[Trade]:
        """Some exchanges' fill lists lack a trade id or the side (BingX swap ``allFillOrders`` has neither):
        derive a stable id from the fill's own fields and take the side from its order."""
        out = []
        for trade in trades:
            trade_id = trade.id if trade.id not in ("", "None") else None
            side = trade.side if trade.side in ("buy", "sell") else None
            if trade_id is None:
                trade_id = f"{trade.order_id}:{trade.timestamp}:{trade.amount!r}:{trade.price!r}"
            if side is None:
                side = await self._our_order_side(trade)
            if side is None and trade.order_id:
                side = await self._order_side(trade.symbol, trade.order_id)
            if side is None:
                log.warning("fill %s on %s has no side and its order is unknown; skipped", trade_id, trade.symbol,
                            extra={"connection_id": self.connection_id})
                continue
            out.append(replace(trade, id=trade_id, side=side))
        return out

    def _our_order_side(self, trade: Trade) -> Awaitable[str | None]:
        """The side of our own order the fill belongs to (by client id or exchange order id), from its row."""
        return self.db.run(lambda s: ledger.side_of_our_order(s, self.connection_id, trade))

    async def _order_side(self, symbol: str, order_id: str) -> str | None:
        if order_id not in self._order_sides:
            fetch = getattr(self.broker, "fetch_order", None)
            try:
                order = await fetch(symbol, order_id) if fetch is not None else None
            except ExchangeError:
                order = None
            self._order_sides[order_id] = order.side if order is not None and order.side in ("buy", "sell") else None
        return self._order_sides[order_id]
