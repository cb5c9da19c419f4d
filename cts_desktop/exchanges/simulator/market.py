"""The simulated venue: price path + replay clock + accounts, advanced in one place.

Every request first calls :meth:`SimMarket.advance`, which walks the path from the last processed replay time to
the current one (every vertex in between), so resting orders, position TP/SL and funding (every 8 h of replay
time) happen in path order even when a test steps the replay by hours at once. Events are stamped with the
exchange (wall) time at which they are processed.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cts_desktop.exchanges.simulator.account import Account
from cts_desktop.exchanges.simulator.auth import ApiKey, KeyRing, generate_credentials
from cts_desktop.exchanges.simulator.replay import (
    FUNDING_INTERVAL_MS,
    Bar,
    PricePath,
    ReplayClock,
    load_dataset,
)


@dataclass
class SimulatorConfig:
    """Simulator knobs. Fees follow DOMAIN Part 1 §1 (taker 0.055 %); maker is Bybit's base-tier 0.02 %."""

    speed: float = 1.0
    history_candles: int = 7 * 288  # one week of 5 m candles before "now"
    taker_fee: float = 0.00055
    maker_fee: float = 0.0002
    default_leverage: float = 10.0
    data_dir: Path | None = None
    start_wall_ms: int | None = None
    # signed requests per second allowed per API key (None = unlimited); above it: 429 + the exchange's code
    key_requests_per_second: float | None = None
    # each venue's documented request budgets per IP and per key (rate_limits.py); off in-process unless asked,
    # on by default in the standalone simulator (``--no-rate-limits`` turns them off)
    rate_limits: bool = False
    # other budgets than the venues' (by venue name), e.g. small ones for a test; None = the documented ones
    rate_budgets: dict[str, Any] | None = None
    # the venue's clock against this computer's (ms, > 0: ahead): server time, timestamps and the receive window
    clock_offset_ms: int = 0


@dataclass
class Stats24h:
    last: float
    open: float
    high: float
    low: float
    volume: float
    turnover: float
    prev_1h: float


