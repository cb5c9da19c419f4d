"""The Bybit V5 public linear topics, each a small stateful stream: a snapshot first, then what changed.

Shapes as recorded (exchange-fixtures bybit/jkorf-bybit-net/ws/Linear) and as Bybit's docs show them:

* ``tickers.<symbol>``: a ``snapshot`` of every field, then ``delta`` messages with the symbol and the fields that
  changed; ``tickDirection`` (PlusTick, ZeroPlusTick, MinusTick, ZeroMinusTick) follows the last price.
* ``orderbook.<depth>.<symbol>`` (depth 1, 50, 200, 500, 1000): a ``snapshot`` then ``delta`` messages of the levels
  that changed (size "0" removes a level); ``u`` counts this topic's updates, ``seq`` is the venue's cross sequence.
  The book is synthetic: the ask starts at the last price, the bid one tick below (as the REST ticker says), sizes
  are a fixed function of the level's price, so a move of the price adds and removes levels.
* ``kline.<interval>.<symbol>``: the current candle (``confirm`` false) every push; when a candle closes it is sent
  once more with ``confirm`` true (each candle closed since the last push, at most ``MAX_CATCH_UP``).
* ``publicTrade.<symbol>``: one trade each time the last price moves (the replay has no trade tape of its own).
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from typing import Any

from cts_desktop.exchanges.simulator.bybit_api import INTERVALS, BybitDialect
from cts_desktop.exchanges.simulator.common import fmt
from cts_desktop.exchanges.simulator.market import SimMarket
from cts_desktop.exchanges.simulator.replay import Instrument

Message = dict[str, Any]
BOOK_DEPTHS = (1, 50, 200, 500, 1000)
MAX_CATCH_UP = 12  # closed candles sent at most after a jump of the stepped market
TICKER_FIELDS = (
    "symbol", "tickDirection", "price24hPcnt", "lastPrice", "prevPrice24h", "highPrice24h", "lowPrice24h",
    "prevPrice1h", "markPrice", "indexPrice", "openInterest", "openInterestValue", "turnover24h", "volume24h",
    "nextFundingTime", "fundingRate", "bid1Price", "bid1Size", "ask1Price", "ask1Size",
)
_cross_seq = itertools.count(1_000_000_000)


def tick_direction(previous: str, prev_price: float, price: float) -> str:
    if price > prev_price:
        return "PlusTick"
    if price < prev_price:
        return "MinusTick"
    return "ZeroPlusTick" if previous in ("PlusTick", "ZeroPlusTick") else "ZeroMinusTick"


class PublicTopic:
    """One subscribed topic; :meth:`messages` returns what to send now (empty when nothing changed)."""

    def __init__(self, market: SimMarket, dialect: BybitDialect, topic: str, base: str) -> None:
        self.market = market
        self.dialect = dialect
        self.topic = topic
        self.base = base
        self.inst: Instrument = market.instruments[base]

    def messages(self) -> list[Message]:
        raise NotImplementedError


class TickerTopic(PublicTopic):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.sent: dict[str, str] = {}
        self.direction = "ZeroPlusTick"
        self.last = self.market.price(self.base)

    def current(self) -> dict[str, str]:
        rest = self.dialect.tickers({"category": "linear", "symbol": self.inst.bybit_symbol}, self.market)["list"][0]
        price = self.market.price(self.base)
        self.direction = tick_direction(self.direction, self.last, price)
        self.last = price
        fields = {**rest, "tickDirection": self.direction}
        return {name: fields[name] for name in TICKER_FIELDS}

    def messages(self) -> list[Message]:
        now = self.market.wall_ms()
        fields = self.current()
        if not self.sent:
            self.sent = fields
            return [{"topic": self.topic, "type": "snapshot", "data": fields, "cs": next(_cross_seq), "ts": now}]
        changed = {k: v for k, v in fields.items() if self.sent.get(k) != v}
        if not changed:
            return []
        self.sent = fields
        data = {"symbol": fields["symbol"], **changed}
        return [{"topic": self.topic, "type": "delta", "data": data, "cs": next(_cross_seq), "ts": now}]


class OrderBookTopic(PublicTopic):
    def __init__(self, market: SimMarket, dialect: BybitDialect, topic: str, base: str, depth: int) -> None:
        super().__init__(market, dialect, topic, base)
        self.depth = depth
        self.update_id = 0
        self.book: tuple[dict[str, str], dict[str, str]] | None = None

    def _size(self, price: str) -> str:
        """A size that depends only on the level's price: 1 to 40 quantity steps."""
        lots = 1 + int(hashlib.sha256(f"{self.base}{price}".encode()).hexdigest()[:6], 16) % 40
        return fmt(lots * float(self.inst.qty_step), self.inst.qty_step)

    def levels(self) -> tuple[dict[str, str], dict[str, str]]:
        tick = float(self.inst.tick_size)
        ask0 = round(self.market.price(self.base) / tick) * tick
        asks = [fmt(ask0 + i * tick, self.inst.tick_size) for i in range(self.depth)]
        bids = [fmt(ask0 - (i + 1) * tick, self.inst.tick_size) for i in range(self.depth)]
        return {p: self._size(p) for p in bids}, {p: self._size(p) for p in asks}

    def messages(self) -> list[Message]:
        now = self.market.wall_ms()
        bids, asks = self.levels()
        if self.book is None:
            kind, b, a = "snapshot", list(bids.items()), list(asks.items())
        else:
            b, a = _changes(self.book[0], bids), _changes(self.book[1], asks)
            if not b and not a:
                return []
            kind = "delta"
        self.book = (bids, asks)
        self.update_id += 1
        data = {
            "s": self.inst.bybit_symbol,
            "b": [[p, q] for p, q in b],
            "a": [[p, q] for p, q in a],
            "u": self.update_id,
            "seq": next(_cross_seq),
        }
        return [{"topic": self.topic, "type": kind, "ts": now, "data": data, "cts": now}]


