"""What the Dashboard shows, as plain dataclasses read from the database and the running engines (no Qt here).

The Dashboard part (``dashboard.py``) calls these functions in a worker thread (SQL) or on the loop (engine
snapshots); the Qt models and widgets only format them. Every figure has one source: the DB rows the engine
writes, the engine's own status snapshot, psutil, or the database's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cts_desktop.events.status import EngineStatus, TradeEngineStatus
from cts_desktop.storage.models import BalanceSnapshot, ConfigSet, ExchangePosition, Fill, Order, RealPosition
from cts_desktop.storage.types import to_decimal

if TYPE_CHECKING:
    from cts_desktop.domain.book import SetBook
    from cts_desktop.exchanges.connections import ConnectionConfig

OPEN_STATUSES = ("opening", "open", "closing")
TIMEFRAME_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "4h": 14_400_000}


@dataclass(frozen=True, slots=True)
class PositionCounts:
    live: int
    paper: int


@dataclass(frozen=True, slots=True)
class DbTruth:
    """The dashboard's database figures, read in one transaction."""

    positions: PositionCounts
    daily_pnl: Decimal
    daily_closed: int
    daily_by_kind: dict[str, tuple[Decimal, int]]  # "paper" / "live" → (net, closed) of the last 24 h
    sets_by_status: dict[str, int]
    indications_by_type: dict[str, int]  # distinct (type, params, direction) variants per indication type
    last_balances: dict[str, float]  # connection id → newest balance snapshot (USDT)


@dataclass(frozen=True, slots=True)
class DashboardMetrics:
    connections_total: int
    connections_enabled: int
    connections_active: int  # engines connected and trading (running or paused)
    live_positions: int
    paper_positions: int
    pseudo_positions: int
    daily_pnl: Decimal  # net of closed Real positions over the last 24 h (realised − fees + funding)
    daily_closed: int
    balance_usdt: float | None
    balance_source: str  # "engines" | "snapshots" | "none"
    sets_by_status: dict[str, int]
    indications_by_type: dict[str, int]
    app_cpu_pct: float
    app_memory_mb: float
    machine_cpu_pct: float
    machine_memory_pct: float
    database_bytes: int
    database_kind: str
    daily_by_kind: dict[str, tuple[Decimal, int]] = field(default_factory=dict)  # paper / live apart

    @property
    def indication_variants(self) -> int:
        return sum(self.indications_by_type.values())

    def daily(self, kind: str) -> tuple[Decimal, int]:
        """(net, closed) of the last 24 h of ``kind`` (paper | live)."""
        return self.daily_by_kind.get(kind, (Decimal(0), 0))


@dataclass(frozen=True, slots=True)
class PositionRow:
    id: int
    connection_id: str
    symbol: str
    side: str
    paper: bool
    status: str
    quantity: float
    entry_price: float | None
    take_profit: float | None
    stop_loss: float | None
    exit_price: float | None
    net_pnl: float
    opened_ms: int
    closed_ms: int | None
    close_reason: str | None
    mark_price: float | None = None  # the exchange's, at the last sync
    unrealized_pnl: float | None = None  # (mark − entry) × open quantity, signed by side
    liquidation_price: float | None = None  # the exchange position's
    open_s: float | None = None  # how long it has been open (at the read)


@dataclass(frozen=True, slots=True)
class OrderRow:
    id: int
    connection_id: str
    client_order_id: str
    symbol: str
    side: str
    order_type: str
    quantity: float
    price: float | None
    average_price: float | None
    filled: float
    status: str
    paper: bool
    reduce_only: bool
    created_ms: int


@dataclass(frozen=True, slots=True)
class FillRow:
    id: int
    connection_id: str
    symbol: str
    side: str
    quantity: float
    price: float
    fee: float
    ts_ms: int


@dataclass(frozen=True, slots=True)
class TickerRow:
    symbol: str
    last: float | None
    change_pct_24h: float | None


@dataclass(frozen=True, slots=True)
class CandleSeries:
    """OHLCV arrays of one symbol and timeframe, oldest first (``ts`` = bar open, epoch ms)."""

    symbol: str
    timeframe: str
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return int(self.ts.shape[0])


@dataclass(frozen=True, slots=True)
class Marker:
    """An entry or exit on the chart: ``kind`` is real_entry | real_exit | pseudo_entry | pseudo_exit."""

    kind: str
    ts_ms: int
    price: float
    side: str  # long | short
    count: int = 1


@dataclass(frozen=True, slots=True)
class ChartOverlay:
    markers: list[Marker] = field(default_factory=list)
    levels: list[tuple[str, float]] = field(default_factory=list)  # ("TP #12 long", price) of open Real positions


