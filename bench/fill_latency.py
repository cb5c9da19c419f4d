"""Fill to DB: how long after the exchange filled an order its fill is a row in the database — by the private
stream (``exchanges/private_stream.py``) against the REST sync at the engine's interval (issue 21), measured,
never a timed test.

The loopback simulator runs in this process (real HTTP and websockets on 127.0.0.1, real signing, stock ccxt and
ccxt.pro); a live order manager on a real SQLite file. Orders are market orders placed on the same account by a
second client (the exchange fills them at once); the clock starts when the create answer is back and stops when
the fill's row is committed. Stream: the private stream alone (no sync runs). REST: the sync loop alone, every
``--interval`` seconds (the default of ``system.exchange_sync_interval_s``), orders at random moments of it.

Usage: ``python bench/fill_latency.py [--exchange bybit] [--orders 20] [--interval 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

SYMBOL = "BTC/USDT:USDT"
POLL_S = 0.002


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def fill_stored(db, exchange_order_id: str) -> None:  # type: ignore[no-untyped-def]
    from cts_desktop.storage.models import Fill

    def found() -> bool:
        with db.session() as s:
            return s.execute(select(Fill.id).where(Fill.exchange_order_id == exchange_order_id)).first() is not None

    while not await asyncio.to_thread(found):
        await asyncio.sleep(POLL_S)


async def run_mode(mode: str, exchange: str, orders: int, interval: float, folder: Path) -> list[float]:
    from cts_desktop.engine.market_rules import MarketCatalog
    from cts_desktop.engine.order_manager import OrderManager
    from cts_desktop.engine.order_types import RiskLimits
    from cts_desktop.events.bus import EventBus
    from cts_desktop.exchanges.adapter import ExchangeAdapter
    from cts_desktop.exchanges.models import Credentials, OrderRequest, OrderSide, OrderType
    from cts_desktop.exchanges.private_stream import PrivateStream, StreamHandlers
    from cts_desktop.exchanges.simulator import SimulatorConfig, SimulatorServer
    from cts_desktop.storage.db import Database, sqlite_url
    from cts_desktop.storage.models import Connection

    server = SimulatorServer(SimulatorConfig(speed=0))
    await server.start()
    db = Database(sqlite_url(folder / f"{mode}.sqlite3"))
    db.migrate()
    with db.session() as s:
        s.add(Connection(id="c1", name="bench", exchange=exchange, kind="replay"))
    key = server.market.create_account(1_000_000, exchange=exchange)
    app = ExchangeAdapter(exchange, Credentials(key.key, key.secret), api_url=server.base_url, ccxt_throttle=False)
    other = ExchangeAdapter(exchange, Credentials(key.key, key.secret), api_url=server.base_url, ccxt_throttle=False)
    catalog = MarketCatalog(app.client, await app.markets())
    manager = OrderManager("c1", db, app, EventBus(), paper=False, market_rules=catalog.rules,
                           amount_to_precision=catalog.amount, price_to_precision=catalog.price,
                           limits=lambda: RiskLimits())
    pushed = manager.exchange_sync
    stream = PrivateStream(app, StreamHandlers(pushed.apply_pushed_fills, pushed.apply_pushed_orders,
                                               pushed.apply_pushed_positions))
    sync_task: asyncio.Task[None] | None = None

    async def sync_loop() -> None:
        while True:
            await asyncio.sleep(interval)
            await manager.sync([SYMBOL])

    latencies = []
    try:
        if mode == "stream":
            stream.start()
            while not (stream.mode == "stream" and _subscribed(server, exchange)):
                await asyncio.sleep(0.05)
        else:
            await manager.sync([SYMBOL])  # the marks set, as after an engine's start
            sync_task = asyncio.create_task(sync_loop())
        rng = random.Random(7)
        for i in range(orders):
            await asyncio.sleep(rng.uniform(0.2, interval if mode == "rest" else 0.5))
            side = OrderSide.BUY if i % 2 == 0 else OrderSide.SELL
            placed = await other.place_order(OrderRequest(SYMBOL, side, OrderType.MARKET, 0.01, f"bench-{mode}-{i}"))
            started = time.perf_counter()
            await fill_stored(db, placed.id)
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        if sync_task is not None:
            sync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sync_task
        await stream.stop()
        await app.close()
        await other.close()
        db.dispose()
        await server.stop()
    return latencies


def _subscribed(server, exchange: str) -> bool:  # type: ignore[no-untyped-def]
    """The stream's subscriptions are in place (Bybit: the private topics; BingX: the listen-key connection)."""
    if exchange == "bingx":
        return bool(server.bingx_ws.connections)
    sessions = server.private_ws.sessions
    return bool(sessions) and all(len(s.topics) >= 3 for s in sessions)


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = {mode: await run_mode(mode, args.exchange, args.orders, args.interval, Path(tmp))
                   for mode in ("stream", "rest")}
    print(f"fill → DB row, {args.exchange}, {args.orders} market orders, REST sync every {args.interval:g} s")
    print(f"{'path':8} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}")
    for mode, values in results.items():
        print(f"{mode:8} {statistics.median(values):9.1f} {percentile(values, 0.95):9.1f} {max(values):9.1f}")
    ratio = statistics.median(results["rest"]) / statistics.median(results["stream"])
    print(f"stream is {ratio:.0f}× faster at the median")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchange", default="bybit", choices=("bybit", "bingx"))
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--interval", type=float, default=5.0)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
