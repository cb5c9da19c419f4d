"""The candle cache stores a week of 1-minute candles in one executemany, ignores candles already stored and gives
them back in order, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import event

from cts_desktop.storage import models as m
from cts_desktop.storage.candles import load_candles, missing_ranges, store_candles
from cts_desktop.storage.db import Database

MINUTE = 60_000
T0 = 1_700_000_000_000 // MINUTE * MINUTE


def bars(first: int, count: int, shift: float = 0.0) -> list[list[float]]:
    return [[T0 + k * MINUTE, 100.0 + k + shift, 101.5 + k, 99.25 + k, 100.5 + k, float(k)]
            for k in range(first, first + count)]


def test_a_week_of_candles_is_one_statement_and_duplicates_are_ignored(db: Database) -> None:
    with db.session() as s:
        s.add(m.Connection(id="c1", name="Conn c1", exchange="bybit"))
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_a: statements.append(statement))
    week = bars(0, 7 * 1440)
    with db.session() as s:
        assert store_candles(s, "c1", "BTC/USDT:USDT", "1m", week) == len(week)
    inserts = [x for x in statements if x.lstrip().upper().startswith("INSERT")]
    # one statement compiled once (a multi-row VALUES statement per 2,000 candles took a second of Python per week)
    assert len(inserts) == 1
    with db.session() as s:  # the last four days again (other prices: ignored), and a day more: only it is added
        store_candles(s, "c1", "BTC/USDT:USDT", "1m", bars(3 * 1440, 5 * 1440, shift=0.5))
    until = T0 + 8 * 1440 * MINUTE
    with db.session() as s:
        loaded = load_candles(s, "c1", "BTC/USDT:USDT", "1m", T0, until)
        assert missing_ranges(s, "c1", "BTC/USDT:USDT", "1m", T0, until, MINUTE) == []
    assert loaded == [tuple(bar) for bar in bars(0, 7 * 1440) + bars(7 * 1440, 1440, shift=0.5)]