def _ms(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def _f(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def read_db_truth(session: Session, now: datetime) -> DbTruth:
    counts = dict(session.execute(
        select(RealPosition.paper, func.count()).where(RealPosition.status.in_(OPEN_STATUSES))
        .group_by(RealPosition.paper)).all())
    closed = session.execute(
        select(RealPosition.realized_pnl, RealPosition.fees, RealPosition.funding, RealPosition.paper).where(
            RealPosition.status == "closed", RealPosition.closed_at >= now - timedelta(hours=24))).all()
    pnl = sum(((r[0] or Decimal(0)) - (r[1] or Decimal(0)) + (r[2] or Decimal(0)) for r in closed), Decimal(0))
    by_kind: dict[str, tuple[Decimal, int]] = {}
    for r in closed:
        kind = "paper" if r[3] else "live"
        net, count = by_kind.get(kind, (Decimal(0), 0))
        by_kind[kind] = (net + (r[0] or Decimal(0)) - (r[1] or Decimal(0)) + (r[2] or Decimal(0)), count + 1)
    statuses = dict(session.execute(select(ConfigSet.status, func.count()).group_by(ConfigSet.status)).all())
    distinct = select(ConfigSet.indication_type, ConfigSet.params, ConfigSet.direction, ConfigSet.symbol,
                      ConfigSet.connection_id).distinct().subquery()
    variants = session.execute(select(distinct.c.indication_type, func.count()).group_by(
        distinct.c.indication_type)).all()
    newest = select(BalanceSnapshot.connection_id, func.max(BalanceSnapshot.id).label("id")).group_by(
        BalanceSnapshot.connection_id).subquery()
    balances = session.execute(select(BalanceSnapshot.connection_id, BalanceSnapshot.total).join(
        newest, BalanceSnapshot.id == newest.c.id)).all()
    return DbTruth(
        positions=PositionCounts(live=int(counts.get(False, 0)), paper=int(counts.get(True, 0))),
        daily_pnl=pnl, daily_closed=len(closed), daily_by_kind=by_kind,
        sets_by_status={str(k): int(v) for k, v in statuses.items()},
        indications_by_type={str(k): int(v) for k, v in variants},
        last_balances={str(c): float(t) for c, t in balances},
    )


def engine_balance(status: EngineStatus | None, truth: DbTruth) -> tuple[float | None, str]:
    """Total USDT balance: the running engines' exchange balances (read from the exchange), else the newest
    balance snapshot of each connection, else unknown (there is no default balance, DOMAIN Part 1 §9)."""
    if status is not None:
        known = [e.balance_usdt for e in status.engines if e.balance_usdt is not None]
        if known:
            return float(sum(known)), "engines"
    if truth.last_balances:
        return float(sum(truth.last_balances.values())), "snapshots"
    return None, "none"


def open_positions(session: Session, limit: int) -> list[PositionRow]:
    """Open Real positions with the exchange's mark and liquidation price of their side, the unrealised PnL at
    that mark and the time open."""
    rows = session.execute(select(RealPosition).where(RealPosition.status.in_(OPEN_STATUSES))
                           .order_by(RealPosition.id.desc()).limit(limit)).scalars().all()
    sides = {(e.connection_id, e.symbol, e.side): e for e in session.execute(
        select(ExchangePosition).where(ExchangePosition.status == "open")).scalars()}
    now = datetime.now(UTC)
    out = []
    for p in rows:
        row = _position_row(p)
        side = sides.get((p.connection_id, p.symbol, p.side))
        mark = _f(side.mark_price) if side is not None else None
        unrealised = None
        if mark is not None and p.entry_price is not None:
            sign = 1 if p.side == "long" else -1
            unrealised = float((to_decimal(mark) - p.entry_price) * (p.open_quantity or Decimal(0)) * sign)
        opened = p.opened_at if p.opened_at.tzinfo is not None else p.opened_at.replace(tzinfo=UTC)
        out.append(replace(row, mark_price=mark, unrealized_pnl=unrealised,
                           liquidation_price=_f(side.liquidation_price) if side is not None else None,
                           open_s=(now - opened).total_seconds()))
    return out


def positions_for_chart(session: Session, connection_id: str, symbol: str, since: datetime) -> list[PositionRow]:
    rows = session.execute(select(RealPosition).where(
        RealPosition.connection_id == connection_id, RealPosition.symbol == symbol,
        RealPosition.status != "failed",
        (RealPosition.closed_at.is_(None)) | (RealPosition.closed_at >= since),
    ).order_by(RealPosition.id)).scalars()
    return [_position_row(p) for p in rows]


def _position_row(p: RealPosition) -> PositionRow:
    net = (p.realized_pnl or Decimal(0)) - (p.fees or Decimal(0)) + (p.funding or Decimal(0))
    return PositionRow(
        id=p.id, connection_id=p.connection_id, symbol=p.symbol, side=p.side, paper=bool(p.paper), status=p.status,
        quantity=float(p.quantity), entry_price=_f(p.entry_price), take_profit=_f(p.take_profit),
        stop_loss=_f(p.stop_loss), exit_price=_f(p.exit_price), net_pnl=float(net),
        opened_ms=_ms(p.opened_at) or 0, closed_ms=_ms(p.closed_at), close_reason=p.close_reason,
    )


def recent_orders(session: Session, limit: int) -> list[OrderRow]:
    rows = session.execute(select(Order).order_by(Order.id.desc()).limit(limit)).scalars()
    return [OrderRow(
        id=o.id, connection_id=o.connection_id, client_order_id=o.client_order_id, symbol=o.symbol, side=o.side,
        order_type=o.order_type, quantity=float(o.quantity), price=_f(o.price), average_price=_f(o.average_price),
        filled=float(o.filled or 0), status=o.status, paper=bool(o.paper), reduce_only=bool(o.reduce_only),
        created_ms=_ms(o.created_at) or 0,
    ) for o in rows]


def recent_fills(session: Session, limit: int) -> list[FillRow]:
    rows = session.execute(select(Fill).order_by(Fill.ts.desc(), Fill.id.desc()).limit(limit)).scalars()
    return [FillRow(id=f.id, connection_id=f.connection_id, symbol=f.symbol, side=f.side, quantity=float(f.quantity),
                    price=float(f.price), fee=float(f.fee or 0), ts_ms=_ms(f.ts) or 0) for f in rows]


def resample(rows: list[tuple[int, float, float, float, float, float]] | np.ndarray, symbol: str,
             timeframe: str) -> CandleSeries:
    """1-minute rows (ts, o, h, l, c, v) → bars of ``timeframe`` aligned to its multiple of epoch time."""
    step = TIMEFRAME_MS[timeframe]
    data = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    if data.shape[0] == 0:
        empty = np.empty(0)
        return CandleSeries(symbol, timeframe, np.empty(0, dtype=np.int64), empty, empty, empty, empty, empty)
    ts = data[:, 0].astype(np.int64)
    if step == TIMEFRAME_MS["1m"]:
        return CandleSeries(symbol, timeframe, ts, data[:, 1].copy(), data[:, 2].copy(), data[:, 3].copy(),
                            data[:, 4].copy(), data[:, 5].copy())
    bucket = ts // step
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(ts)]
    return CandleSeries(
        symbol, timeframe, bucket[starts] * step, data[starts, 1], np.maximum.reduceat(data[:, 2], starts),
        np.minimum.reduceat(data[:, 3], starts), data[ends - 1, 4], np.add.reduceat(data[:, 5], starts),
    )


PSEUDO_BLOCK_ENTRIES = 1 << 17  # ring entries read per block of sets by :func:`pseudo_exit_counts`


def pseudo_exit_counts(book: SetBook, since_s: int) -> tuple[np.ndarray, np.ndarray]:
    """Closes of the recorded pseudo results from ``since_s`` on, counted per (close second × 2 + is long): the
    sorted codes and their counts.

    Read from the ring pool a block of sets at a time, each block only as wide as its fullest ring, so the
    temporaries stay ~1 MB whatever the book holds. Read as whole dense rings (sets × capacity, widened to int64)
    they took ~100 MB of short-lived arrays per call at 14,784 sets; the chart asks every five seconds from a
    worker thread, and glibc kept what they left in its per-thread arenas — the window's process grew by
    ~200 MB per hour of the soak (``bench/soak.py --gui``) while the headless engine stayed flat."""
    from cts_desktop.domain.book_layout import CHUNK, T_CLOSE

    count = np.asarray(book.count)
    is_long = np.asarray(book.direction) > 0
    chunks = np.asarray(book.chunks)
    pool = book.pool_t.reshape(-1, CHUNK, 2)
    step = max(1, PSEUDO_BLOCK_ENTRIES // max(1, book.params.capacity))
    keys = counts = np.empty(0, dtype=np.int64)
    for a in range(0, len(count), step):
        b = min(a + step, len(count))
        width = -(-int(count[a:b].max(initial=0)) // CHUNK)  # chunks of the fullest ring of the block
        if width == 0:
            continue
        closes = pool[chunks[a:b, :width], :, T_CLOSE].reshape(b - a, width * CHUNK)  # the zero chunk where none
        mask = (np.arange(width * CHUNK)[None, :] < count[a:b, None]) & (closes >= since_s)
        rows = np.nonzero(mask)[0]
        if rows.size:  # merged as it goes: what is kept is one count per distinct (second, side)
            code, n = np.unique(closes[mask].astype(np.int64) * 2 + is_long[a + rows], return_counts=True)
            keys, inverse = np.unique(np.concatenate((keys, code)), return_inverse=True)
            counts = np.bincount(inverse, weights=np.concatenate((counts, n)), minlength=len(keys)).astype(np.int64)
    return keys, counts


def pseudo_markers(book: SetBook, since_ms: int = 0, limit: int = 5000) -> list[Marker]:
    """Entries of open pseudo positions and closes of the recorded pseudo results of one symbol's set book,
    aggregated per second and side: hundreds of sets enter on the same indication, so one marker carries the
    count. Result rings keep times and results but no prices, so exit markers have ``price`` NaN and the chart
    places them at the bar's close. Vectorised: a book holds up to sets × L × (1 + t) results."""
    from cts_desktop.domain.book_layout import B_OPEN, F_ENTRY, F_T0

    if book is None or len(book) == 0:
        return []
    since_s = since_ms // 1000
    is_long = np.asarray(book.direction) > 0
    out: list[Marker] = []
    sets, slots = np.nonzero(np.asarray(book.slot_b[:, :, B_OPEN]))
    if sets.size:
        t0 = np.floor(np.asarray(book.slot_f[sets, slots, F_T0])).astype(np.int64)
        price = np.abs(np.asarray(book.slot_f[sets, slots, F_ENTRY]))
        keep = t0 >= since_s
        code = t0[keep] * 2 + is_long[sets[keep]]
        keys, inverse, counts = np.unique(code, return_inverse=True, return_counts=True)
        sums = np.bincount(inverse, weights=price[keep])
        out += [Marker("pseudo_entry", int(k // 2) * 1000, float(sm / n), "long" if k % 2 else "short", int(n))
                for k, sm, n in zip(keys.tolist(), sums.tolist(), counts.tolist(), strict=True)]
    keys, counts = pseudo_exit_counts(book, since_s)
    out += [Marker("pseudo_exit", int(k // 2) * 1000, float("nan"), "long" if k % 2 else "short", int(n))
            for k, n in zip(keys.tolist(), counts.tolist(), strict=True)]
    out.sort(key=lambda m: m.ts_ms)
    return out[-limit:]


def real_overlay(positions: list[PositionRow]) -> ChartOverlay:
    markers: list[Marker] = []
    levels: list[tuple[str, float]] = []
    for p in positions:
        if p.entry_price is not None:
            markers.append(Marker("real_entry", p.opened_ms, p.entry_price, p.side))
        if p.closed_ms is not None and p.exit_price is not None:
            markers.append(Marker("real_exit", p.closed_ms, p.exit_price, p.side))
        if p.status in OPEN_STATUSES:
            if p.take_profit is not None:
                levels.append((f"TP #{p.id} {p.side}", p.take_profit))
            if p.stop_loss is not None:
                levels.append((f"SL #{p.id} {p.side}", p.stop_loss))
    return ChartOverlay(markers, levels)


@dataclass(frozen=True, slots=True)
class ConnectionCard:
    """One connection on the Dashboard: its stored switches and, when an engine runs, the engine's snapshot."""

    id: str
    name: str
    exchange: str
    is_replay: bool
    enabled: bool
    active: bool
    live_trade: bool
    volume_factor: float
    open_positions: int
    engine: TradeEngineStatus | None
    preset_trade: bool = False

    @property
    def status(self) -> str:
        """Connected / Loading / Connecting / Disabled / Error."""
        if not self.enabled:
            return "Disabled"
        if self.engine is None:
            return "Idle"
        state, connection = self.engine.state.value, self.engine.connection.value
        if state == "error" or connection == "error":
            return "Error"
        if connection == "loading":
            return "Loading"
        if connection == "connected" and state in ("running", "paused"):
            return "Connected"
        return "Connecting"

    @property
    def balance_usdt(self) -> float | None:
        return None if self.engine is None else self.engine.balance_usdt


def open_by_connection(session: Session) -> dict[str, int]:
    rows = session.execute(select(RealPosition.connection_id, func.count()).where(
        RealPosition.status.in_(OPEN_STATUSES)).group_by(RealPosition.connection_id)).all()
    return {str(c): int(n) for c, n in rows}


def connection_card(config: ConnectionConfig, engine: TradeEngineStatus | None, open_positions: int
                    ) -> ConnectionCard:
    return ConnectionCard(
        id=config.id, name=config.name, exchange=config.exchange_id, is_replay=bool(config.is_replay),
        enabled=bool(config.is_enabled), active=bool(config.is_active), live_trade=bool(config.is_live_trade),
        preset_trade=bool(config.is_preset_trade),
        volume_factor=float(config.settings.live_volume_factor), open_positions=open_positions, engine=engine,
    )