class KlineTopic(PublicTopic):
    def __init__(self, market: SimMarket, dialect: BybitDialect, topic: str, base: str, interval: str) -> None:
        super().__init__(market, dialect, topic, base)
        self.interval = interval
        self.interval_ms = INTERVALS[interval]
        self.open_ms: int | None = None

    def _candle(self, start: int, confirm: bool) -> dict[str, Any]:
        now = self.market.now()
        bar = self.market.bar(self.base, start, min(start + self.interval_ms, now))
        tick = self.inst.tick_size
        return {
            "start": start,
            "end": start + self.interval_ms - 1,
            "interval": self.interval,
            "open": fmt(bar.open, tick),
            "close": fmt(bar.close, tick),
            "high": fmt(bar.high, tick),
            "low": fmt(bar.low, tick),
            "volume": f"{bar.volume:.3f}",
            "turnover": f"{bar.volume * (bar.high + bar.low) / 2:.4f}",
            "confirm": confirm,
            "timestamp": self.market.wall_ms(),
        }

    def messages(self) -> list[Message]:
        now = self.market.now()
        start = now - now % self.interval_ms
        data = []
        closed = self.open_ms if self.open_ms is not None else start
        closed = max(closed, start - MAX_CATCH_UP * self.interval_ms)
        while closed < start:  # every candle closed since the last push, once, confirmed
            data.append(self._candle(closed, confirm=True))
            closed += self.interval_ms
        self.open_ms = start
        data.append(self._candle(start, confirm=False))
        return [{"topic": self.topic, "data": [d], "ts": self.market.wall_ms(), "type": "snapshot"} for d in data]


class TradeTopic(PublicTopic):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.last = self.market.price(self.base)
        self.direction = "ZeroPlusTick"

    def messages(self) -> list[Message]:
        price = self.market.price(self.base)
        if price == self.last:
            return []
        side = "Buy" if price > self.last else "Sell"
        self.direction = tick_direction(self.direction, self.last, price)
        self.last = price
        now = self.market.wall_ms()
        trade = {
            "T": now,
            "s": self.inst.bybit_symbol,
            "S": side,
            "v": self.inst.min_qty,
            "p": fmt(price, self.inst.tick_size),
            "L": self.direction,
            "i": str(uuid.uuid4()),
            "BT": False,
        }
        return [{"topic": self.topic, "type": "snapshot", "ts": now, "data": [trade]}]


def _changes(old: dict[str, str], new: dict[str, str]) -> list[tuple[str, str]]:
    gone = [(p, "0") for p in old if p not in new]
    moved = [(p, q) for p, q in new.items() if old.get(p) != q]
    return gone + moved


def make_topic(market: SimMarket, dialect: BybitDialect, topic: str) -> PublicTopic | str:
    """The stream for ``topic``, or the refusal text Bybit answers for a topic it does not know."""
    parts = topic.split(".")
    refusal = f"Invalid topic: {topic}"
    base = next((b for b, i in market.instruments.items() if i.bybit_symbol == parts[-1]), None)
    if base is None:
        return refusal
    if len(parts) == 2 and parts[0] == "tickers":
        return TickerTopic(market, dialect, topic, base)
    if len(parts) == 2 and parts[0] == "publicTrade":
        return TradeTopic(market, dialect, topic, base)
    if len(parts) == 3 and parts[0] == "kline" and parts[1] in INTERVALS:
        return KlineTopic(market, dialect, topic, base, parts[1])
    if len(parts) == 3 and parts[0] == "orderbook" and parts[1].isdigit() and int(parts[1]) in BOOK_DEPTHS:
        return OrderBookTopic(market, dialect, topic, base, int(parts[1]))
    return refusal
