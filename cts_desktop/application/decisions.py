"""Why the engines trade or not: each running connection's newest entry decision and its recent ones (from the
engines' decision logs in memory), for the Dashboard and Monitoring › Decisions."""

from __future__ import annotations

from cts_desktop.application.common import TradingAccess
from cts_desktop.events.status import EntryDecision

__all__ = ["DecisionsPart", "EntryDecision"]


class DecisionsPart:
    def __init__(self, trading: TradingAccess) -> None:
        self.trading = trading

    def last(self) -> dict[str, EntryDecision]:
        """Connection id → its newest decision (connections without one are left out)."""
        return {cid: e.decisions.last for cid, e in self.trading.engines().items() if e.decisions.last is not None}

    def recent(self, connection_id: str = "", kind: str = "") -> list[EntryDecision]:
        """The kept decisions, newest first, of one connection (or all) and one kind (or all)."""
        out = [d for cid, e in self.trading.engines().items() if not connection_id or cid == connection_id
               for d in e.decisions.recent if not kind or d.kind == kind]
        return sorted(out, key=lambda d: d.at, reverse=True)

    def latest_of_each_kind(self, connection_id: str) -> dict[str, EntryDecision]:
        engine = self.trading.engines().get(connection_id)
        return {} if engine is None else dict(engine.decisions.last_of_kind)