class SimMarket:
    def __init__(self, config: SimulatorConfig, now_ms: int) -> None:
        self.config = config
        self.series = load_dataset(config.data_dir)
        self.path = PricePath(self.series, config.start_wall_ms or now_ms, config.history_candles)
        self.clock = ReplayClock(self.path.start_ms, config.speed, config.clock_offset_ms)
        self.processed_ms = max(self.path.start_ms, self.clock.now())
        self.processed_replay = self.clock.replay_at(self.processed_ms)
        self.instruments = {b: s.instrument for b, s in self.series.items()}
        self.keyring = KeyRing()
        self._stats_cache: dict[str, tuple[int, Bar, float]] = {}
        self._key_stamps: dict[str, deque[float]] = {}
        self.last: dict[str, float] = {b: self.path.price(b, self.processed_replay) for b in self.series}
        self.settlements: list[tuple[int, str, float]] = []  # (exchange time, base, rate) of every funding charged

    # ---- accounts -----------------------------------------------------------------------------------------
    def create_account(
        self,
        balance: float,
        *,
        exchange: str = "bybit",
        api_key: str | None = None,
        secret: str | None = None,
        allowed_ips: list[str] | None = None,
    ) -> ApiKey:
        """Open an account funded with ``balance`` USDT and return its key (generated unless given)."""
        gen_key, gen_secret = generate_credentials()
        account = Account(
            instruments=self.instruments,
            wallet=balance,
            taker_fee=self.config.taker_fee,
            maker_fee=self.config.maker_fee,
            id_style="uuid" if exchange == "bybit" else "numeric",
            default_leverage=self.config.default_leverage,
        )
        entry = ApiKey(api_key or gen_key, secret or gen_secret, account, list(allowed_ips or []))
        self.keyring.add(entry)
        return entry

    def over_limit(self, key: ApiKey) -> bool:
        """Count one signed request for ``key``; True when it exceeds the per-key rate (it is then refused)."""
        limit = self.config.key_requests_per_second
        if limit is None:
            return False
        if self.requests_in_window(key.key) >= limit:
            return True
        self._key_stamps[key.key].append(time.monotonic())
        return False

    def requests_in_window(self, api_key: str) -> int:
        """Signed requests of ``api_key`` counted in the last second (the per-key rate window)."""
        now = time.monotonic()
        stamps = self._key_stamps.setdefault(api_key, deque())
        while stamps and now - stamps[0] >= 1.0:
            stamps.popleft()
        return len(stamps)

    # ---- time ---------------------------------------------------------------------------------------------
    def wall_ms(self) -> int:
        """The exchange's clock now (server time, the receive-window check, response stamps)."""
        return self.clock.now()

    def now(self) -> int:
        """Exchange time of the last processed state (wall clock, ms)."""
        return self.processed_ms

    def advance(self) -> None:
        wall = max(self.clock.now(), self.processed_ms)
        target = self.clock.replay_at(wall)
        self.processed_ms = wall
        if target <= self.processed_replay:
            return
        r0 = self.processed_replay
        accounts = [k.account for k in self.keyring.keys.values()]
        for base in self.series:
            prev = self.last[base]
            for price in self.path.points_between(base, r0, target):
                for acc in accounts:
                    acc.on_price(base, prev, price, wall)
                prev = price
            self.last[base] = prev
        self._funding(r0, target, wall, accounts)
        self.processed_replay = target

    def step(self, ms: int) -> None:
        """Move the replay forward by ``ms`` and process everything on the way."""
        self.clock.step(ms)
        self.advance()

    def _funding(self, r0: int, r1: int, stamp: int, accounts: list[Account]) -> None:
        for n in range(r0 // FUNDING_INTERVAL_MS + 1, r1 // FUNDING_INTERVAL_MS + 1):
            boundary = n * FUNDING_INTERVAL_MS
            for base, series in self.series.items():
                rate = series.funding_rate_at(self.path.original_ts(boundary))
                price = self.path.price(base, boundary)
                self.settlements.append((stamp, base, rate))
                for acc in accounts:
                    acc.settle_funding(base, price, rate, stamp)

    def next_funding_ms(self) -> int:
        """Wall time of the next settlement at the current speed (real-time pace when frozen)."""
        boundary = (self.processed_replay // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
        speed = self.clock.speed or 1.0
        return self.processed_ms + int((boundary - self.processed_replay) / speed)

    def funding_rate(self, base: str) -> float:
        return self.series[base].funding_rate_at(self.path.original_ts(self.processed_replay))

    # ---- market data --------------------------------------------------------------------------------------
    def price(self, base: str) -> float:
        return self.last[base]

    def prices(self) -> dict[str, float]:
        return dict(self.last)

    def bar(self, base: str, t0: int, t1: int) -> Bar:
        """OHLCV over the exchange-time interval [t0, t1): the path walked in the replay interval it maps to."""
        r0 = self.clock.replay_at(t0)
        r1 = self.processed_replay if t1 >= self.processed_ms else self.clock.replay_at(t1)
        r1 = max(r1, r0)
        raw = self.path.bar(base, r0, max(r1, r0 + 1))
        return replace(raw, ts=t0, volume=raw.volume if r1 > r0 else 0.0)

    def stats_24h(self, base: str) -> Stats24h:
        """Rolling 24 h statistics; the window part is recomputed at most once per wall second per symbol."""
        now = self.processed_ms
        cached = self._stats_cache.get(base)
        if cached is None or now - cached[0] >= 1000:
            day = 24 * 3600 * 1000
            cached = (now, self.bar(base, now - day, now), self.path.price(base, self.clock.replay_at(now - 3_600_000)))
            self._stats_cache[base] = cached
        _, bar, prev_1h = cached
        last = self.last[base]
        return Stats24h(
            last=last,
            open=bar.open,
            high=max(bar.high, last),
            low=min(bar.low, last),
            volume=bar.volume,
            turnover=bar.volume * (bar.high + bar.low) / 2,
            prev_1h=prev_1h,
        )

    def klines(self, base: str, interval_ms: int, start: int | None, end: int | None, limit: int) -> list[Bar]:
        """Bars aligned to ``interval_ms`` (the newest may be unfinished), oldest first.

        With ``start`` the first ``limit`` bars from it; otherwise the last ``limit`` bars up to ``end``/now.
        """
        now = self.processed_ms
        end = min(end if end is not None else now, now)
        oldest = self.path.origin_ms
        last_open = end - end % interval_ms
        if start is not None:
            first_open = max(start - start % interval_ms, oldest - oldest % interval_ms)
            if first_open < start:
                first_open += interval_ms
            opens = []
            t = first_open
            while t <= last_open and len(opens) < limit:
                opens.append(t)
                t += interval_ms
        else:
            opens = [last_open - i * interval_ms for i in range(limit)]
            opens = sorted(t for t in opens if t >= oldest)
        return [self.bar(base, t, min(t + interval_ms, now)) for t in opens]
