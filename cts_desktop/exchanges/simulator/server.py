"""The aiohttp server: 127.0.0.1 only, both dialects on one port, fault injection, a market ticker task.

In-process use::

    sim = SimulatorServer(SimulatorConfig(speed=0))   # rate_limits=True: the venues' request budgets
    base_url = await sim.start()          # "http://127.0.0.1:<free port>"
    key = sim.market.create_account(10_000, exchange="bybit")
    sim.faults.add("/v5/order/create", "response_lost")
    sim.market.step(60_000)               # move the market one minute
    await sim.stop()

A small control surface (``/_sim/...``, loopback only) serves the standalone process: step the clock, change
speed, add accounts and faults. It answers only requests that carry the server's random per-run token
(:attr:`SimulatorServer.control_token`, header ``X-Sim-Token``): another local process can neither open accounts on
the app's Replay simulator nor change its market speed. The exchange API itself needs signed keys as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import time
from collections import Counter, deque

from aiohttp import web

from cts_desktop.exchanges.simulator.account import SimErrorKind
from cts_desktop.exchanges.simulator.auth import AuthFailure
from cts_desktop.exchanges.simulator.bingx_api import BingxDialect
from cts_desktop.exchanges.simulator.bingx_ws import WS_PATH as BINGX_WS_PATH
from cts_desktop.exchanges.simulator.bingx_ws import BingxSwapWs
from cts_desktop.exchanges.simulator.bybit_api import BybitDialect
from cts_desktop.exchanges.simulator.bybit_ws_private import PRIVATE_PATH, BybitPrivateWs
from cts_desktop.exchanges.simulator.faults import FaultInjector, FaultKind
from cts_desktop.exchanges.simulator.market import SimMarket, SimulatorConfig
from cts_desktop.exchanges.simulator.rate_limits import RateLimits
from cts_desktop.exchanges.simulator.ws_public import WS_PATH, BybitPublicWs

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
TOKEN_HEADER = "X-Sim-Token"


class SimulatorServer:
    def __init__(self, config: SimulatorConfig | None = None, control_token: str | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.control_token = control_token or secrets.token_urlsafe(24)  # only the one who started it knows it
        self.market = SimMarket(self.config, int(time.time() * 1000) + self.config.clock_offset_ms)
        self.faults = FaultInjector()
        bingx = BingxDialect(self.market.wall_ms)
        self.dialects = [BybitDialect(self.market.wall_ms), bingx]
        self.bingx_api = bingx
        self.bingx_ws = BingxSwapWs(self.market, bingx.listen_keys)
        bingx.after_signed = self.bingx_ws.poke
        self.public_ws = BybitPublicWs(self.market)
        self.private_ws = BybitPrivateWs(self.market)
        limits_on = self.config.rate_limits
        self.rate_limits = RateLimits(self.market.wall_ms, self.config.rate_budgets) if limits_on else None
        self.request_count = 0
        self.path_counts: Counter[str] = Counter()
        self.requests: deque[tuple[str, str]] = deque(maxlen=10_000)  # (method, path), oldest first
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[object]] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/_sim/{action}", self._control)
        app.router.add_get(WS_PATH, self.public_ws.handle)
        app.router.add_get(PRIVATE_PATH, self.private_ws.handle)
        app.router.add_get(BINGX_WS_PATH, self.bingx_ws.handle)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def start(self, port: int = 0) -> str:
        """Bind 127.0.0.1 (``port`` 0 = a free port) and return the base URL."""
        self._runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, port, reuse_address=True)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._ticker = asyncio.create_task(self._tick_loop())
        log.info("exchange simulator listening on %s", self.base_url)
        return self.base_url

    async def stop(self) -> None:
        if self._runner:
            await self._runner.shutdown()
        if self._ticker:
            self._ticker.cancel()
            # RuntimeError: under qasync a cancelled task can be resumed while its loop is no longer running
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await self._ticker
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    def set_clock_offset(self, offset_ms: int) -> None:
        """Put the venue's clock ``offset_ms`` ahead of this computer's (behind when negative), from now on."""
        self.market.clock.offset_ms = offset_ms

    async def _tick_loop(self) -> None:
        """Keep TP/SL and funding moving when nobody asks (real-time or accelerated replay)."""
        while True:
            await asyncio.sleep(0.25)
            if self.market.clock.speed > 0:
                self.market.advance()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._answer(request)
        finally:
            self.private_ws.notify()  # an order, fill or setting may have changed: private streams look now

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.request_count += 1
        self.path_counts[request.path] += 1
        self.requests.append((request.method, request.path))
        rule = self.faults.take(request.method, request.path)
        dialect = next((d for d in self.dialects if d.owns(request.path)), None)
        if dialect is None:
            return web.json_response({"error": "unknown path"}, status=404)
        if rule is not None:
            if rule.kind is FaultKind.LATENCY:
                await asyncio.sleep(rule.seconds)
            elif rule.kind is FaultKind.HTTP_5XX:
                return web.Response(status=rule.status, text="Service Unavailable")
            elif rule.kind is FaultKind.RATE_LIMIT:
                return dialect.rate_limited(rule.retry_after)
            elif rule.kind is FaultKind.RESET:
                _drop(request)
                return web.Response(status=500)
            elif rule.kind is FaultKind.TIMEOUT:
                await asyncio.sleep(rule.seconds or 60)
                return web.Response(status=504, text="Gateway Timeout")
            elif rule.kind is FaultKind.RESPONSE_LOST:
                await dialect.handle(request, self.market)
                _drop(request)
                return web.Response(status=500)
            elif rule.kind is FaultKind.REJECT:
                failure = next((f for f in AuthFailure if f.value == rule.error), None)
                return dialect.auth_error(failure) if failure else dialect.business_error(SimErrorKind(rule.error))
        if self.rate_limits is None:
            return await dialect.handle(request, self.market)
        refusal, headers = await self.rate_limits.admit(dialect.name, request, self.market, dialect.rate_limited)
        if refusal is not None:
            return refusal
        response = await dialect.handle(request, self.market)
        response.headers.update(headers)
        return response

    async def _control(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        given = request.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.control_token.encode()):
            log.warning("simulator: refused /_sim/%s without its control token", action)
            return web.json_response({"error": "the simulator's control token is required"}, status=403)
        q = dict(request.query)
        if action == "step":
            self.market.step(int(q.get("ms", "1000")))
        elif action == "speed":
            self.market.clock.set_speed(float(q["speed"]))
        elif action == "account":
            key = self.market.create_account(
                float(q.get("balance", "10000")),
                exchange=q.get("exchange", "bybit"),
                api_key=q.get("key"),
                secret=q.get("secret"),
            )
            return web.json_response({"apiKey": key.key, "secret": key.secret})
        elif action == "fault":
            self.faults.add(q["path"], q["kind"], count=int(q.get("count", "1")), seconds=float(q.get("seconds", "0")))
        elif action == "clear-faults":
            self.faults.clear()
        elif action == "clock":
            self.set_clock_offset(int(q.get("offset_ms", "0")))
        elif action != "state":
            return web.json_response({"error": f"unknown action {action}"}, status=404)
        return web.json_response(
            {
                "market_ms": self.market.now(),
                "prices": self.market.prices(),
                "speed": self.market.clock.speed,
                "clock_offset_ms": self.market.clock.offset_ms,
                "requests": self.request_count,
            }
        )


def _drop(request: web.Request) -> None:
    """Abort the TCP connection: the client sees a reset / server-disconnected error."""
    transport = request.transport
    if transport is not None:
        transport.abort()
