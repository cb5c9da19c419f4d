"""Request budgets per IP and per API key, with each venue's documented numbers, headers and answers.

Bybit V5 (docs/v5/rate-limit, summarised in exchange-fixtures bybit/docs/error-codes.json ``rate_limit_facts``):

* per IP: 600 requests in any 5 s window, public and private alike; above it HTTP 403 "access too frequent" and the IP
  is banned for 10 minutes;
* per API key (UID) and endpoint, a rolling 1 s window: 10/s for order entry and settings, 50/s for the reads named
  in :data:`BYBIT_KEY_BUDGETS`; above it ``retCode`` 10006 "Too many visits!";
* every signed response carries ``X-Bapi-Limit`` (the endpoint's budget), ``X-Bapi-Limit-Status`` (what is left) and
  ``X-Bapi-Limit-Reset-Timestamp`` (when the window frees a request again after a breach, else the current time).

BingX swap (the docs' rate-limit text in bingx/docs/error-codes.json and BingX's 2025-10 rate-limit notice):

* per IP: market data 500 requests per 10 s, account interfaces 2,000 per 10 s;
* per API key and endpoint: order placement 10/s, other endpoints 10/s as well; a key that exceeds an endpoint's rate
  is limited for 5 minutes ("restore after 5 minutes"), answered with code 100410 "Rate limit exceeded";
* signed responses carry ``X-RateLimit-Requests-Remain`` and ``X-RateLimit-Requests-Expire`` (end of the window, ms).

Requests are counted only when authenticated (a wrong signature does not spend the key's budget).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from cts_desktop.exchanges.simulator.auth import ApiKey, AuthFailure
from cts_desktop.exchanges.simulator.market import SimMarket


@dataclass(frozen=True)
class Budget:
    limit: int
    window_ms: int
    penalty_ms: int = 0  # after a breach, refused this long (an IP ban, BingX's 5-minute limit)


@dataclass(frozen=True)
class VenueBudgets:
    public_ip: Budget
    private_ip: Budget
    key_default: Budget
    per_key: dict[str, Budget] = field(default_factory=dict)
    shared_ip: bool = False  # one IP window for public and private requests (Bybit)

    def for_path(self, path: str) -> Budget:
        return self.per_key.get(path, self.key_default)


_BYBIT_IP = Budget(600, 5_000, penalty_ms=600_000)
BYBIT_KEY_BUDGETS: dict[str, Budget] = {
    **{p: Budget(10, 1_000) for p in (
        "/v5/order/create", "/v5/order/amend", "/v5/order/cancel", "/v5/order/cancel-all",
        "/v5/position/set-leverage", "/v5/position/trading-stop", "/v5/position/switch-isolated",
        "/v5/position/switch-mode", "/v5/account/fee-rate", "/v5/user/query-api",
    )},
    **{p: Budget(50, 1_000) for p in (
        "/v5/order/realtime", "/v5/order/history", "/v5/execution/list", "/v5/position/list",
        "/v5/position/closed-pnl", "/v5/account/wallet-balance", "/v5/account/info",
    )},
    "/v5/account/set-margin-mode": Budget(5, 1_000),
    "/v5/asset/coin/query-info": Budget(5, 1_000),
}
BYBIT = VenueBudgets(_BYBIT_IP, _BYBIT_IP, Budget(10, 1_000), BYBIT_KEY_BUDGETS, shared_ip=True)
BINGX = VenueBudgets(
    public_ip=Budget(500, 10_000),
    private_ip=Budget(2_000, 10_000),
    key_default=Budget(10, 1_000, penalty_ms=300_000),
)
VENUE_BUDGETS = {"bybit": BYBIT, "bingx": BINGX}


@dataclass
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_ms: int  # Bybit's reset stamp: when a refused request may come again, else now
    window_end_ms: int  # BingX's expiry: when the current window's oldest request leaves it


class Window:
    """A rolling window: the stamps of the requests it let through, and a refusal deadline after a breach."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.stamps: deque[int] = deque()
        self.blocked_until = 0

    def take(self, now: int) -> Verdict:
        while self.stamps and now - self.stamps[0] >= self.budget.window_ms:
            self.stamps.popleft()
        limit = self.budget.limit
        if now < self.blocked_until or len(self.stamps) >= limit:
            if self.budget.penalty_ms and now >= self.blocked_until:
                self.blocked_until = now + self.budget.penalty_ms
            reset = max(self.blocked_until, self.stamps[0] + self.budget.window_ms if self.stamps else now)
            return Verdict(False, limit, 0, reset, reset)
        self.stamps.append(now)
        return Verdict(True, limit, limit - len(self.stamps), now, self.stamps[0] + self.budget.window_ms)


