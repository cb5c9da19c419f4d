"""The Preset engine of one connection (DOMAIN Part 1 §8, §10; Part 2 §5.3–5.4): the configuration sets of the
preset type assigned to the connection, traded on common indicators over OHLC candles built from the price
stream.

* Candles of ``indications.common.candle_timeframe_s`` are built from the engine's prices (and warmed from the
  cached 1-minute history); when a candle closes, every set's indication is evaluated on the candles so far with
  the same signal rules the backtest uses (:mod:`cts_desktop.backtest.signals`).
* Each set has its own pseudo-position book (:class:`~cts_desktop.domain.book.SetBook`, the one exit simulator),
  moved by every price; concurrency is the preset type's "max positions per direction", the cooldown its
  "timeout after position".
* A set whose saved backtest passed its rules and whose live gross PF over its last ``eval_count_1`` pseudo
  results (once it has them) stays ≥ ``pf_min`` sends an entry signal to the connection's order manager — only
  when the connection has Preset Trade on, the Preset engine is enabled and the engine is not paused. Sets with
  trailing stay pseudo-only here (the order loop mirrors trailing exits for Main sets only).

The engine subscribes to the connection's ``PriceUpdate`` events; :func:`attach_preset_engine` is the one call
the connection engine makes at start (its task ends with the engine's other loops).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from cts_desktop.backtest.history import rows_to_bars
from cts_desktop.backtest.runner import FixedSet
from cts_desktop.backtest.signals import entries
from cts_desktop.domain.bars import LONG, Bars
from cts_desktop.domain.book import BookParams, SetBook
from cts_desktop.domain.exits import ExitParams
from cts_desktop.domain.matrix import build_matrix
from cts_desktop.engine.order_manager import EntrySignal
from cts_desktop.engine.trading_events import PriceUpdate

if TYPE_CHECKING:
    from cts_desktop.engine.connection_engine import ConnectionEngine

log = logging.getLogger("cts.engine.preset")
HISTORY_BARS = 600  # candles kept per symbol: enough for every indicator's warm-up at the default periods


@dataclass(frozen=True, slots=True)
class LiveSet:
    """One fixed configuration set of the assigned preset type, with its rules and saved backtest verdict."""

    set_id: int
    fixed: FixedSet
    pf_min: float
    eval_count: int
    backtest_ok: bool


@dataclass
class _Candles:
    """OHLC candles of one symbol, newest last; the open candle is kept apart until its period ends."""

    seconds: float
    time: list[float] = field(default_factory=list)
    o: list[float] = field(default_factory=list)
    h: list[float] = field(default_factory=list)
    lo: list[float] = field(default_factory=list)
    c: list[float] = field(default_factory=list)
    current: list[float] | None = None  # [start, o, h, l, c]

    def push(self, t: float, price: float) -> bool:
        """Add a price; True when it closed the previous candle."""
        start = math.floor(t / self.seconds) * self.seconds
        cur = self.current
        if cur is None:
            self.current = [start, price, price, price, price]
            return False
        if start > cur[0]:
            self._close(cur)
            self.current = [start, price, price, price, price]
            return True
        cur[2] = max(cur[2], price)
        cur[3] = min(cur[3], price)
        cur[4] = price
        return False

    def _close(self, cur: list[float]) -> None:
        for arr, v in zip((self.time, self.o, self.h, self.lo, self.c), cur, strict=True):
            arr.append(v)
        if len(self.time) > HISTORY_BARS:
            for arr in (self.time, self.o, self.h, self.lo, self.c):
                del arr[: len(arr) - HISTORY_BARS]

    def warm(self, bars: Bars) -> None:
        """Seed from finer candles (e.g. the cached 1-minute history), aggregated to this candle size."""
        if len(bars) == 0:
            return
        for i in range(len(bars)):
            t = float(bars.time[i])
            start = math.floor(t / self.seconds) * self.seconds
            cur = self.current
            if cur is None or start > cur[0]:
                if cur is not None:
                    self._close(cur)
                self.current = [start, float(bars.open[i]), float(bars.high[i]), float(bars.low[i]),
                                float(bars.close[i])]
            else:
                cur[2] = max(cur[2], float(bars.high[i]))
                cur[3] = min(cur[3], float(bars.low[i]))
                cur[4] = float(bars.close[i])

    def bars(self) -> Bars:
        return Bars(*(np.asarray(a, dtype=np.float64) for a in (self.time, self.o, self.h, self.lo, self.c)))


class PresetRunner:
    """The synchronous core (no I/O): candles, signals, pseudo books and live entry decisions."""

    def __init__(self, sets: list[LiveSet], params: ExitParams, candle_s: float, max_open: int = 1,
                 cooldown_s: float = 0.0, history: int = 250) -> None:
        self.sets = sets
        self.params = params
        self.candle_s = candle_s
        self.book_params = BookParams(exit=params, max_open=max_open, history=history, cooldown_s=cooldown_s)
        self.candles: dict[str, _Candles] = {}
        self.books: dict[tuple[str, int], SetBook] = {}
        self.evaluations = 0  # candle closes at which the sets were evaluated
        self.fired = 0
        self.signals_sent = 0

    def _book(self, symbol: str, index: int) -> SetBook:
        key = (symbol, index)
        book = self.books.get(key)
        if book is None:
            e = self.sets[index].fixed.exit
            trailing = ((e.trail_start, e.trail_stop),) if e.trailing else (None,)
            book = SetBook(build_matrix((e.tp,), (e.sl,), trailing), self.book_params)
            self.books[key] = book
        return book

    def warm(self, symbol: str, bars: Bars) -> None:
        self.candles.setdefault(symbol, _Candles(self.candle_s)).warm(bars)

    def live_ok(self, symbol: str, index: int) -> bool:
        """The saved backtest passed, and the live pseudo results keep gross PF ≥ pf_min once there are enough."""
        s = self.sets[index]
        if not s.backtest_ok:
            return False
        book = self.books.get((symbol, index))
        if book is None or len(book) == 0 or book.count[0] < s.eval_count:
            return True
        r = book.results(0)[-s.eval_count:]
        loss = float(-r[r <= 0].sum())
        return loss == 0 or float(r[r > 0].sum()) / loss >= s.pf_min

    def on_price(self, symbol: str, t: float, price: float, entries_allowed: bool = True) -> list[EntrySignal]:
        """Move the pseudo books; on a candle close evaluate every set. Returns the live entry signals."""
        for (sym, _i), book in self.books.items():
            if sym == symbol and len(book):
                book.update_price(t, price)
        candles = self.candles.setdefault(symbol, _Candles(self.candle_s))
        if not candles.push(t, price) or not entries_allowed or len(candles.time) < 3:
            return []
        bars = candles.bars()
        self.evaluations += 1
        out: list[EntrySignal] = []
        for index, s in enumerate(self.sets):
            f = s.fixed
            long_, short = entries(f.indication, f.params, bars, self.params.pc)
            if not (long_ if f.direction == LONG else short)[-1]:
                continue
            self.fired += 1
            book = self._book(symbol, index)
            opened = book.on_indication((f.indication, f.params, f.direction), t, price)
            if opened and not f.exit.trailing and self.live_ok(symbol, index):
                tp = f.exit.tp * self.params.pc
                out.append(EntrySignal(
                    symbol=symbol, direction="long" if f.direction == LONG else "short", price=price,
                    stop_loss_frac=f.exit.sl * tp, take_profit_frac=tp, set_id=None,
                    label=f"preset set {s.set_id}: {f.label}",
                ))
        self.signals_sent += len(out)
        return out

    def open_pseudo(self) -> int:
        return sum(int(b.open_count().sum()) for b in self.books.values() if len(b))


def load_live_sets(session: Any, connection_id: str) -> tuple[dict[str, Any] | None, list[LiveSet]]:
    """The preset type assigned to the connection (its settings) and its active fixed sets by priority."""
    from cts_desktop.backtest import store

    type_id = store.connection_preset(session, connection_id)
    if type_id is None:
        return None, []
    types = {t.id: t for t in store.list_preset_types(session)}
    sets = []
    for row in store.preset_sets(session, type_id, active_only=True):
        if row.fixed is None:
            continue
        d = row.definition
        gross = row.metrics.get("gross_pf")
        ok = gross is None or float(gross) >= d.pf_min  # None: stored as "no loss"
        sets.append(LiveSet(row.id, row.fixed, d.pf_min, d.eval_count_1, bool(ok and row.metrics)))
    return types[type_id].settings if type_id in types else {}, sets


def attach_preset_engine(engine: ConnectionEngine) -> None:
    """Start the Preset engine of ``engine``'s connection as one of its loops (stopped with the engine)."""
    engine._spawn(_run(engine), "preset")


