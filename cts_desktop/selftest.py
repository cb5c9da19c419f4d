"""``cts-desktop --self-test``: prove that an installed copy (above all a PyInstaller bundle) has every part it needs.

Why it exists: a frozen build fails in ways the test suite cannot see — a missing Alembic migration file, a ccxt
exchange module left out of the bundle, llvmlite not collected, the replay data not copied. This walks the path a
first start takes, on throw-away state only:

1. a SQLite database in a temporary folder, migrated to the newest Alembic revision; the PostgreSQL driver loads;
2. one numba kernel of the domain compiled and run (the numba cache goes to the temporary folder);
3. the loopback exchange simulator started in-process on 127.0.0.1 with the shipped replay data;
4. per exchange (Bybit, BingX), through the project's adapter and ccxt's own classes: load markets, place a limit
   order far from the market with a client order id, fetch it by that id, cancel it and see it cancelled;
5. ccxt.pro's websocket classes of both exchanges constructed (nothing is connected);
6. the keyring backend that would hold the API keys, named (informational: its absence is not a failure).

Nothing outside 127.0.0.1 is contacted and nothing outside the temporary folder is written. Each step prints its
duration; any failure prints one plain line and the exit status is 1.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cts_desktop import __version__

EXCHANGES = ("bybit", "bingx")
SYMBOL = "BTC/USDT:USDT"
STEP_TIMEOUT_S = 60.0
# A resting buy this far below the market cannot fill during the test, whatever the replay does.
PRICE_FACTOR = 0.5


class SelfTestFailure(RuntimeError):
    """A check found something wrong; the message is what the user reads."""


@dataclass(frozen=True)
class StepResult:
    name: str
    seconds: float
    detail: str
    ok: bool


class Report:
    """Collects and prints the steps as they finish (so a hang shows where it happened)."""

    def __init__(self, out: Any = None) -> None:
        self.out = out or sys.stdout
        self.steps: list[StepResult] = []

    def add(self, result: StepResult) -> None:
        self.steps.append(result)
        mark = " ok " if result.ok else "FAIL"
        print(f"  [{mark}] {result.name:<34} {result.seconds:7.3f} s  {result.detail}", file=self.out, flush=True)

    async def step(self, name: str, action: Callable[[], Awaitable[str]]) -> None:
        started = time.perf_counter()
        try:
            detail = await asyncio.wait_for(action(), timeout=STEP_TIMEOUT_S)
        except TimeoutError as exc:
            self.add(StepResult(name, time.perf_counter() - started, f"no answer within {STEP_TIMEOUT_S:.0f} s", False))
            raise SelfTestFailure(f"{name}: no answer within {STEP_TIMEOUT_S:.0f} s") from exc
        except Exception as exc:
            message = _plain(exc)
            self.add(StepResult(name, time.perf_counter() - started, message, False))
            if os.environ.get("CTS_SELFTEST_TRACEBACK"):  # for support: the whole chain, on request only
                traceback.print_exception(exc, file=sys.stderr)
            raise SelfTestFailure(f"{name}: {message}") from exc
        self.add(StepResult(name, time.perf_counter() - started, detail, True))


def _plain(exc: BaseException) -> str:
    """One line: the exception's first line, and its cause's when the first line alone says little (ImportError)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, ImportError) and cause is not None and cause is not exc:
        line += f" (caused by {_plain(cause)})"
    return line


def _round_down(value: float, step: float | None) -> float:
    if not step:
        return value
    return math.floor(value / step) * step


def _round_up(value: float, step: float | None) -> float:
    if not step:
        return value
    return math.ceil(value / step - 1e-9) * step


