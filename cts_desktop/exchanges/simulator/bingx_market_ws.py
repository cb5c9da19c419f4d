"""BingX swap public stream payloads (``/swap-market``): one builder per data type, shapes as recorded.

Recorded pushes (``exchange-fixtures/bingx/jkorf-bingx-net/ws``)::

    {"code":0,"dataType":"ETH-USDT@ticker","data":{"e":"24hTicker","E":..,"s":..,"p":..,"P":..,"c":..,...}}
    {"code":0,"dataType":"ETH-USDT@kline_1m","s":"ETH-USDT","data":[{"c":..,"o":..,"h":..,"l":..,"v":..,"T":open}]}
    {"code":0,"dataType":"ETH-USDT@depth20@100ms","ts":..,"data":{"bids":[[p,q],..],"asks":[[p,q],..]}}
    {"code":0,"dataType":"ETH-USDT@trade","data":[{"q":..,"p":..,"T":..,"m":false,"s":..}]}

Asks of a depth push are listed highest first, as the venue sends them. The simulator has no order book or trade
tape of its own: depth is a ladder of whole ticks around the last price, a trade is pushed when the price moves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cts_desktop.exchanges.simulator.bingx_api import INTERVALS
from cts_desktop.exchanges.simulator.common import fmt
from cts_desktop.exchanges.simulator.market import SimMarket

DEPTH_LEVELS = (5, 10, 20, 50, 100)
DEPTH_SPEEDS_MS = (100, 200, 500, 1000)
DEFAULT_DEPTH_MS = 500
TICKER_MS = 1000
KLINE_MS = 500
TRADE_MS = 100

_DATA_TYPE = re.compile(
    r"^(?P<sym>[A-Z0-9]+-[A-Z]+)@(?:"
    r"(?P<ticker>ticker)|(?P<trade>trade)|(?P<last>lastPrice)|(?P<mark>markPrice)|(?P<book>bookTicker)"
    r"|kline_(?P<interval>\w+)|depth(?P<levels>\d+)(?:@(?P<speed>\d+)ms)?)$"
)


@dataclass(frozen=True)
class Subscription:
    """One parsed ``dataType``: its symbol's base, the kind and the kind's parameter (interval / levels)."""

    data_type: str
    base: str
    kind: str  # ticker, kline, depth, trade, lastPrice, markPrice, bookTicker
    interval_ms: int = 0
    levels: int = 0
    period_ms: int = TICKER_MS


def parse_data_type(data_type: str, market: SimMarket) -> Subscription | None:
    """The subscription ``data_type`` names, or None when the venue would refuse it."""
    m = _DATA_TYPE.match(data_type)
    if m is None:
        return None
    base = next((b for b, inst in market.instruments.items() if inst.bingx_symbol == m["sym"]), None)
    if base is None:
        return None
    if m["interval"] is not None:
        interval = INTERVALS.get(m["interval"])
        return None if interval is None else Subscription(data_type, base, "kline", interval_ms=interval,
                                                          period_ms=KLINE_MS)
    if m["levels"] is not None:
        levels, speed = int(m["levels"]), int(m["speed"] or DEFAULT_DEPTH_MS)
        if levels not in DEPTH_LEVELS or speed not in DEPTH_SPEEDS_MS:
            return None
        return Subscription(data_type, base, "depth", levels=levels, period_ms=speed)
    kind = next(k for k in ("ticker", "trade", "last", "mark", "book") if m[k] is not None)
    names = {"last": "lastPrice", "mark": "markPrice", "book": "bookTicker"}
    return Subscription(data_type, base, names.get(kind, kind), period_ms=TRADE_MS if kind == "trade" else TICKER_MS)


class MarketPayloads:
    """Builds the push of a subscription from the simulated market's current state."""

    def __init__(self, market: SimMarket) -> None:
        self.market = market
        self._update_id = 0

    def build(self, sub: Subscription, previous_price: float | None) -> dict[str, Any] | None:
        """The message for ``sub`` now (None: nothing to push, e.g. no trade since ``previous_price``)."""
        if sub.kind == "trade":
            return self.trade(sub, previous_price)
        data: Any
        if sub.kind == "kline":
            return self.kline(sub)
        if sub.kind == "depth":
            return self.depth(sub)
        if sub.kind == "ticker":
            data = self.ticker(sub.base)
        elif sub.kind == "lastPrice":
            data = self._price_event(sub.base, "lastPriceUpdate", "c")
        elif sub.kind == "markPrice":
            data = self._price_event(sub.base, "markPriceUpdate", "p")
        else:
            data = self.book_ticker(sub.base)
        return {"code": 0, "dataType": sub.data_type, "data": data}

    def ticker(self, base: str) -> dict[str, Any]:
        market, inst = self.market, self.market.instruments[base]
        st, tick, now = market.stats_24h(base), inst.tick_size, market.wall_ms()
        bid, ask = self._top(base)
        return {
            "e": "24hTicker",
            "E": now,
            "s": inst.bingx_symbol,
            "p": fmt(st.last - st.open, tick),
            "P": f"{(st.last / st.open - 1) * 100:.2f}",
            "c": fmt(st.last, tick),
            "L": fmt(float(inst.min_qty), inst.qty_step),
            "h": fmt(st.high, tick),
            "l": fmt(st.low, tick),
            "v": fmt(st.volume, inst.qty_step),
            "q": f"{st.turnover:.2f}",
            "o": fmt(st.open, tick),
            "O": market.now() - 86_400_000,
            "C": market.now(),
            "A": fmt(ask, tick),
            "a": fmt(self._qty(base, 1), inst.qty_step),
            "B": fmt(bid, tick),
            "b": fmt(self._qty(base, 2), inst.qty_step),
        }

    def kline(self, sub: Subscription) -> dict[str, Any]:
        inst = self.market.instruments[sub.base]
        bar = self.market.klines(sub.base, sub.interval_ms, None, None, 1)[-1]
        tick = inst.tick_size
        candle = {
            "c": fmt(bar.close, tick),
            "o": fmt(bar.open, tick),
            "h": fmt(bar.high, tick),
            "l": fmt(bar.low, tick),
            "v": fmt(bar.volume, inst.qty_step),
            "T": bar.ts,
        }
        return {"code": 0, "dataType": sub.data_type, "s": inst.bingx_symbol, "data": [candle]}

    def depth(self, sub: Subscription) -> dict[str, Any]:
        inst = self.market.instruments[sub.base]
        tick = float(inst.tick_size)
        bid, ask = self._top(sub.base)
        bids = [[fmt(bid - i * tick, inst.tick_size), fmt(self._qty(sub.base, i), inst.qty_step)]
                for i in range(sub.levels)]
        asks = [[fmt(ask + i * tick, inst.tick_size), fmt(self._qty(sub.base, i + 7), inst.qty_step)]
                for i in reversed(range(sub.levels))]
        return {"code": 0, "dataType": sub.data_type, "ts": self.market.wall_ms(), "data": {"bids": bids, "asks": asks}}

    def trade(self, sub: Subscription, previous_price: float | None) -> dict[str, Any] | None:
        price = self.market.price(sub.base)
        if previous_price is None or price == previous_price:
            return None
        inst = self.market.instruments[sub.base]
        row = {
            "q": fmt(self._qty(sub.base, 0), inst.qty_step),
            "p": fmt(price, inst.tick_size),
            "T": self.market.now(),
            "m": price < previous_price,  # the buyer made the market: a sell hit the bid
            "s": inst.bingx_symbol,
        }
        return {"code": 0, "dataType": sub.data_type, "data": [row]}

    def book_ticker(self, base: str) -> dict[str, Any]:
        inst = self.market.instruments[base]
        bid, ask = self._top(base)
        self._update_id += 1
        now = self.market.wall_ms()
        return {
            "e": "bookTicker",
            "u": self._update_id,
            "E": now,
            "T": self.market.now(),
            "s": inst.bingx_symbol,
            "b": fmt(bid, inst.tick_size),
            "B": fmt(self._qty(base, 2), inst.qty_step),
            "a": fmt(ask, inst.tick_size),
            "A": fmt(self._qty(base, 1), inst.qty_step),
        }

    def _price_event(self, base: str, event: str, field: str) -> dict[str, Any]:
        inst = self.market.instruments[base]
        return {"e": event, "E": self.market.wall_ms(), "s": inst.bingx_symbol,
                field: fmt(self.market.price(base), inst.tick_size)}

    def _top(self, base: str) -> tuple[float, float]:
        """Best bid one tick under the last price, best ask at it (as the REST ticker quotes them)."""
        last, tick = self.market.price(base), float(self.market.instruments[base].tick_size)
        return last - tick, last

    def _qty(self, base: str, level: int) -> float:
        """A size for a ladder level: a few minimum quantities, varying with the level."""
        return float(self.market.instruments[base].min_qty) * (1 + (level * 7) % 13)
