"""Symbol selection (DOMAIN Part 2 §8.6 [PROPOSE]): which perpetuals a connection trades.

Every symbol-update interval: take the quote asset's active linear swaps, rank them by the chosen order (24 h
quote volume, 24 h change, volatility = σ of 1-minute returns over the volatility period, or alphabetical),
keep the first N, and put the forced symbols first (forced ones are extra, not counted in N). Main-symbols mode
uses only main ∪ forced. Symbols are given as base assets ("BTC") and returned as ccxt unified symbols.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from cts_desktop.exchanges.models import MarketInfo, Ticker

if TYPE_CHECKING:
    from cts_desktop.exchanges.adapter import ExchangeAdapter


class SymbolOrder(Enum):
    VOLUME_24H = "volume_24h"
    CHANGE_24H = "change_24h"
    VOLATILITY = "volatility"
    ALPHABETICAL = "alphabetical"


@dataclass(frozen=True)
class SymbolSelectionConfig:
    quote: str = "USDT"
    order: SymbolOrder = SymbolOrder.VOLUME_24H
    count: int = 8
    forced: tuple[str, ...] = ("XRP", "BCH")
    main: tuple[str, ...] = ("BTC", "ETH", "BNB", "XRP", "ADA", "SOL")
    use_main_symbols: bool = False
    volatility_period_ms: int = 3_600_000
    update_interval_s: float = 3600.0
    # volatility needs candles per symbol: only the most liquid candidates are measured
    volatility_candidates: int = 40


@dataclass(frozen=True)
class SymbolSelection:
    symbols: list[str]
    ranked: list[tuple[str, float]] = field(default_factory=list)
    at_ms: int = 0


def volatility(closes: Sequence[float]) -> float:
    """σ of simple returns (0 with fewer than 3 closes)."""
    if len(closes) < 3:
        return 0.0
    rets = [b / a - 1 for a, b in itertools.pairwise(closes) if a]
    mean = sum(rets) / len(rets)
    return math.sqrt(sum((r - mean) ** 2 for r in rets) / (len(rets) - 1))


def candidates(markets: Mapping[str, MarketInfo], quote: str) -> dict[str, str]:
    """base asset → unified symbol, for active linear swaps settled in ``quote``."""
    return {m.base: s for s, m in markets.items() if m.quote == quote and m.active}


def rank(
    symbols: Sequence[str],
    order: SymbolOrder,
    tickers: Mapping[str, Ticker],
    vol: Mapping[str, float] | None = None,
) -> list[tuple[str, float]]:
    """(symbol, score) best first; alphabetical ranks by name with score 0."""
    if order is SymbolOrder.ALPHABETICAL:
        return [(s, 0.0) for s in sorted(symbols)]

    def score(symbol: str) -> float:
        t = tickers.get(symbol)
        if order is SymbolOrder.VOLUME_24H:
            return (t.quote_volume_24h or 0.0) if t else 0.0
        if order is SymbolOrder.CHANGE_24H:
            return abs(t.change_pct_24h or 0.0) if t else 0.0
        return (vol or {}).get(symbol, 0.0)

    return sorted(((s, score(s)) for s in symbols), key=lambda p: (-p[1], p[0]))


def choose(by_base: Mapping[str, str], ranked: Sequence[tuple[str, float]], config: SymbolSelectionConfig) -> list[str]:
    forced = [by_base[b] for b in config.forced if b in by_base]
    if config.use_main_symbols:
        main = [by_base[b] for b in config.main if b in by_base and by_base[b] not in forced]
        return forced + main
    rest = [s for s, _ in ranked if s not in forced][: config.count]
    return forced + rest


async def select_symbols(adapter: ExchangeAdapter, config: SymbolSelectionConfig) -> SymbolSelection:
    markets = await adapter.markets(reload=True)
    by_base = candidates(markets, config.quote)
    now = int(time.time() * 1000)
    if config.use_main_symbols:
        return SymbolSelection(choose(by_base, [], config), [], now)
    tickers: Mapping[str, Ticker] = {}
    if config.order is not SymbolOrder.ALPHABETICAL:
        tickers = await adapter.tickers(list(by_base.values()))
    vol: dict[str, float] = {}
    if config.order is SymbolOrder.VOLATILITY:
        liquid = rank(list(by_base.values()), SymbolOrder.VOLUME_24H, tickers)[: config.volatility_candidates]
        minutes = max(3, config.volatility_period_ms // 60_000)
        # the last ``minutes`` candles (the newest one forming), over as many pages as the period needs: one page
        # (Bybit's 1,000 minutes) made a 24-h period 16.7 h
        first_open = now - now % 60_000 - (minutes - 1) * 60_000
        for symbol, _ in liquid:
            candles = await adapter.ohlcv(symbol, "1m", since=first_open, limit=minutes)
            vol[symbol] = volatility([c[4] for c in candles])
    ranked = rank(list(by_base.values()), config.order, tickers, vol)
    return SymbolSelection(choose(by_base, ranked, config), ranked, now)


class SymbolSelector:
    """Caches the selection for ``update_interval_s`` (the symbol-update interval)."""

    def __init__(self, adapter: ExchangeAdapter, config: SymbolSelectionConfig) -> None:
        self.adapter = adapter
        self.config = config
        self._last: SymbolSelection | None = None
        self._at = 0.0

    async def current(self, force: bool = False) -> SymbolSelection:
        if force or self._last is None or time.monotonic() - self._at >= self.config.update_interval_s:
            self._last = await select_symbols(self.adapter, self.config)
            self._at = time.monotonic()
        return self._last
