"""Orders whose outcome is not known yet — a lost answer, a timeout, a row committed just before the app stopped —
looked up by client id while the engine runs, with a growing pause between attempts, until the exchange answers.

An order the exchange does not know is given up as ``not_sent`` only once it is older than the grace period (an
order created just now may not be listed yet); if its fill shows up later after all, the ledger revives the
position (see ``position_ledger.refresh_position``). Orders being sent right now (``sending``) are left alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cts_desktop.engine import order_records as rec
from cts_desktop.engine.broker import Broker
from cts_desktop.engine.ledger_writes import LedgerWrites
from cts_desktop.exchanges.errors import OrderUnknownError, TemporaryError
from cts_desktop.storage.db import Database

log = logging.getLogger("cts.engine.orders")

UNKNOWN_ORDER_GRACE = timedelta(seconds=30)
FIRST_RETRY_S = 1.0
MAX_RETRY_S = 30.0


@dataclass(slots=True)
class InFlightReport:
    resolved: int = 0
    not_sent: int = 0
    still_unknown: int = 0


class InFlightOrders:
    def __init__(
        self, connection_id: str, db: Database, broker: Broker, ledger: LedgerWrites, *,
        grace: timedelta = UNKNOWN_ORDER_GRACE, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.connection_id = connection_id
        self.db = db
        self.ledger = ledger
        self.broker = broker
        self.grace = grace
        self.clock = clock
        self.sending: set[str] = set()
        self._retry: dict[str, tuple[float, float]] = {}  # client id -> (next attempt, pause)

    async def resolve(self, *, now_only: bool = False) -> tuple[InFlightReport, set[int]]:
        """Look up every unresolved order that is due (all of them with ``now_only``); returns what happened and
        the Real positions whose orders or fills changed."""
        report = InFlightReport()
        touched: set[int] = set()
        connection_id = self.connection_id
        for client_id, symbol, created in await self.db.run(lambda s: rec.unresolved_orders(s, connection_id)):
            if client_id in self.sending:
                continue
            due = self._retry.get(client_id, (0.0, 0.0))[0]
            if not now_only and self.clock() < due:
                report.still_unknown += 1
                continue
            touched |= await self._look_up(client_id, symbol, created, report)
        return report, touched

    async def _look_up(self, client_id: str, symbol: str, created: datetime, report: InFlightReport) -> set[int]:
        try:
            answer = await self.broker.order_by_client_id(symbol, client_id)
        except OrderUnknownError:
            if datetime.now(UTC) - created < self.grace:
                self._back_off(client_id)
                report.still_unknown += 1
                return set()
            why = "not on the exchange: it was never received (the app stopped or the request was lost)"
            await self.ledger(lambda s: rec.mark_order_failed(s, client_id, "not_sent", why))
            self._retry.pop(client_id, None)
            report.not_sent += 1
            log.warning("order %s was never received by the exchange; marked not sent", client_id,
                        extra={"connection_id": self.connection_id, "symbol": symbol})
            return await self.db.run(lambda s: rec.positions_of_order(s, client_id))
        except TemporaryError as error:
            self._back_off(client_id)
            report.still_unknown += 1
            log.info("order %s still unknown (%s); next look-up in %.0f s", client_id, error,
                     self._retry[client_id][1], extra={"connection_id": self.connection_id, "symbol": symbol})
            return set()
        touched = await self.ledger(lambda s: rec.apply_order_answer(s, client_id, answer))
        self._retry.pop(client_id, None)
        report.resolved += 1
        log.info("order %s resolved by its client id: %s", client_id, rec.order_status(answer),
                 extra={"connection_id": self.connection_id, "symbol": symbol})
        return touched

    def _back_off(self, client_id: str) -> None:
        pause = self._retry.get(client_id, (0.0, 0.0))[1]
        pause = FIRST_RETRY_S if pause == 0 else min(pause * 2, MAX_RETRY_S)
        self._retry[client_id] = (self.clock() + pause, pause)
