"""The position ledger on a real DB: fills allocated to Real positions (several per exchange position), linked to
their orders also when the order's exchange id comes after the fill, settlements replaced by late fills, funding
shared pro rata by side and quantity, and the daily-loss total that sees funding."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from cts_desktop.engine import funding_ledger, settlement
from cts_desktop.engine import order_records as rec
from cts_desktop.engine import position_ledger as ledger
from cts_desktop.exchanges.models import FundingPayment as FundingReport
from cts_desktop.exchanges.models import Order as ExchangeOrder
from cts_desktop.exchanges.models import Trade
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import Fill, FundingAllocation, PositionAdjustment, RealPosition

SYMBOL = "BTC/USDT:USDT"
NOW = int(time.time() * 1000)


def _entry(db: Database, client_id: str, side: str = "long", quantity: str = "0.015", opened_ms: int = NOW - 120_000
           ) -> int:
    """A Real position and its entry order as the order manager writes them, opened at ``opened_ms``."""
    entry = rec.NewEntry("c1", None, SYMBOL, side, False, Decimal(quantity), 10.0, None, Decimal("17150.0"),
                         client_id)
    with db.session() as s:
        position_id, _ = rec.insert_entry(s, entry)
        position = s.get(RealPosition, position_id)
        assert position is not None
        position.opened_at = datetime.fromtimestamp(opened_ms / 1000, UTC)
    return position_id


def _answer(client_id: str, exchange_id: str, side: str, quantity: float, price: float) -> ExchangeOrder:
    return ExchangeOrder(exchange_id, client_id, SYMBOL, side, "market", "closed", quantity, quantity, price, None,
                         None, NOW, False)


def _fills(db: Database, trades: list[Trade]) -> list[ledger.PositionChange]:
    with db.session() as s:
        ledger.store_fills(s, "c1", trades)
        return ledger.allocate_and_refresh(s, "c1")


def _position(db: Database, position_id: int) -> RealPosition:
    with db.session() as s:
        position = s.get(RealPosition, position_id)
        assert position is not None
        s.expunge(position)
        return position


def test_stop_loss_seen_as_external_order_closes_the_position(engine_db: Database) -> None:
    position_id = _entry(engine_db, "cts-c1-entry")
    with engine_db.session() as s:
        rec.apply_order_answer(s, "cts-c1-entry", _answer("cts-c1-entry", "E1", "buy", 0.015, 17200.5))
        # the position's stop loss shows in the open orders (Bybit lists TP/SL orders): recorded as external
        rec.insert_external_order(s, "c1", ExchangeOrder(
            "SL1", None, SYMBOL, "sell", "market", "open", 0.015, 0.0, None, None, None, NOW, True), paper=False)
    _fills(engine_db, [Trade("T1", "E1", SYMBOL, "buy", 17200.5, 0.015, 0.1419, NOW)])
    assert _position(engine_db, position_id).status == "open"
    changes = _fills(engine_db, [Trade("T2", "SL1", SYMBOL, "sell", 17150.0, 0.015, 0.1415, NOW + 9000)])
    assert [(c.id, c.after) for c in changes] == [(position_id, "closed")]
    position = _position(engine_db, position_id)
    assert position.close_reason == "stop_loss" and position.exit_price == Decimal("17150.0")
    assert position.realized_pnl == Decimal("-0.7575")  # (17150.0 − 17200.5) × 0.015
    assert position.fees == Decimal("0.2834") and position.open_quantity == 0


def test_one_stop_for_the_whole_side_closes_every_position_of_it_oldest_first(engine_db: Database) -> None:
    """Three longs in one hedge-mode position; the exchange's stop closes the whole side with one fill of 0.045:
    each position gets its part (fees pro rata, adding up to the fill's fee exactly) — none is left open."""
    ids = [_entry(engine_db, f"cts-c1-e{n}") for n in range(3)]
    prices = [17200.0, 17210.0, 17220.0]
    for n, price in enumerate(prices):
        with engine_db.session() as s:
            rec.apply_order_answer(s, f"cts-c1-e{n}", _answer(f"cts-c1-e{n}", f"E{n}", "buy", 0.015, price))
        _fills(engine_db, [Trade(f"T{n}", f"E{n}", SYMBOL, "buy", price, 0.015, 0.1, NOW + n)])
    _fills(engine_db, [Trade("SL", "STOP", SYMBOL, "sell", 17150.0, 0.045, 0.3333333, NOW + 100)])
    positions = [_position(engine_db, i) for i in ids]
    assert [p.status for p in positions] == ["closed"] * 3
    assert [p.open_quantity for p in positions] == [0, 0, 0]
    assert sum(p.fees for p in positions) == Decimal("0.3") + Decimal("0.3333333")
    assert [p.realized_pnl for p in positions] == [(Decimal("17150.0") - Decimal(repr(p))) * Decimal("0.015")
                                                   for p in prices]


def test_a_fill_stored_before_its_order_was_known_is_linked_when_the_order_resolves(engine_db: Database) -> None:
    """A lost create answer: the entry's fill arrives (without the client id) before the order is found by its
    client id. It is linked as soon as the order's exchange id is known, and the position opens from it."""
    position_id = _entry(engine_db, "cts-c1-lost")
    _fills(engine_db, [Trade("T1", "E-LOST", SYMBOL, "buy", 17200.0, 0.015, 0.1, NOW)])
    with engine_db.session() as s:
        assert s.execute(select(Fill.order_id)).scalar_one() is None
    with engine_db.session() as s:
        touched = rec.apply_order_answer(s, "cts-c1-lost", _answer("cts-c1-lost", "E-LOST", "buy", 0.015, 17200.0))
        ledger.allocate_and_refresh(s, "c1", touched)
    with engine_db.session() as s:
        assert s.execute(select(Fill.order_id)).scalar_one() is not None
    position = _position(engine_db, position_id)
    assert position.status == "open" and position.open_quantity == Decimal("0.015")
    assert position.entry_price == Decimal("17200.0")


def test_a_fill_with_the_client_id_is_linked_at_once(engine_db: Database) -> None:
    position_id = _entry(engine_db, "cts-c1-x")
    _fills(engine_db, [Trade("T1", "E9", SYMBOL, "buy", 17200.0, 0.015, 0.1, NOW, client_id="cts-c1-x")])
    assert _position(engine_db, position_id).open_quantity == Decimal("0.015")


def test_a_settled_close_is_replaced_by_its_fill_when_it_arrives_late(engine_db: Database) -> None:
    position_id = _entry(engine_db, "cts-c1-a")
    _fills(engine_db, [Trade("T1", "EA", SYMBOL, "buy", 17200.0, 0.015, 0.1, NOW, client_id="cts-c1-a")])
    with engine_db.session() as s:  # the exchange is flat and no fill says why: settled once
        done = settlement.settle(s, "c1", ledger.SideKey(SYMBOL, "long"), Decimal(0), None, paper=False)
    assert [p.quantity for p in done.parts] == [Decimal("-0.015")]
    position = _position(engine_db, position_id)
    assert position.status == "closed" and position.close_reason == "reconciled" and position.exit_price is None
    _fills(engine_db, [Trade("T2", "TP", SYMBOL, "sell", 17300.0, 0.015, 0.1, NOW + 5000)])
    position = _position(engine_db, position_id)
    assert position.status == "closed" and position.exit_price == Decimal("17300.0")
    assert position.realized_pnl == Decimal("1.5") and position.open_quantity == 0
    with engine_db.session() as s:
        assert sum(s.execute(select(PositionAdjustment.quantity)).scalars(), Decimal(0)) == 0


def test_quantity_the_app_did_not_open_becomes_an_external_position(engine_db: Database) -> None:
    with engine_db.session() as s:
        done = settlement.settle(s, "c1", ledger.SideKey(SYMBOL, "short"), Decimal("0.2"), Decimal("17000"),
                                 paper=False)
    (part,) = done.parts
    external = _position(engine_db, part.position_id)
    assert external.origin == "external" and external.status == "open" and external.open_quantity == Decimal("0.2")
    with engine_db.session() as s:  # it takes no set's place
        assert rec.count_open(s, "c1", SYMBOL, "short") == 0 and rec.count_open(s, "c1") == 1
        assert ledger.live_quantities(s, "c1") == {ledger.SideKey(SYMBOL, "short"): Decimal("0.2")}


def _funding(engine_db: Database, reports: list[FundingReport]) -> None:
    with engine_db.session() as s:
        touched = funding_ledger.record_funding(s, "c1", reports)
        ledger.allocate_and_refresh(s, "c1", touched)


def test_funding_with_a_long_and_a_short_is_shared_by_side(engine_db: Database) -> None:
    """Hedge mode, one long and one short: the exchange charges each side at the same time (Bybit names the
    side). Both payments are stored and each reaches its position; the daily-loss total sees them."""
    long_id, short_id = _entry(engine_db, "cts-c1-l", "long"), _entry(engine_db, "cts-c1-s", "short")
    _fills(engine_db, [Trade("TL", "EL", SYMBOL, "buy", 17200.0, 0.015, 0, NOW - 60_000, client_id="cts-c1-l"),
                       Trade("TS", "ES", SYMBOL, "sell", 17200.0, 0.03, 0, NOW - 60_000, client_id="cts-c1-s")])
    _funding(engine_db, [FundingReport(SYMBOL, -0.55, NOW, id="F1", side="long"),
                         FundingReport(SYMBOL, 0.3, NOW, id="F2", side="short")])
    assert _position(engine_db, long_id).funding == Decimal("-0.55")
    assert _position(engine_db, short_id).funding == Decimal("0.3")
    with engine_db.session() as s:
        since = datetime.now(UTC) - timedelta(hours=24)
        assert rec.net_result_since(s, "c1", since) == Decimal("-0.25")


def test_funding_without_a_side_is_shared_pro_rata_by_signed_quantity(engine_db: Database) -> None:
    """BingX names no side: two longs (0.01 and 0.02) and a short (0.01) hold 0.02 net long; a payment of -0.6
    gives the longs -0.3 and -0.6 and the short +0.3 — together exactly the payment."""
    a, b = _entry(engine_db, "cts-c1-a", "long"), _entry(engine_db, "cts-c1-b", "long")
    c = _entry(engine_db, "cts-c1-c", "short")
    _fills(engine_db, [Trade("TA", "EA", SYMBOL, "buy", 100.0, 0.01, 0, NOW - 60_000, client_id="cts-c1-a"),
                       Trade("TB", "EB", SYMBOL, "buy", 100.0, 0.02, 0, NOW - 60_000, client_id="cts-c1-b"),
                       Trade("TC", "EC", SYMBOL, "sell", 100.0, 0.01, 0, NOW - 60_000, client_id="cts-c1-c")])
    _funding(engine_db, [FundingReport(SYMBOL, -0.6, NOW, id="F1")])
    assert [_position(engine_db, i).funding for i in (a, b, c)] == [Decimal("-0.3"), Decimal("-0.6"),
                                                                     Decimal("0.3")]
    _funding(engine_db, [FundingReport(SYMBOL, -0.6, NOW, id="F1")])  # read again: stored once
    with engine_db.session() as s:
        assert sum(s.execute(select(FundingAllocation.amount)).scalars(), Decimal(0)) == Decimal("-0.6")


def test_funding_shares_are_exact_when_they_do_not_divide_evenly(engine_db: Database) -> None:
    ids = [_entry(engine_db, f"cts-c1-{n}", "long") for n in range(3)]
    _fills(engine_db, [Trade(f"T{n}", f"E{n}", SYMBOL, "buy", 100.0, 0.01, 0, NOW - 60_000, client_id=f"cts-c1-{n}")
                       for n in range(3)])
    _funding(engine_db, [FundingReport(SYMBOL, -1.0, NOW, id="F1", side="long")])
    shares = [_position(engine_db, i).funding for i in ids]
    assert sum(shares, Decimal(0)) == Decimal("-1.0")
    assert max(shares) - min(shares) < Decimal("1e-17")


def test_funding_before_a_position_opened_is_not_its_own(engine_db: Database) -> None:
    old = _entry(engine_db, "cts-c1-old")
    _fills(engine_db, [Trade("T1", "E1", SYMBOL, "buy", 100.0, 0.01, 0, NOW - 120_000, client_id="cts-c1-old"),
                       Trade("T2", "E2", SYMBOL, "sell", 100.0, 0.01, 0, NOW - 90_000)])
    new = _entry(engine_db, "cts-c1-new", opened_ms=NOW)
    _fills(engine_db, [Trade("T3", "E3", SYMBOL, "buy", 100.0, 0.01, 0, NOW + 1_000, client_id="cts-c1-new")])
    _funding(engine_db, [FundingReport(SYMBOL, -0.2, NOW - 60_000, id="F1", side="long")])
    assert _position(engine_db, old).funding == 0 and _position(engine_db, new).funding == 0
