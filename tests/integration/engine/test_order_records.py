"""Fills routed to Real positions: an exchange-side TP/SL the app first saw as an external open order still closes
the position it protects, with the money of both fills."""

from __future__ import annotations

import time
from decimal import Decimal

from cts_desktop.engine import order_records as rec
from cts_desktop.exchanges.models import Order as ExchangeOrder
from cts_desktop.exchanges.models import Trade
from cts_desktop.storage.db import Database

SYMBOL = "BTC/USDT:USDT"


def test_stop_loss_seen_as_external_order_closes_the_position(engine_db: Database) -> None:
    now = int(time.time() * 1000)
    entry = rec.NewEntry("c1", None, SYMBOL, "long", False, Decimal("0.015"), 10.0, Decimal("17300.0"),
                         Decimal("17150.0"), "cts-c1-entry")
    with engine_db.session() as s:
        position_id, _order_id = rec.insert_entry(s, entry)
        rec.apply_order_answer(s, "cts-c1-entry", ExchangeOrder(
            "E1", "cts-c1-entry", SYMBOL, "buy", "market", "closed", 0.015, 0.015, 17200.5, None, 0.14, now, False))
        # the position's stop loss shows in the open orders (Bybit lists TP/SL orders): recorded as external
        rec.insert_external_order(s, "c1", ExchangeOrder(
            "SL1", None, SYMBOL, "sell", "market", "open", 0.015, 0.0, None, None, None, now, True), paper=False)
    with engine_db.session() as s:
        assert rec.record_fills(s, "c1", [Trade("T1", "E1", SYMBOL, "buy", 17200.5, 0.015, 0.1419, now)]) == [
            position_id]
        assert rec.settle_position(s, position_id, True).status == "open"
    with engine_db.session() as s:  # the stop fires: its fill belongs to the external order
        touched = rec.record_fills(s, "c1", [Trade("T2", "SL1", SYMBOL, "sell", 17150.0, 0.015, 0.1415, now + 9000)])
        assert touched == [position_id]
        position = rec.settle_position(s, position_id, False)
        assert position.status == "closed" and position.close_reason == "stop_loss"
        assert position.exit_price == Decimal("17150.0")
        assert position.realized_pnl == Decimal("-0.7575")  # (17150.0 − 17200.5) × 0.015
        assert position.fees == Decimal("0.2834")
