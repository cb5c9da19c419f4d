"""Migrations from empty and create/read/update/delete of every model, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, inspect, select
from sqlalchemy.exc import IntegrityError

from cts_desktop.storage import models as m
from cts_desktop.storage.db import Database
from cts_desktop.storage.migrate import current_revision, head_revision


def test_migrations_create_every_table_and_reach_head(db: Database) -> None:
    tables = set(inspect(db.engine).get_table_names(schema=db.schema))
    assert {t.name for t in m.Base.metadata.sorted_tables} <= tables
    assert current_revision(db.engine) == head_revision()
    # applying again is a no-op
    assert db.migrate() == head_revision()


def _connection(session_db: Database, cid: str = "c1") -> None:
    with session_db.session() as s:
        s.add(m.Connection(id=cid, name=f"Conn {cid}", exchange="bybit"))


def test_money_round_trips_exactly(db: Database) -> None:
    _connection(db)
    price = Decimal("64123.123456789012345678")
    qty = Decimal("0.001")
    with db.session() as s:
        s.add(m.Order(connection_id="c1", client_order_id="cts-1", symbol="BTC/USDT:USDT", side="buy",
                      order_type="market", quantity=qty, price=price, fee=0.1))
    with db.session() as s:
        order = s.execute(select(m.Order)).scalar_one()
        assert order.price == price
        assert order.quantity == qty
        assert order.fee == Decimal("0.1")  # a float goes in through repr, not its binary expansion
        assert order.created_at.tzinfo is not None


def test_client_order_id_is_unique(db: Database) -> None:
    _connection(db)
    row = dict(connection_id="c1", client_order_id="cts-dup", symbol="X", side="buy", order_type="market",
               quantity=Decimal(1))
    with db.session() as s:
        s.add(m.Order(**row))
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(m.Order(**row))


def test_candles_unique_per_connection_symbol_timeframe_time(db: Database) -> None:
    _connection(db)
    bar = dict(connection_id="c1", symbol="BTC/USDT:USDT", timeframe="5m", ts=1_700_000_000_000,
               open=1.0, high=2.0, low=0.5, close=1.5, volume=10.0)
    with db.session() as s:
        s.add(m.Candle(**bar))
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(m.Candle(**bar))
    with db.session() as s:
        s.add(m.Candle(**{**bar, "timeframe": "1m"}))


def test_crud_of_every_model(db: Database) -> None:
    now = datetime.now(UTC)
    _connection(db)
    with db.session() as s:
        s.add(m.Setting(key="system.position_length", value="250"))
        market = m.Market(connection_id="c1", symbol="BTC/USDT:USDT", base="BTC", quote="USDT",
                          amount_precision=Decimal("0.001"), price_precision=Decimal("0.1"),
                          min_amount=Decimal("0.001"), max_leverage=100.0)
        cset = m.ConfigSet(connection_id="c1", symbol="BTC/USDT:USDT", indication_type="direction", params="R=5",
                           direction="long", tp=10, sl=0.5)
        s.add_all([market, cset])
        s.flush()
        s.add(m.PseudoResult(set_id=cset.id, opened_ms=1, closed_ms=2, entry=100.0, exit=101.0, result_pc=8.9,
                             reason="tp"))
        s.add(m.BookSnapshot(connection_id="c1", symbol="BTC/USDT:USDT", payload=b"\x00\x01"))
        real = m.RealPosition(connection_id="c1", set_id=cset.id, symbol="BTC/USDT:USDT", side="long",
                              quantity=Decimal("0.002"), entry_price=Decimal("64000.5"))
        s.add(real)
        s.flush()
        order = m.Order(connection_id="c1", client_order_id="cts-2", symbol="BTC/USDT:USDT", side="buy",
                        order_type="market", quantity=Decimal("0.002"), real_position_id=real.id)
        s.add(order)
        s.flush()
        s.add(m.Fill(connection_id="c1", order_id=order.id, exchange_trade_id="t1", symbol="BTC/USDT:USDT",
                     side="buy", quantity=Decimal("0.002"), price=Decimal("64000.5"), fee=Decimal("0.0704"), ts=now))
        s.add(m.ExchangePosition(connection_id="c1", real_position_id=real.id, symbol="BTC/USDT:USDT", side="long",
                                 quantity=Decimal("0.002"), entry_price=Decimal("64000.5")))
        funding = m.FundingPayment(connection_id="c1", exchange_id="f1", symbol="BTC/USDT:USDT", side="long",
                                   amount=Decimal("-0.0128"), rate=1e-4, ts=now)
        s.add(funding)
        s.flush()
        fill = s.execute(select(m.Fill)).scalar_one()
        s.add(m.FillAllocation(fill_id=fill.id, real_position_id=real.id, quantity=Decimal("0.002"),
                               fee=Decimal("0.0704"), opening=True))
        s.add(m.FundingAllocation(funding_payment_id=funding.id, real_position_id=real.id, amount=Decimal("-0.0128")))
        s.add(m.PositionAdjustment(connection_id="c1", real_position_id=real.id, symbol="BTC/USDT:USDT", side="long",
                                   quantity=Decimal("-0.001"), db_quantity=Decimal("0.002"),
                                   exchange_quantity=Decimal("0.001"), reason="test"))
        s.add(m.BalanceSnapshot(connection_id="c1", total=Decimal("1000"), free=Decimal("900"), used=Decimal("100")))
        s.add(m.EngineState(connection_id="c1", status="running", cycles={"main": 3}))
        s.add(m.CycleMetric(connection_id="c1", loop="main", ts_ms=1, duration_ms=1.5))
        s.add(m.LogRecord(ts_ms=1, levelno=20, level="INFO", category="system", logger="cts.system", message="hi"))
        s.add(m.Alert(severity="critical", source="supervisor", message="gave up"))
        s.add(m.Backtest(name="bt", metrics={"trades": 3}, equity=[1, 2, 3]))
        s.add(m.Lease(connection_id="c1", holder="host:1", expires_at=now + timedelta(seconds=30)))

    models = [m.Setting, m.Market, m.ConfigSet, m.PseudoResult, m.BookSnapshot, m.RealPosition, m.Order, m.Fill,
              m.ExchangePosition, m.FundingPayment, m.BalanceSnapshot, m.EngineState, m.CycleMetric, m.LogRecord,
              m.Alert, m.Backtest, m.Lease, m.Connection]
    with db.session() as s:
        for model in models:
            assert s.execute(select(model)).scalars().all(), model.__name__
        # update
        pos = s.execute(select(m.RealPosition)).scalar_one()
        pos.status = "closed"
        pos.realized_pnl = Decimal("1.23")
    with db.session() as s:
        assert s.execute(select(m.RealPosition.realized_pnl)).scalar_one() == Decimal("1.23")
        fill = s.execute(select(m.Fill)).scalar_one()
        assert fill.fee == Decimal("0.0704")
        # deleting the connection cascades to what belongs to it
        s.execute(delete(m.Connection).where(m.Connection.id == "c1"))
    with db.session() as s:
        for model in (m.Market, m.ConfigSet, m.PseudoResult, m.Order, m.Fill, m.Candle):
            assert s.execute(select(model)).scalars().all() == [], model.__name__


def test_integrity_check_and_size(db: Database) -> None:
    assert db.integrity_check() == []
    assert db.size_bytes() > 0
    assert db.ping() >= 0
