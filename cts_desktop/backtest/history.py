"""History for backtests: candles downloaded through ccxt (the exchange adapter), one page at a time, cached in
the database and resumable.

Only what the cache lacks is fetched (``missing_ranges``); each page is stored as soon as it arrives, so a
cancelled or failed download resumes where it stopped. Between pages the download reports progress and checks the
cancel flag. Afterwards the range is checked again: holes the exchange itself has no candles for are reported as
gaps (they are not filled with invented bars).
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from cts_desktop.backtest.jobs import CancelToken, ProgressFn, Tracker
from cts_desktop.domain.bars import Bars
from cts_desktop.storage.candles import Gap, load_candles, missing_ranges, store_candles
from cts_desktop.storage.db import Database

_UNITS_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def timeframe_ms(timeframe: str) -> int:
    """'1m', '5m', '1h', '1d' … → milliseconds."""
    try:
        return int(timeframe[:-1]) * _UNITS_MS[timeframe[-1]]
    except (KeyError, ValueError):
        raise ValueError(f"unknown timeframe {timeframe!r}") from None


class OhlcvSource(Protocol):
    """What the download needs from :class:`~cts_desktop.exchanges.adapter.ExchangeAdapter`."""

    caps: Any

    async def ohlcv(self, symbol: str, timeframe: str = "5m", since: int | None = None, until: int | None = None,
                    limit: int | None = None) -> list[list[float]]: ...


@dataclass(slots=True)
class HistoryReport:
    symbol: str
    timeframe: str
    since_ms: int
    until_ms: int
    fetched: int = 0  # candles received from the exchange in this run
    pages: int = 0
    gaps: list[Gap] = field(default_factory=list)  # still missing after the download (the exchange has none)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return not self.gaps

    def gap_text(self, limit: int = 5) -> str:
        from datetime import UTC, datetime

        def ts(ms: int) -> str:
            return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")

        parts = [f"{ts(g.start_ms)} → {ts(g.end_ms)}" for g in self.gaps[:limit]]
        more = len(self.gaps) - limit
        return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def align(ms: int, step: int) -> int:
    return (ms // step) * step


async def download_history(
    db: Database,
    source: OhlcvSource,
    connection_id: str,
    symbol: str,
    timeframe: str,
    since_ms: int,
    until_ms: int,
    cancel: CancelToken | None = None,
    on_progress: ProgressFn | None = None,
) -> HistoryReport:
    """Fill the cache for [since, until) page by page; raises ``Cancelled`` when cancelled (pages already stored
    stay stored)."""
    started = time.perf_counter()
    cancel = cancel or CancelToken()
    step = timeframe_ms(timeframe)
    since_ms, until_ms = align(since_ms, step), align(until_ms, step)
    report = HistoryReport(symbol, timeframe, since_ms, until_ms)
    gaps = await db.run(lambda s: missing_ranges(s, connection_id, symbol, timeframe, since_ms, until_ms, step))
    total = sum((g.end_ms - g.start_ms) // step for g in gaps)
    tracker = Tracker(max(total, 1), on_progress, f"history {symbol}")
    page = int(getattr(source.caps, "ohlcv_limit", 1000) or 1000)
    for gap in gaps:
        cursor = gap.start_ms
        while cursor < gap.end_ms:
            cancel.check()
            window_end = min(cursor + page * step, gap.end_ms)
            rows = await source.ohlcv(symbol, timeframe, since=cursor, until=window_end, limit=page)
            report.pages += 1
            if rows:
                report.fetched += len(rows)
                await db.run(functools.partial(_store, connection_id=connection_id, symbol=symbol,
                                               timeframe=timeframe, rows=rows))
            tracker.advance(int((window_end - cursor) // step), f"history {symbol}")
            cursor = window_end
            await asyncio.sleep(0)
    report.gaps = await db.run(
        lambda s: missing_ranges(s, connection_id, symbol, timeframe, since_ms, until_ms, step))
    tracker.advance(0, f"history {symbol}", force=True)
    report.seconds = time.perf_counter() - started
    return report


def _store(session: Any, connection_id: str, symbol: str, timeframe: str, rows: list[list[float]]) -> int:
    return store_candles(session, connection_id, symbol, timeframe, rows)


def rows_to_bars(rows: list[tuple[int, float, float, float, float, float]]) -> Bars:
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    return Bars.from_columns(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4])


async def load_bars(db: Database, connection_id: str, symbol: str, timeframe: str, since_ms: int,
                    until_ms: int) -> Bars:
    rows = await db.run(lambda s: load_candles(s, connection_id, symbol, timeframe, since_ms, until_ms))
    return rows_to_bars(rows)


def resample(bars: Bars, seconds: float) -> Bars:
    """Candles of ``seconds`` from finer ones: a candle starts at a multiple of ``seconds`` (epoch), opens with its
    first bar, closes with its last — the candles the Preset engine builds from the price stream."""
    if len(bars) == 0:
        return bars
    start = np.floor(bars.time / seconds) * seconds
    keys, first = np.unique(start, return_index=True)
    last = np.r_[first[1:], len(bars)] - 1
    return Bars(keys, bars.open[first], np.maximum.reduceat(bars.high, first), np.minimum.reduceat(bars.low, first),
                bars.close[last])