async def _run(engine: ConnectionEngine) -> None:
    connection_id = engine.config.id
    settings, sets = await engine.deps.db.run(lambda s: load_live_sets(s, connection_id))
    if settings is None or not sets:
        log.info("no preset type with fixed configuration sets is assigned: the Preset engine stays idle",
                 extra={"connection_id": connection_id})
        return
    values = engine.values
    pc = float(values["overall.position_cost"]) / 100.0  # type: ignore[arg-type]
    fee = float(values["overall.default_taker_fee"]) / 100.0  # type: ignore[arg-type]
    timeout_h = float(values["strategy.preset_position_timeout_hours"])  # type: ignore[arg-type]
    runner = PresetRunner(
        sets, ExitParams(pc=pc, fee=fee, timeout_s=timeout_h * 3600.0),
        float(values["indications.common.candle_timeframe_s"]),  # type: ignore[arg-type]
        max_open=int(settings.get("max_positions_per_direction", 1)),
        cooldown_s=float(settings.get("timeout_after_position_s", 0)),
    )
    engine.preset_runner = runner  # type: ignore[attr-defined]
    await _warm(engine, runner)
    queue: asyncio.Queue[PriceUpdate] = asyncio.Queue(maxsize=100_000)

    def on_price(event: PriceUpdate) -> None:
        if not queue.full():
            queue.put_nowait(event)

    unsubscribe = engine.deps.bus.subscribe(PriceUpdate, on_price, key=connection_id)
    log.info("Preset engine started: %d set(s) of %s", len(sets), settings.get("name", "?"),
             extra={"connection_id": connection_id})
    try:
        while True:
            event = await queue.get()
            v = engine.values
            live = bool(engine.config.is_preset_trade and v["system.preset_engine_enabled"] and not engine.paused)
            for signal in runner.on_price(event.symbol, event.ts_ms / 1000.0, event.price, entries_allowed=True):
                if live:
                    engine._signals.put_nowait((event.symbol, signal, -1, event.ts_ms / 1000.0))
    finally:
        unsubscribe()


async def _warm(engine: ConnectionEngine, runner: PresetRunner) -> None:
    """Seed the candles from the cached 1-minute history the engine loaded at start."""
    until = int(time.time() * 1000)
    since = until - int(HISTORY_BARS * runner.candle_s * 1000)
    connection_id = engine.config.id
    for symbol in engine.symbols:
        read = functools.partial(_load_1m, connection_id=connection_id, symbol=symbol, since=since, until=until)
        rows = await engine.deps.db.run(read)
        if rows:
            runner.warm(symbol, rows_to_bars(rows))


def _load_1m(session: Any, connection_id: str, symbol: str, since: int, until: int
             ) -> list[tuple[int, float, float, float, float, float]]:
    from cts_desktop.storage.candles import load_candles

    return load_candles(session, connection_id, symbol, "1m", since, until)