class SelfTest:
    """The checks, in order; state shared between steps lives on the instance."""

    def __init__(self, folder: Path, report: Report) -> None:
        self.folder = folder
        self.report = report
        self.sim: Any = None

    # ---- database --------------------------------------------------------------------------------------------
    async def database(self) -> str:
        from cts_desktop.storage.db import Database, sqlite_url
        from cts_desktop.storage.migrate import current_revision, head_revision

        db = Database(sqlite_url(self.folder / "data" / "cts.sqlite3"))
        try:
            revision = await asyncio.to_thread(db.migrate)
            head = head_revision()
            if revision != head or current_revision(db.engine) != head:
                raise SelfTestFailure(f"migrated to {revision}, but the newest migration is {head}")
            problems = db.integrity_check()
            if problems:
                raise SelfTestFailure(f"integrity check: {problems[0]}")
        finally:
            db.dispose()
        return f"SQLite created and migrated to revision {revision}"

    # ---- numba -----------------------------------------------------------------------------------------------
    async def kernel(self) -> str:
        def compile_and_run() -> str:
            import numpy as np

            from cts_desktop.domain import indicator_kernels, indicators

            values = np.full(64, 42.5)
            result = indicators.ema(values, 10)
            if not np.allclose(result[9:], 42.5) or not np.isnan(result[:9]).all():
                raise SelfTestFailure("the EMA kernel returned wrong values")
            compiled = getattr(indicator_kernels.ema_seeded, "signatures", None)
            if not compiled:
                raise SelfTestFailure("the EMA kernel ran without numba")
            import numba

            cache = Path(os.environ["NUMBA_CACHE_DIR"])
            cached = sorted(cache.rglob("*.nbi")) if cache.is_dir() else []
            where = f"cache written to {cache}" if cached else "compiled in memory (no on-disk cache)"
            return f"numba {numba.__version__} compiled and ran the EMA kernel; {where}"

        return await asyncio.to_thread(compile_and_run)

    # ---- simulator -------------------------------------------------------------------------------------------
    async def simulator(self) -> str:
        from cts_desktop.exchanges.simulator import SimulatorConfig, SimulatorServer

        self.sim = SimulatorServer(SimulatorConfig(speed=0))
        url = await self.sim.start()
        if not url.startswith("http://127.0.0.1:"):
            raise SelfTestFailure(f"the simulator listens on {url}, not on 127.0.0.1")
        prices = ", ".join(f"{base} {price:g}" for base, price in sorted(self.sim.market.prices().items()))
        return f"listening on {url} (replay prices: {prices})"

    # ---- one exchange through the adapter --------------------------------------------------------------------
    async def exchange(self, exchange_id: str) -> None:
        from cts_desktop.exchanges.adapter import ExchangeAdapter
        from cts_desktop.exchanges.capabilities import RateLimit
        from cts_desktop.exchanges.errors import RetryPolicy
        from cts_desktop.exchanges.models import Credentials, OrderRequest, OrderSide, OrderType

        key = self.sim.market.create_account(10_000.0, exchange=exchange_id)
        adapter = ExchangeAdapter(
            exchange_id,
            Credentials(key.key, key.secret),
            api_url=self.sim.base_url,
            rate_limit=RateLimit(1000, 600_000, 4),
            retry=RetryPolicy(attempts=2, base_delay=0.05, max_delay=0.2),
            timeout_ms=10_000,
        )
        client_id = f"selftest{int(time.time() * 1000) % 10**9}{exchange_id[:2]}"
        try:

            async def markets() -> str:
                found = await adapter.markets()
                if SYMBOL not in found:
                    raise SelfTestFailure(f"{SYMBOL} is not among the {len(found)} markets")
                module = type(adapter.client).__module__
                return f"{len(found)} USDT perpetual markets via ccxt {_ccxt_version()} ({module})"

            async def place() -> str:
                info = (await adapter.markets())[SYMBOL]
                last = (await adapter.ticker(SYMBOL)).last
                price = _round_down(last * PRICE_FACTOR, info.price_step)
                amount = _round_up(max(info.min_amount or 0.0, (info.min_cost or 0.0) * 1.05 / price), info.amount_step)
                request = OrderRequest(SYMBOL, OrderSide.BUY, OrderType.LIMIT, amount, client_id, price=price)
                order = await adapter.place_order(request)
                if order.status != "open":
                    raise SelfTestFailure(f"order {client_id} is {order.status!r} after placing, expected 'open'")
                return f"limit buy {amount:g} {SYMBOL} @ {price:g} (market {last:g}), client id {client_id}"

            async def fetch() -> str:
                order = await adapter.order_by_client_id(SYMBOL, client_id)
                if order.client_id != client_id or order.status != "open":
                    raise SelfTestFailure(f"fetched {order.client_id!r} with status {order.status!r}")
                return f"found by client id: exchange id {order.id}, status {order.status}"

            async def cancel() -> str:
                await adapter.cancel_order(SYMBOL, client_id=client_id)
                order = await adapter.order_by_client_id(SYMBOL, client_id)
                if order.status != "canceled":
                    raise SelfTestFailure(f"order {client_id} is {order.status!r} after cancelling")
                left = [o for o in await adapter.open_orders(SYMBOL) if o.client_id == client_id]
                if left:
                    raise SelfTestFailure(f"order {client_id} is still among the open orders")
                return "cancelled by client id; no open order left"

            await self.report.step(f"{exchange_id}: load markets", markets)
            await self.report.step(f"{exchange_id}: place limit order", place)
            await self.report.step(f"{exchange_id}: fetch order by client id", fetch)
            await self.report.step(f"{exchange_id}: cancel order", cancel)
        finally:
            await adapter.close()

    # ---- ccxt.pro and keyring --------------------------------------------------------------------------------
    async def websockets(self) -> str:
        from cts_desktop.exchanges import ccxt_lean

        ccxt_pro = ccxt_lean.load("ccxt.pro")
        names = []
        for exchange_id in EXCHANGES:
            client = getattr(ccxt_pro, exchange_id)({"enableRateLimit": True})
            try:
                if not client.has.get("watchTicker"):
                    raise SelfTestFailure(f"ccxt.pro.{exchange_id} cannot watch tickers")
                names.append(type(client).__module__)
            finally:
                await client.close()
        return "constructed " + ", ".join(names) + " (not connected)"

    async def database_drivers(self) -> str:
        """PostgreSQL is optional at run time, but its driver must be in the bundle (psycopg's binary build)."""
        import sqlite3

        import psycopg

        impl = psycopg.pq.__impl__
        libpq = psycopg.pq.version()
        return f"sqlite {sqlite3.sqlite_version}; psycopg {psycopg.__version__} ({impl}, libpq {libpq})"

    async def keyring_backend(self) -> str:
        import keyring

        backend = keyring.get_keyring()
        name = f"{type(backend).__module__}.{type(backend).__name__}"
        priority = getattr(backend, "priority", None)
        if priority is not None and priority <= 0 and "fail" in name:
            return f"none usable ({name}); the app offers the encrypted secrets file"
        return name

    async def stop_simulator(self) -> str:
        requests = self.sim.request_count
        await self.sim.stop()
        self.sim = None
        return f"stopped after {requests} requests"

    async def run(self) -> None:
        report = self.report
        await report.step("database + migrations", self.database)
        await report.step("database drivers", self.database_drivers)
        await report.step("numba kernel", self.kernel)
        await report.step("exchange simulator (in-process)", self.simulator)
        try:
            for exchange_id in EXCHANGES:
                await self.exchange(exchange_id)
        finally:
            if self.sim is not None:
                await report.step("exchange simulator stop", self.stop_simulator)
        await report.step("ccxt.pro websocket classes", self.websockets)
        await report.step("keyring backend", self.keyring_backend)


