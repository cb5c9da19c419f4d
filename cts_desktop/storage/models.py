"""SQLAlchemy 2 typed models: the whole schema of the app (DOMAIN.md Part 2 §10, redesigned from the domain).

Secrets never live here: API keys, secrets and the PostgreSQL password are in the OS keyring only. Timestamps are
timezone-aware UTC datetimes; high-rate time series (candles, logs, metrics) carry epoch milliseconds where range
queries dominate. Money columns use :class:`~cts_desktop.storage.types.Money` (exact decimals).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

# the preset tables live in their own module; importing it puts them in Base.metadata too (migration 0002)
from cts_desktop.storage import models_presets as models_presets
from cts_desktop.storage.model_base import Base as Base
from cts_desktop.storage.model_base import utcnow
from cts_desktop.storage.types import JsonText, Money, UtcDateTime

# --- core ------------------------------------------------------------------------------------------------------


class Setting(Base):
    """One row per setting key; the value is the schema's JSON encoding (domain/settings.py)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


# --- connections and markets ---------------------------------------------------------------------------------------


class Connection(Base):
    """An exchange connection. Its keys are in the keyring under the connection id, never in this row."""

    __tablename__ = "connections"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    exchange: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20), default="generic")  # predefined | generic | replay
    api_type: Mapped[str] = mapped_column(String(40), default="perpetual_futures")
    testnet: Mapped[bool] = mapped_column(Boolean, default=False)
    margin_type: Mapped[str] = mapped_column(String(20), default="cross")
    position_mode: Mapped[str] = mapped_column(String(20), default="hedge")
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    is_live_trade: Mapped[bool] = mapped_column(Boolean, default=False)
    is_preset_trade: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JsonText, default=dict)
    rate_limits: Mapped[dict[str, Any]] = mapped_column(JsonText, default=dict)
    last_test_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_test_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    last_test_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_test_balance: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    last_test_log: Mapped[list[Any] | None] = mapped_column(JsonText, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Market(Base):
    __tablename__ = "markets"
    __table_args__ = (UniqueConstraint("connection_id", "symbol"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    symbol: Mapped[str] = mapped_column(String(60))
    base: Mapped[str] = mapped_column(String(30))
    quote: Mapped[str] = mapped_column(String(30))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    amount_precision: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    price_precision: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    min_amount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    min_cost: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    contract_size: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    max_leverage: Mapped[float | None] = mapped_column(Float, nullable=True)
    taker_fee: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    maker_fee: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    volume_24h: Mapped[float | None] = mapped_column(Float, nullable=True)
    change_24h: Mapped[float | None] = mapped_column(Float, nullable=True)
    volatility: Mapped[float | None] = mapped_column(Float, nullable=True)
    selected: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Candle(Base):
    """OHLCV bar; the primary key is the uniqueness rule (connection, symbol, timeframe, open time)."""

    __tablename__ = "candles"
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    symbol: Mapped[str] = mapped_column(String(60), primary_key=True)
    timeframe: Mapped[str] = mapped_column(String(8), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # open time, epoch ms
    open: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    close: Mapped[float] = mapped_column(Float)
    volume: Mapped[float] = mapped_column(Float)


# --- configuration sets and pseudo results -------------------------------------------------------------------------


class ConfigSet(Base):
    """A configuration set (DOMAIN Part 1 §3) with its current statistics and promotion status."""

    __tablename__ = "config_sets"
    __table_args__ = (
        UniqueConstraint(
            "connection_id",
            "symbol",
            "indication_type",
            "params",
            "direction",
            "tp",
            "sl",
            "trail_start",
            "trail_stop",
        ),
        Index("ix_config_sets_status", "status"),  # the Dashboard's count by status (migration 0009)
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    symbol: Mapped[str] = mapped_column(String(60))
    indication_type: Mapped[str] = mapped_column(String(30))
    params: Mapped[str] = mapped_column(String(200))  # canonical text of the parameter tuple
    direction: Mapped[str] = mapped_column(String(5))  # long | short
    tp: Mapped[float] = mapped_column(Float)
    sl: Mapped[float] = mapped_column(Float)
    trail_start: Mapped[float] = mapped_column(Float, default=0.0)  # 0 = no trailing
    trail_stop: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(12), default="evaluating")
    layer: Mapped[str] = mapped_column(String(10), default="base")  # base | main | real
    stored_results: Mapped[int] = mapped_column(Integer, default=0)  # rows in pseudo_results for this set
    total_closed: Mapped[int] = mapped_column(Integer, default=0)
    stats: Mapped[dict[str, Any]] = mapped_column(JsonText, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class PseudoResult(Base):
    """A closed pseudo position of a set; the set's history is trimmed to its newest L (DOMAIN Part 1 §5)."""

    __tablename__ = "pseudo_results"
    __table_args__ = (Index("ix_pseudo_results_set_id_id", "set_id", "id"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("config_sets.id", ondelete="CASCADE"))
    opened_ms: Mapped[int] = mapped_column(BigInteger)
    closed_ms: Mapped[int] = mapped_column(BigInteger)
    entry: Mapped[float] = mapped_column(Float)
    exit: Mapped[float] = mapped_column(Float)
    result_pc: Mapped[float] = mapped_column(Float)  # per-position PF in position-cost units, after fees
    drawdown_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    reason: Mapped[str] = mapped_column(String(12))  # tp | sl | trailing | timeout


class BookSnapshot(Base):
    """Compact snapshot of one symbol's configuration-set book so an engine restarts where it stopped."""

    __tablename__ = "book_snapshots"
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    symbol: Mapped[str] = mapped_column(String(60), primary_key=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


# --- real trading ---------------------------------------------------------------------------------------------------


class RealPosition(Base):
    """A Real-layer position: what the app decided to trade for a set (paper or live)."""

    __tablename__ = "real_positions"
    __table_args__ = (Index("ix_real_positions_conn_status", "connection_id", "status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    set_id: Mapped[int | None] = mapped_column(
        ForeignKey("config_sets.id", ondelete="SET NULL"), nullable=True
    )
    symbol: Mapped[str] = mapped_column(String(60))
    side: Mapped[str] = mapped_column(String(5))
    paper: Mapped[bool] = mapped_column(Boolean, default=True)
    quantity: Mapped[Decimal] = mapped_column(Money)
    entry_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    take_profit: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    stop_loss: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    exit_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    realized_pnl: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    fees: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    funding: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    leverage: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(12), default="opening")  # opening|open|closing|closed|failed
    close_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True, index=True)
    # what is open now by the ledger: opening fills - closing fills + reconciliation adjustments
    open_quantity: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    # "engine": opened by this app; "external": found on the exchange, opened by someone else
    origin: Mapped[str] = mapped_column(String(10), default="engine")


class Order(Base):
    """An order, written as ``pending`` with its client order id before it is sent (never doubled on retry)."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_conn_status", "connection_id", "status"),
        Index("ix_orders_created_at", "created_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    client_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    exchange_order_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    real_position_id: Mapped[int | None] = mapped_column(
        ForeignKey("real_positions.id", ondelete="SET NULL"), nullable=True
    )
    symbol: Mapped[str] = mapped_column(String(60))
    side: Mapped[str] = mapped_column(String(5))  # buy | sell
    order_type: Mapped[str] = mapped_column(String(12))  # market | limit
    quantity: Mapped[Decimal] = mapped_column(Money)
    price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    take_profit: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    stop_loss: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    reduce_only: Mapped[bool] = mapped_column(Boolean, default=False)
    paper: Mapped[bool] = mapped_column(Boolean, default=True)
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    filled: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    average_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    fee: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Fill(Base):
    """One execution as the exchange reports it. ``order_id`` links it to our order row (by client id or exchange
    order id, also when the order's id is learned after the fill was stored); its quantity reaches Real positions
    through :class:`FillAllocation` rows."""

    __tablename__ = "fills"
    __table_args__ = (UniqueConstraint("connection_id", "exchange_trade_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), nullable=True)
    exchange_trade_id: Mapped[str] = mapped_column(String(80))
    exchange_order_id: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    symbol: Mapped[str] = mapped_column(String(60))
    side: Mapped[str] = mapped_column(String(5))
    quantity: Mapped[Decimal] = mapped_column(Money)
    price: Mapped[Decimal] = mapped_column(Money)
    fee: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    fee_currency: Mapped[str] = mapped_column(String(12), default="USDT")
    ts: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class FillAllocation(Base):
    """The part of a fill that opened or closed one Real position (a fill that closes several positions of one
    exchange position — an exchange-side stop of the whole side — is split over them, oldest first). ``fee`` is
    the fill's fee pro rata; the shares of a fully allocated fill add up to its fee exactly."""

    __tablename__ = "fill_allocations"
    __table_args__ = (UniqueConstraint("fill_id", "real_position_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fill_id: Mapped[int] = mapped_column(ForeignKey("fills.id", ondelete="CASCADE"), index=True)
    real_position_id: Mapped[int] = mapped_column(ForeignKey("real_positions.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Money)
    fee: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    opening: Mapped[bool] = mapped_column(Boolean)


class PositionAdjustment(Base):
    """A difference between the DB and the exchange that no fill explains, settled once with its reason: a
    negative quantity closed part of a position the exchange no longer holds, a positive one is an external
    position's quantity. A fill that arrives later and explains it adds the opposite adjustment."""

    __tablename__ = "position_adjustments"
    __table_args__ = (Index("ix_position_adjustments_conn_ts", "connection_id", "ts"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    real_position_id: Mapped[int] = mapped_column(ForeignKey("real_positions.id", ondelete="CASCADE"), index=True)
    symbol: Mapped[str] = mapped_column(String(60))
    side: Mapped[str] = mapped_column(String(5))
    quantity: Mapped[Decimal] = mapped_column(Money)
    db_quantity: Mapped[Decimal] = mapped_column(Money)
    exchange_quantity: Mapped[Decimal] = mapped_column(Money)
    fill_id: Mapped[int | None] = mapped_column(ForeignKey("fills.id", ondelete="SET NULL"), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    ts: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ExchangePosition(Base):
    """A position as the exchange reports it (live mirror of Real positions)."""

    __tablename__ = "exchange_positions"
    __table_args__ = (Index("ix_exchange_positions_conn_status", "connection_id", "status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    real_position_id: Mapped[int | None] = mapped_column(
        ForeignKey("real_positions.id", ondelete="SET NULL"), nullable=True
    )
    symbol: Mapped[str] = mapped_column(String(60))
    side: Mapped[str] = mapped_column(String(5))
    quantity: Mapped[Decimal] = mapped_column(Money)
    entry_price: Mapped[Decimal] = mapped_column(Money)
    mark_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    leverage: Mapped[float | None] = mapped_column(Float, nullable=True)
    unrealized_pnl: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    liquidation_price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    realized_pnl: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    fees: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    funding: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    status: Mapped[str] = mapped_column(String(12), default="open")
    sync_status: Mapped[str] = mapped_column(String(16), default="synced")
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class FundingPayment(Base):
    """One funding settlement of the account as the exchange reports it (``amount`` < 0: paid). ``side`` is the
    position side it was charged to where the exchange says so (Bybit), else empty (BingX: per symbol)."""

    __tablename__ = "funding_payments"
    __table_args__ = (UniqueConstraint("connection_id", "exchange_id"), Index("ix_funding_payments_conn_ts",
                                                                               "connection_id", "symbol", "ts"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    exchange_id: Mapped[str] = mapped_column(String(120))
    symbol: Mapped[str] = mapped_column(String(60))
    side: Mapped[str] = mapped_column(String(5), default="")
    amount: Mapped[Decimal] = mapped_column(Money)
    rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime())


class FundingAllocation(Base):
    """The share of a funding payment charged to one Real position: pro rata by the quantity each position held
    at the settlement, the shares adding up to the payment exactly."""

    __tablename__ = "funding_allocations"
    __table_args__ = (UniqueConstraint("funding_payment_id", "real_position_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    funding_payment_id: Mapped[int] = mapped_column(ForeignKey("funding_payments.id", ondelete="CASCADE"),
                                                    index=True)
    real_position_id: Mapped[int] = mapped_column(ForeignKey("real_positions.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)


class BalanceSnapshot(Base):
    __tablename__ = "balance_snapshots"
    __table_args__ = (Index("ix_balance_snapshots_conn_ts", "connection_id", "ts"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    currency: Mapped[str] = mapped_column(String(12), default="USDT")
    total: Mapped[Decimal] = mapped_column(Money)
    free: Mapped[Decimal] = mapped_column(Money)
    used: Mapped[Decimal] = mapped_column(Money)
    ts: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # of the paper account (None: a snapshot stored before this was recorded); the exchange positions' unrealised
    # PnL at the snapshot and the equity (balance with it: a paper total holds it already, an exchange wallet not)
    paper: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    unrealized_pnl: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    equity: Mapped[Decimal | None] = mapped_column(Money, nullable=True)


# --- engine, monitoring ----------------------------------------------------------------------------------------------


class EngineState(Base):
    """Last known state of an engine; connection_id '*' is the process-wide coordinator."""

    __tablename__ = "engine_state"
    connection_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(12), default="stopped", index=True)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    cycles: Mapped[dict[str, Any]] = mapped_column(JsonText, default=dict)
    health: Mapped[dict[str, Any]] = mapped_column(JsonText, default=dict)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class CycleMetric(Base):
    """One loop of one engine over one persist window: ``cycles`` ran, ``errors`` failed, ``duration_ms`` is their
    mean and ``max_ms`` the slowest (``ok`` = no error in the window)."""

    __tablename__ = "cycle_metrics"
    __table_args__ = (Index("ix_cycle_metrics_conn_loop_ts", "connection_id", "loop", "ts_ms"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    connection_id: Mapped[str] = mapped_column(String(40))
    loop: Mapped[str] = mapped_column(String(20))
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    duration_ms: Mapped[float] = mapped_column(Float)
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    cycles: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    errors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    max_ms: Mapped[float | None] = mapped_column(Float, nullable=True)


class LogRecord(Base):
    """A structured log record (level, category, connection, message, context, exception text)."""

    __tablename__ = "logs"
    __table_args__ = (
        Index("ix_logs_level_ts", "levelno", "ts_ms"),
        Index("ix_logs_category_ts", "category", "ts_ms"),
        Index("ix_logs_connection_ts", "connection_id", "ts_ms"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    levelno: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(20))
    logger: Mapped[str] = mapped_column(String(120))
    connection_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    symbol: Mapped[str | None] = mapped_column(String(60), nullable=True)
    message: Mapped[str] = mapped_column(Text)
    context: Mapped[dict[str, Any] | None] = mapped_column(JsonText, nullable=True)
    exc_text: Mapped[str | None] = mapped_column(Text, nullable=True)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_ack_ts", "acknowledged_at", "created_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    severity: Mapped[str] = mapped_column(String(10))  # info | warning | critical
    source: Mapped[str] = mapped_column(String(60))
    connection_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class Backtest(Base):
    __tablename__ = "backtests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default="done")
    params: Mapped[dict[str, Any]] = mapped_column(JsonText, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JsonText, default=dict)
    equity: Mapped[list[Any]] = mapped_column(JsonText, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)


class Lease(Base):
    """Which process trades a connection (headless on PostgreSQL): a row with an expiry, renewed while alive."""

    __tablename__ = "leases"
    connection_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())

