"""The simulated venue: price path + market clock + accounts, advanced in one place.

Every request first calls :meth:`SimMarket.advance`, which walks the path from the last processed market time to
now (every vertex in between), so resting orders, position TP/SL and 8-hourly funding happen in path order even
when a test steps the clock by hours at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cts_desktop.exchanges.simulator.account import Account
from cts_desktop.exchanges.simulator.auth import ApiKey, KeyRing, generate_credentials
from cts_desktop.exchanges.simulator.replay import (
    FUNDING_INTERVAL_MS,
    Bar,
    MarketClock,
    PricePath,
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
        self.clock = MarketClock(self.path.start_ms, config.speed)
        self.processed_ms = self.path.start_ms
        self.instruments = {b: s.instrument for b, s in self.series.items()}
        self.keyring = KeyRing()
        self.last: dict[str, float] = {b: self.path.price(b, self.processed_ms) for b in self.series}

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

    # ---- time ---------------------------------------------------------------------------------------------
    def now(self) -> int:
        return self.processed_ms

    def advance(self) -> None:
        target = self.clock.now()
        if target <= self.processed_ms:
            return
        t0 = self.processed_ms
        accounts = [k.account for k in self.keyring.keys.values()]
        for base in self.series:
            prev = self.last[base]
            for price in self.path.points_between(base, t0, target):
                for acc in accounts:
                    acc.on_price(base, prev, price, target)
                prev = price
            self.last[base] = prev
        self._funding(t0, target, accounts)
        self.processed_ms = target

    def step(self, ms: int) -> None:
        """Move the market clock forward by ``ms`` and process everything on the way."""
        self.clock.step(ms)
        self.advance()

    def _funding(self, t0: int, t1: int, accounts: list[Account]) -> None:
        first = t0 // FUNDING_INTERVAL_MS + 1
        for n in range(first, t1 // FUNDING_INTERVAL_MS + 1):
            ts = n * FUNDING_INTERVAL_MS
            for base, series in self.series.items():
                rate = series.funding_rate_at(self.path.original_ts(ts))
                price = self.path.price(base, ts)
                for acc in accounts:
                    acc.settle_funding(base, price, rate, ts)

    def next_funding_ms(self) -> int:
        return (self.processed_ms // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS

    def funding_rate(self, base: str) -> float:
        return self.series[base].funding_rate_at(self.path.original_ts(self.processed_ms))

    # ---- market data --------------------------------------------------------------------------------------
    def price(self, base: str) -> float:
        return self.last[base]

    def prices(self) -> dict[str, float]:
        return dict(self.last)

    def stats_24h(self, base: str) -> Stats24h:
        now = self.processed_ms
        day = 24 * 3600 * 1000
        bar = self.path.bar(base, now - day, now)
        return Stats24h(
            last=self.last[base],
            open=bar.open,
            high=bar.high,
            low=bar.low,
            volume=bar.volume,
            turnover=bar.volume * (bar.high + bar.low) / 2,
            prev_1h=self.path.price(base, now - 3600 * 1000),
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
        return [self.path.bar(base, t, min(t + interval_ms, now)) for t in opens]