def _ccxt_version() -> str:
    from cts_desktop.exchanges import ccxt_lean

    return str(ccxt_lean.load("ccxt").__version__)


def run_self_test(out: Any = None) -> int:
    """Run every check in a temporary folder; 0 when all pass, 1 (with one plain line on stderr) otherwise."""
    out = out or sys.stdout
    started = time.perf_counter()
    frozen = "yes" if getattr(sys, "frozen", False) else "no"
    print(f"cts-desktop {__version__} self-test (frozen bundle: {frozen}, Python {sys.version.split()[0]})",
          file=out, flush=True)
    report = Report(out)
    with tempfile.TemporaryDirectory(prefix="cts-selftest-") as tmp:
        folder = Path(tmp)
        # numba reads its cache folder when first imported: keep it inside the throw-away folder
        os.environ["NUMBA_CACHE_DIR"] = str(folder / "cache" / "numba")
        try:
            asyncio.run(SelfTest(folder, report).run())
        except SelfTestFailure as failure:
            print(f"self-test FAILED: {failure}", file=out, flush=True)
            print(f"cts-desktop self-test failed: {failure}", file=sys.stderr, flush=True)
            return 1
        except Exception as exc:  # anything unexpected still ends with one plain line, not a traceback
            print(f"cts-desktop self-test failed: {_plain(exc)}", file=sys.stderr, flush=True)
            return 1
    elapsed = time.perf_counter() - started
    print(f"self-test passed: {len(report.steps)} steps in {elapsed:.2f} s", file=out, flush=True)
    return 0
