"""The engine of one exchange connection: market feed → symbol pipelines → Real signals → order manager, plus the
exchange sync loop, the symbol refresh and batched persistence.

Loops (each metered for the health rules of Part 2 §6.3):

* ``main``   — drains the price queue the feed fills and moves every symbol pipeline (event-driven; one cycle per
  drained batch, expected at least once per market timeframe);
* ``orders`` — sends Real signals to the order manager and closes mirrored positions whose pseudo twin exited;
* ``sync``   — fills, funding, positions and balance every *Exchange sync interval*;
* ``persist``— set statistics, book snapshots, engine state (and optionally each pseudo result) through the writer
  (:mod:`cts_desktop.engine.persistence`, in steps that leave the loop free).

At start the markets load, symbols are chosen and the prehistory is replayed (:mod:`cts_desktop.engine.prehistory`).

Pause stops entries (pseudo and Real) while data, pseudo tracking and exchange sync go on. Stop leaves exchange
positions alone (their exchange-side TP/SL stay).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import replace
from decimal import Decimal
from typing import Any, TypeVar

from cts_desktop.engine import engine_config as cfg
from cts_desktop.engine import warmup
from cts_desktop.engine.clock_watch import ClockWatch
from cts_desktop.engine.decisions import DecisionLog
from cts_desktop.engine.deps import EngineDeps
from cts_desktop.engine.entry_permission import entry_refusal
from cts_desktop.engine.gap_fill import PRICE_GAP_S, fill_gap
from cts_desktop.engine.heap import settle_heap
from cts_desktop.engine.margin_modes import MarginModes
from cts_desktop.engine.market_rules import MarketCatalog
from cts_desktop.engine.order_loop import OrderLoop
from cts_desktop.engine.order_manager import OrderManager
from cts_desktop.engine.order_types import EntrySignal, RiskLimits
from cts_desktop.engine.paper_broker import PaperBroker
from cts_desktop.engine.persistence import EngineStore, load_snapshots, write_markets
from cts_desktop.engine.pipeline import PipelineUpdate, SymbolPipeline
from cts_desktop.engine.pipeline_settings import build_pipelines, connection_pf, pipeline_settings, reconfigure
from cts_desktop.engine.prehistory import Prehistory
from cts_desktop.engine.preset_engine import attach_preset_engine
from cts_desktop.engine.preset_runner import PresetRunner
from cts_desktop.engine.status import HealthRules, LoopMeter
from cts_desktop.engine.stream_states import stream_states
from cts_desktop.events.app import SettingsChanged
from cts_desktop.events.status import ConnectionStatus, EngineState, TradeEngineStatus, worst
from cts_desktop.events.trading import IndicationFired, PriceUpdate, TradeEngineChanged
from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.connections import ConnectionConfig
from cts_desktop.exchanges.errors import ExchangeError
from cts_desktop.exchanges.live_prices import LivePriceFeed
from cts_desktop.exchanges.private_stream import PrivateStream, StreamHandlers
from cts_desktop.exchanges.symbols import SymbolSelectionConfig, SymbolSelector
from cts_desktop.storage.types import to_decimal

MAIN_SLICE_S = 0.005  # the main loop yields to the event loop after this much work within one batch of prices
LAST_SYNC_TIMEOUT_S = 20.0  # the reconciliation at a stop gives up after this long
SYMBOL_SETTINGS = ("overall.symbol_", "overall.quote_asset", "overall.use_main_symbols", "overall.main_symbols",
                   "overall.forced_symbols", "system.volatility_period_hours", "system.symbol_update_interval_min")

log = logging.getLogger("cts.engine")

T = TypeVar("T")


class ConnectionEngine:
    def __init__(self, config: ConnectionConfig, adapter: ExchangeAdapter, deps: EngineDeps,
                 *, feed_factory: Callable[..., LivePriceFeed] = LivePriceFeed) -> None:
        self.config = config
        self.adapter = adapter
        self.deps = deps
        self.feed_factory = feed_factory
        self.paper = not config.is_live_trade
        self.state = EngineState.STOPPED
        self.connection_status = ConnectionStatus.DISABLED if not config.is_enabled else ConnectionStatus.CONNECTING
        self.paused = False
        self.started_at: float | None = None
        self.last_error: str | None = None
        self.progress: float | None = None
        self.progress_text = ""
        self.symbols: list[str] = []
        self.pipelines: dict[str, SymbolPipeline] = {}
        self.catalog: MarketCatalog | None = None
        self.orders: OrderManager | None = None
        self.paper_broker: PaperBroker | None = None
        self.margin: MarginModes | None = None  # live only: the connection's margin type on the exchange
        self.feed: LivePriceFeed | None = None
        self.private: PrivateStream | None = None  # live only: fills, orders, positions pushed by the exchange
        self.balance_usdt: float | None = None
        self.meters = {
            "main": LoopMeter("main", 1000.0),
            "orders": LoopMeter("orders", 1000.0),
            "sync": LoopMeter("sync", 5000.0),
            "persist": LoopMeter("persist", 1000.0),
        }
        self._prices: asyncio.Queue[tuple[str, float, int]] = asyncio.Queue(maxsize=100_000)
        self._moving_prices = asyncio.Lock()  # held by the main loop per batch, and by prices_held()
        self._tasks: list[asyncio.Task[None]] = []
        self.store = EngineStore(config.id, deps.writer, lambda: self.values)
        self.prehistory = Prehistory(self)
        self._reload_pipelines = False
        self._symbols_changed = asyncio.Event()  # a symbol setting changed: select the symbols again now
        self._settings_unsub: Callable[[], None] | None = None
        self.crashed: BaseException | None = None
        self.stop_requested = False  # stop() was called: a warm-up in progress gives up
        self._start_task: asyncio.Task[None] | None = None
        self.start_snapshots: dict[str, bytes] = {}  # stored book snapshots, restored with the warm-up
        self._gap_fill: asyncio.Task[None] | None = None
        self.preset_runner: PresetRunner | None = None  # the Preset engine's, while a preset type is assigned
        # how old the oldest price of each processed batch was (exchange timestamp → processed), for lag metrics
        self.lag_ms: deque[float] = deque(maxlen=5000)
        self.clock_watch = ClockWatch(config.id, config.name, config.exchange_id, deps.bus, deps.writer, self._publish)
        self._clock_unsub: Callable[[], None] | None = None
        self.decisions = DecisionLog(config.id, deps.bus)  # every entry decision and its reason ("why (no) trade")
        self.order_loop = OrderLoop(self, self.meters["orders"])  # Real signals → orders; mirrored exits

    # --- settings --------------------------------------------------------------------------------------------

    @property
    def values(self) -> dict[str, object]:
        return self.deps.settings.values()

    def risk_limits(self) -> RiskLimits:
        return cfg.risk_limits(self.values, self.config.exchange_id, self.config.settings.live_volume_factor)

    def _health_rules(self) -> HealthRules:
        return cfg.health_rules(self.values)

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def start_in_background(self) -> asyncio.Task[None]:
        """Start without waiting for markets and history to load (progress is published meanwhile)."""
        self._start_task = asyncio.create_task(self._start_logged(), name=f"{self.config.id}:start")
        return self._start_task

    async def _start_logged(self) -> None:
        with contextlib.suppress(Exception):  # the failure is in the ERROR state and the log already
            await self.start()

    async def start(self) -> None:
        if self.state in (EngineState.RUNNING, EngineState.PAUSED, EngineState.STARTING):
            return
        self.stop_requested = False
        self.state = EngineState.STARTING
        self.started_at = time.time()
        self.connection_status = ConnectionStatus.CONNECTING
        self.crashed = None
        self._publish()
        if self._clock_unsub is None:
            self._clock_unsub = self.adapter.clock.subscribe(self.clock_watch)
        warmup.shared_pool().prestart()  # the history warm-up's worker boots while markets and orders load
        try:
            await self._connect()
            await self.prehistory.load()
        except asyncio.CancelledError:
            self.prehistory.drop_early()
            self.state = EngineState.STOPPED
            self._publish()
            raise
        except Exception as error:
            self.prehistory.drop_early()
            self._fail(error)
            raise
        self._settings_unsub = self.deps.bus.subscribe(SettingsChanged, self._on_settings)
        await self.restart_feed()
        self._start_private_stream()
        self.spawn(self._main_loop(), "main")
        self.spawn(self.order_loop.run(), "orders")
        self.spawn(self._sync_loop(), "sync")
        self.spawn(self._persist_loop(), "persist")
        self.spawn(self._symbol_refresh_loop(), "symbols")
        attach_preset_engine(self)  # the assigned preset type's sets, fed by this engine's PriceUpdate events
        settle_heap()
        self.state = EngineState.PAUSED if self.paused else EngineState.RUNNING
        log.info("engine started for %s (%s, %d symbols)", self.config.name, "paper" if self.paper else "LIVE",
                 len(self.symbols), extra={"connection_id": self.config.id})
        self.loaded()

    async def stop(self) -> None:
        """Stop every loop and persist the state; exchange positions keep their exchange-side TP/SL."""
        self.stop_requested = True
        if self._start_task is not None and not self._start_task.done():
            self._start_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._start_task
        if self.state is EngineState.STOPPED:
            return
        self.state = EngineState.STOPPING
        self._publish()
        if self._settings_unsub is not None:
            self._settings_unsub()
            self._settings_unsub = None
        if self._clock_unsub is not None:
            self._clock_unsub()
            self._clock_unsub = None
        if self.feed is not None:
            await self.feed.stop()
        if self.private is not None:
            await self.private.stop()
            self.private = None
        if self.orders is not None:
            await self.orders.drain()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self._last_sync()
        try:
            await self._persist(snapshot=True)
        except Exception:  # stopping goes on; what was not stored is in the log
            log.exception("storing the engine's state at stop failed", extra={"connection_id": self.config.id})
        self.state = EngineState.STOPPED
        self.connection_status = ConnectionStatus.DISABLED if not self.config.is_enabled else \
            ConnectionStatus.CONNECTING
        log.info("engine stopped for %s", self.config.name, extra={"connection_id": self.config.id})
        self._publish()

    async def _last_sync(self) -> None:
        """One reconciliation after the loops ended, so the DB is left equal to the exchange at a stop (bounded:
        a stop never waits long for an exchange that does not answer)."""
        if self.orders is None or self.state is not EngineState.STOPPING:
            return
        try:
            await asyncio.wait_for(self.orders.sync(self.symbols), LAST_SYNC_TIMEOUT_S)
        except (TimeoutError, ExchangeError) as error:
            log.warning("last reconciliation at stop did not finish (%s); the next start reconciles",
                        error or "timed out", extra={"connection_id": self.config.id})

    def pause(self) -> None:
        self.paused = True
        if self.state is EngineState.RUNNING:
            self.state = EngineState.PAUSED
        log.info("engine paused for %s: no new entries", self.config.name, extra={"connection_id": self.config.id})
        self._publish()

    def resume(self) -> None:
        self.paused = False
        if self.state is EngineState.PAUSED:
            self.state = EngineState.RUNNING
        log.info("engine resumed for %s", self.config.name, extra={"connection_id": self.config.id})
        self._publish()

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run ``coro`` as one of the engine's loops: stopped with the engine, its crash fails the engine."""
        task = asyncio.create_task(coro, name=f"{self.config.id}:{name}")
        task.add_done_callback(self._task_done)
        self._tasks = [t for t in self._tasks if not t.done()]
        self._tasks.append(task)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self.state in (EngineState.STOPPING, EngineState.STOPPED):
            return
        error = task.exception()
        if error is not None:
            self.crashed = error
            self._fail(error)

    def _fail(self, error: BaseException) -> None:
        self.state = EngineState.ERROR
        self.connection_status = ConnectionStatus.ERROR
        self.last_error = f"{type(error).__name__}: {error}"
        log.error("engine for %s failed: %s", self.config.name, self.last_error, exc_info=error,
                  extra={"connection_id": self.config.id})
        self._publish()

    # --- start-up ----------------------------------------------------------------------------------------------

    async def _connect(self) -> None:
        values = self.values
        self.set_progress(0.05, "loading markets")
        await self.adapter.import_library()
        markets = await self.adapter.markets()
        self.catalog = MarketCatalog(self.adapter.client, markets)
        await self._store_markets()
        hedged = self.config.position_mode == "hedge"
        try:
            await self.adapter.set_position_mode(hedged)
        except ExchangeError as error:
            log.warning("could not set %s position mode: %s", self.config.position_mode, error,
                        extra={"connection_id": self.config.id})
        self.set_progress(0.15, "selecting symbols")
        self.selector = SymbolSelector(self.adapter, self._symbol_selection())
        self.symbols = (await self.selector.current(force=True)).symbols
        self.prehistory.load_early()  # the first symbols' candles arrive while orders and positions reconcile
        balance = await self.adapter.balance("USDT")
        self.balance_usdt = balance.total
        default_fee = Decimal(repr(cfg.number(values, "overall.default_taker_fee") / 100.0))
        broker: Any = self.adapter
        self.margin = None if self.paper else MarginModes(
            self.config.id, self.adapter, lambda: self.config.margin_mode,
            account_wide=not self.adapter.caps.margin_mode_per_symbol)
        if self.paper:
            fees = {s: self.catalog.taker_fee(s, float(default_fee)) for s in self.symbols}
            self.paper_broker = PaperBroker(to_decimal(balance.total), fees, default_fee)
            broker = self.paper_broker
        catalog = self.catalog
        self.orders = OrderManager(
            self.config.id, self.deps.db, broker, self.deps.bus, paper=self.paper, hedged=hedged,
            market_rules=catalog.rules, amount_to_precision=catalog.amount, price_to_precision=catalog.price,
            limits=self.risk_limits,
            margin=self.margin, preset_volume=lambda: self.config.settings.preset_volume_factor,
        )
        self.orders.decisions = self.decisions
        self.set_progress(0.25, "reconciling orders and positions")
        report = await self.orders.exchange_sync.reconcile(self.symbols)
        log.info("reconciled with the exchange: %s", report, extra={"connection_id": self.config.id})
        # the stored book snapshots are restored with the warm-up (in its worker process): restoring a
        # decompresses tens of MB per symbol, which must not run on the GUI's event loop
        self._build_pipelines()
        connection_id = self.config.id
        self.start_snapshots = await self.deps.db.run(lambda session: load_snapshots(session, connection_id))

    def _symbol_selection(self) -> SymbolSelectionConfig:
        return cfg.symbol_selection(self.values, self.config.settings.use_main_symbols)

    def _build_pipelines(self, snapshots: dict[str, bytes] | None = None) -> None:
        self.pipelines = build_pipelines(self.symbols, pipeline_settings(self.values, connection_pf(self.config)),
                                         self.pipelines, snapshots)

    async def _store_markets(self) -> None:
        assert self.catalog is not None
        infos, connection_id = list(self.catalog.markets.values()), self.config.id
        await self.deps.db.run(lambda session: write_markets(session, connection_id, infos))

    def loaded(self) -> None:
        """Markets and history are in (at the start, after a catch-up): connected, no progress shown."""
        self.connection_status = ConnectionStatus.CONNECTED
        self.progress, self.progress_text = None, ""
        self._publish()

    def set_progress(self, fraction: float, text: str) -> None:
        self.progress, self.progress_text = fraction, text
        self.connection_status = ConnectionStatus.LOADING if fraction < 1.0 else self.connection_status
        self._publish()

    # --- feed and main loop -------------------------------------------------------------------------------------

    def _on_feed_price(self, symbol: str, price: float, ts_ms: int) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._prices.put_nowait((symbol, price, ts_ms))

    async def _main_loop(self) -> None:
        meter = self.meters["main"]
        while True:
            first = await self._prices.get()
            batch = [first]
            while not self._prices.empty():
                batch.append(self._prices.get_nowait())
            # exchange timestamps against the exchange's now (this computer's clock corrected by the measured offset)
            self.lag_ms.append(self.adapter.clock.now_ms() - min(item[2] for item in batch))
            ok = True
            busy = 0.0  # the cycle's own time, without the other tasks that ran while it yielded
            await self._moving_prices.acquire()  # prices_held() waits for the end of the batch
            started = time.perf_counter()
            try:
                for symbol, price, ts_ms in batch:
                    self._process_price(symbol, price, ts_ms)
                    now = time.perf_counter()
                    if now - started > MAIN_SLICE_S:  # a repaint or an order waits at most one slice
                        busy += now - started
                        await asyncio.sleep(0)
                        started = time.perf_counter()
            except Exception:
                ok = False
                log.exception("main loop cycle failed", extra={"connection_id": self.config.id})
            finally:
                self._moving_prices.release()
            busy += time.perf_counter() - started
            meter.expected_interval_ms = cfg.number(self.values, "overall.market_timeframe_s") * 1000
            meter.record(busy * 1000, ok)

    def _process_price(self, symbol: str, price: float, ts_ms: int) -> None:
        if self.paper_broker is not None:
            self.paper_broker.on_price(symbol, price, ts_ms)
        pipeline = self.pipelines.get(symbol)
        if pipeline is None:
            return
        if pipeline.last_time is not None and ts_ms / 1000.0 - pipeline.last_time > PRICE_GAP_S:
            self._gap_seen(symbol, pipeline.last_time, ts_ms)
            return  # nothing crosses a gap: its candles are fetched first, this price waits for the next one
        main_on = bool(self.values["system.main_engine_enabled"])
        update = pipeline.on_price(ts_ms / 1000.0, price, entries_allowed=not self.paused and main_on)
        self.collect(symbol, update)
        self._decided(symbol, update, main_on)
        for indication in update.indications:
            self.deps.bus.publish(IndicationFired(key=self.config.id, symbol=symbol, indication=indication.kind.value,
                                                  direction="long" if indication.direction > 0 else "short",
                                                  price=indication.price))
        for signal, row, entry_time in update.signals:
            set_id = self.store.set_id(symbol, pipeline.book, row)  # the journal names the set of a position
            self.send_signal(symbol, signal if set_id is None else replace(signal, set_id=set_id), row, entry_time)
        for row in update.mirrored_exits:
            self.order_loop.pseudo_exited(symbol, row)
        self.deps.bus.publish(PriceUpdate(key=self.config.id, symbol=symbol, price=price, ts_ms=ts_ms))

    def _decided(self, symbol: str, update: PipelineUpdate, main_on: bool) -> None:
        """Why the indications of this price made no entry: paused, switched off, or no Real set took them."""
        for direction, reason in update.refusals:
            self.decisions.record(symbol, direction, "no_real_set", reason)
        if update.indications and (self.paused or not main_on):
            first = update.indications[0]
            reason = entry_refusal(self.values, self.paused, preset=False) or "no new entries"
            self.decisions.record(symbol, "long" if first.direction > 0 else "short", "paused", reason)

    def send_signal(self, symbol: str, signal: EntrySignal, set_row: int, at: float) -> None:
        """Queue a Real entry signal for the order loop (``set_row`` -1: not a set of this engine's book)."""
        self.order_loop.send(symbol, signal, set_row, at)

    def collect(self, symbol: str, update: PipelineUpdate) -> None:
        """Note what a price moved in ``symbol``'s book for the next persist (the warm-up replays collect too)."""
        self.store.touch(symbol, update.closed_rows.tolist())
        self.store.touch(symbol, update.status_changed)
        if len(update.closed_rows) and bool(self.values["system.persist_pseudo_results"]):
            self.store.add_results(symbol, update.closed)

    # --- sync -----------------------------------------------------------------------------------------------------

    async def _sync_loop(self) -> None:
        meter = self.meters["sync"]
        while True:
            interval = cfg.number(self.values, "system.exchange_sync_interval_s")
            meter.expected_interval_ms = interval * 1000
            await asyncio.sleep(interval)
            started = time.perf_counter()
            ok = True
            try:
                assert self.orders is not None
                await self.orders.sync(self.symbols)
                self.balance_usdt = (await self.orders.balance(max_age_s=interval)).total
            except ExchangeError as error:
                ok = False
                self.last_error = str(error)
                log.warning("exchange sync failed: %s", error, extra={"connection_id": self.config.id})
            meter.record((time.perf_counter() - started) * 1000, ok)
            self._publish()

    async def _symbol_refresh_loop(self) -> None:
        while True:
            wait_s = self._symbol_selection().update_interval_s
            log.info("next symbol update in %.0f min, sooner when a symbol setting changes", wait_s / 60,
                     extra={"connection_id": self.config.id})
            with contextlib.suppress(TimeoutError):  # every symbol-update interval, or at once when a setting moved
                await asyncio.wait_for(self._symbols_changed.wait(), wait_s)
            self._symbols_changed.clear()
            self.selector.config = self._symbol_selection()  # the symbol settings as they are now
            try:
                selection = await self.selector.current(force=True)
            except ExchangeError as error:
                log.warning("symbol refresh failed: %s", error, extra={"connection_id": self.config.id})
                continue
            if selection.symbols != self.symbols:
                log.info("symbols now %s", ", ".join(selection.symbols), extra={"connection_id": self.config.id})
                self.symbols = selection.symbols
                self._build_pipelines()
                await self.restart_feed()

    def _start_private_stream(self) -> None:
        """Live on an exchange with websockets: the account's fills, orders and positions as the exchange pushes
        them (the REST sync keeps running beside it and checks them)."""
        if self.paper or self.orders is None or not self.adapter.caps.websocket:
            return
        orders = self.orders.exchange_sync
        self.private = PrivateStream(self.adapter, StreamHandlers(
            trades=orders.apply_pushed_fills, orders=orders.apply_pushed_orders,
            positions=orders.apply_pushed_positions))
        self.private.start()

    async def restart_feed(self) -> None:
        """A new price feed for the current symbols (the old one, if any, stopped first)."""
        if self.feed is not None:
            await self.feed.stop()
        self.feed = self.feed_factory(self.adapter, self.symbols, self._on_feed_price,
                                      poll_interval_s=cfg.number(self.values, "overall.market_timeframe_s"))
        self.feed.start()

    def _gap_seen(self, symbol: str, last_s: float, ts_ms: int) -> None:
        if self._gap_fill is not None and not self._gap_fill.done():
            return
        log.warning("%s: prices resume %.0f s after the last one (a sleep, a clock jump or a stream outage): "
                    "fetching the missing 1-minute candles", symbol, ts_ms / 1000.0 - last_s,
                    extra={"connection_id": self.config.id, "symbol": symbol})
        self._gap_fill = self.spawn(self._fill_gap(), "gap fill")

    async def _fill_gap(self) -> None:
        try:
            async with self.prices_held():
                minutes = await fill_gap(self)
            log.info("%d min of candles caught up after the gap", minutes, extra={"connection_id": self.config.id})
        except ExchangeError as error:  # the network may still be coming up: the next price after a gap retries
            log.warning("filling the price gap failed: %s", error, extra={"connection_id": self.config.id})

    @contextlib.asynccontextmanager
    async def prices_held(self, feed_stop_timeout_s: float = 10.0) -> AsyncIterator[None]:
        """Inside, no price moves a pipeline: the feed is stopped (its streams are dead after a sleep), the main
        loop has finished its batch and waits, and the prices queued before are dropped (they are older than the
        candles the caller replays: ``prehistory.catch_up``). A new feed starts on the way out (wake recovery)."""
        if self.feed is not None:
            try:
                await asyncio.wait_for(self.feed.stop(), feed_stop_timeout_s)
            except TimeoutError:
                log.warning("the old price feed did not stop in time", extra={"connection_id": self.config.id})
        async with self._moving_prices:
            while not self._prices.empty():
                self._prices.get_nowait()
            try:
                yield
            finally:
                if self.state in (EngineState.RUNNING, EngineState.PAUSED):
                    self.feed = None  # stopped above
                    await self.restart_feed()

    def apply_connection(self, config: ConnectionConfig, changed: frozenset[str]) -> None:
        """An edit of this connection applied in place (``engine/live_changes.py`` decides which may be): the next
        order reads the new volume factors; a new margin type goes to every flat symbol now."""
        self.config = config
        if "margin_mode" in changed and self.margin is not None and self.state in (EngineState.RUNNING,
                                                                                   EngineState.PAUSED):
            self.spawn(self.margin.reapply(list(self.symbols)), "margin type")
        if changed & {"settings.live_pf_min_main", "settings.live_pf_min_real", "settings.max_drawdown_hours"}:
            self._on_settings(SettingsChanged(changes=()))  # the gates' PF minima of this connection

    def _on_settings(self, event: SettingsChanged) -> None:
        """Stored settings reach the running engine as an event on its loop, between two price cycles."""
        keys = event.keys
        if self.state is EngineState.STOPPED:
            return
        changed = reconfigure(self.pipelines.values(), pipeline_settings(self.values, connection_pf(self.config)))
        if any(key.startswith(SYMBOL_SETTINGS) for key in keys):
            self._symbols_changed.set()
        log.info("settings applied to the running engine (%s)%s", ", ".join(keys),
                 f"; started afresh: {', '.join(sorted(changed.restarted))}" if changed.restarted else "",
                 extra={"connection_id": self.config.id})
        pseudo_before, pseudo_after = changed.pseudo_before, changed.pseudo_after
        if pseudo_after < pseudo_before:  # a new exit matrix, history length or concurrency: new, empty set books
            log.warning("open pseudo positions %s → %s: the changed settings (%s) need new configuration sets, "
                        "which start empty and fill again from the next prices; Engine › Restart rebuilds them "
                        "from the history warm-up at once", f"{pseudo_before:,}", f"{pseudo_after:,}",
                        ", ".join(keys) or "connection limits", extra={"connection_id": self.config.id})

    # --- persistence ----------------------------------------------------------------------------------------------

    async def _persist_loop(self) -> None:
        meter = self.meters["persist"]
        last_snapshot = time.monotonic()
        while True:
            interval = cfg.number(self.values, "system.persist_interval_ms") / 1000.0
            meter.expected_interval_ms = interval * 1000
            await asyncio.sleep(interval)
            started = time.perf_counter()
            snapshot = time.monotonic() - last_snapshot > 60.0
            ok = True
            try:
                await self._persist(snapshot, final=False)
            except Exception:
                ok = False
                log.exception("persist cycle failed", extra={"connection_id": self.config.id})
            if snapshot:
                last_snapshot = time.monotonic()
            meter.record((time.perf_counter() - started) * 1000, ok)

    async def _persist(self, snapshot: bool, final: bool = True) -> None:
        """Changed sets, pseudo results (when asked), engine state; with ``snapshot`` also the cycle metrics and
        (at stop, or when they are due: ``final=False``) every book — in steps that leave the loop free between them
        (:mod:`cts_desktop.engine.persistence`)."""
        await self.store.persist(self.pipelines, self.status, snapshot, self.meters, final=final)

    # --- status ---------------------------------------------------------------------------------------------------

    def status(self) -> TradeEngineStatus:
        rules = self._health_rules()
        loops = tuple(m.stats(rules) for m in self.meters.values())
        health = worst([loop.health for loop in loops]) if self.state is EngineState.RUNNING else worst([])
        counts: dict[str, int] = {}
        pseudo = 0
        for pipeline in self.pipelines.values():
            for name, n in pipeline.status_counts().items():
                counts[name] = counts.get(name, 0) + n
            pseudo += pipeline.open_pseudo()
        real_open = 0
        if self.paper_broker is not None:
            real_open = len(self.paper_broker.positions_)
        clock = self.clock_watch.reading
        return TradeEngineStatus(
            connection_id=self.config.id, connection_name=self.config.name, state=self.state,
            connection=self.connection_status, paper=self.paper, paused=self.paused, started_at=self.started_at,
            loops=loops, health=health, symbols=tuple(self.symbols), pseudo_open=pseudo, real_open=real_open,
            sets_by_status=counts, balance_usdt=self.balance_usdt, progress=self.progress,
            progress_text=self.progress_text, last_error=self.last_error,
            clock_offset_ms=None if clock is None else clock.offset_ms, clock_skewed=clock is not None and clock.skewed,
            last_decision=self.decisions.last,
            protections=() if self.orders is None else self.orders.guards.states(self.risk_limits()),
            streams=stream_states(self.feed, self.private),
        )

    def _publish(self) -> None:
        self.deps.bus.publish(TradeEngineChanged(key=self.config.id, status=self.status()))