class RateLimits:
    """The server's budgets: one window per (venue, IP group, IP) and per (venue, key, endpoint)."""

    def __init__(self, now: Callable[[], int], budgets: dict[str, VenueBudgets] | None = None) -> None:
        self.now = now
        self.budgets = budgets or VENUE_BUDGETS
        self.windows: dict[tuple[str, ...], Window] = {}
        self.refused = 0

    def _window(self, key: tuple[str, ...], budget: Budget) -> Window:
        window = self.windows.get(key)
        if window is None:
            window = self.windows[key] = Window(budget)
        return window

    def take_ip(self, venue: str, ip: str, signed: bool) -> Verdict:
        b = self.budgets[venue]
        group = "all" if b.shared_ip else ("private" if signed else "public")
        budget = b.private_ip if signed or b.shared_ip else b.public_ip
        return self._window((venue, group, ip), budget).take(self.now())

    def take_key(self, venue: str, api_key: str, path: str) -> Verdict:
        return self._window((venue, api_key, path), self.budgets[venue].for_path(path)).take(self.now())

    async def admit(self, venue: str, request: web.Request, market: SimMarket,
                    refuse: Callable[[int], web.Response]) -> tuple[web.Response | None, dict[str, str]]:
        """(a refusal or None, the headers the answer carries). ``refuse(retry_after_s)`` is the venue's own
        rate-limit answer for a key over its budget."""
        key = await authenticated_key(venue, request, market)
        ip = request.remote or "?"
        verdict = self.take_ip(venue, ip, key is not None)
        if not verdict.allowed:
            self.refused += 1
            return ip_refusal(venue, verdict, self.now()), {}
        if key is None:
            return None, {}
        verdict = self.take_key(venue, key.key, request.path)
        headers = key_headers(venue, verdict)
        if not verdict.allowed:
            self.refused += 1
            answer = refuse(max(1, -(-(verdict.reset_ms - self.now()) // 1000)))
            answer.headers.update(headers)
            return answer, headers
        return None, headers


async def authenticated_key(venue: str, request: web.Request, market: SimMarket) -> ApiKey | None:
    """The key of a correctly signed request (the same checks the dialect makes), else None."""
    now = market.wall_ms()
    if venue == "bybit":
        if "X-BAPI-API-KEY" not in request.headers:
            return None
        raw = await request.text() if request.method == "POST" else request.rel_url.raw_query_string
        auth = market.keyring.check_bybit(dict(request.headers), raw, now, request.remote)
    else:
        if "X-BX-APIKEY" not in request.headers:
            return None
        auth = market.keyring.check_bingx(request.headers.get("X-BX-APIKEY"), request.rel_url.raw_query_string,
                                          dict(request.query), now, request.remote)
    return None if isinstance(auth, AuthFailure) else auth


def key_headers(venue: str, verdict: Verdict) -> dict[str, str]:
    if venue == "bybit":
        return {
            "X-Bapi-Limit": str(verdict.limit),
            "X-Bapi-Limit-Status": str(verdict.remaining),
            "X-Bapi-Limit-Reset-Timestamp": str(verdict.reset_ms),
        }
    return {
        "X-RateLimit-Requests-Remain": str(verdict.remaining),
        "X-RateLimit-Requests-Expire": str(verdict.window_end_ms),
    }


def ip_refusal(venue: str, verdict: Verdict, now: int) -> web.Response:
    if venue == "bybit":
        return web.Response(status=403, text="access too frequent")
    retry = max(1, -(-(verdict.reset_ms - now) // 1000))
    return web.json_response({"code": 100410, "msg": "Rate limit exceeded", "data": {}}, status=429,
                             headers={"Retry-After": str(retry)})
