"""A deterministic, realistic ``logs`` table of any size for the monitoring tests (fast bulk insert).

Records spread over the last 48 hours (so windows of 24 h and 1 h cut through them), with every category, the
usual level mix (mostly INFO, some WARNING/ERROR, a few CRITICAL), three connections plus records without one,
a pool of recurring error messages (for the top-errors list) and stack traces on some errors.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert

from cts_desktop.storage.db import Database
from cts_desktop.storage.models import LogRecord

CATEGORIES = ("system", "engine", "connection", "exchange", "database", "ui", "toast")
CONNECTIONS = ("bybit-x03", "bingx-x01", "replay", None)
LEVELS = ((10, "DEBUG", 10), (20, "INFO", 70), (30, "WARNING", 12), (40, "ERROR", 7), (50, "CRITICAL", 1))
ERROR_MESSAGES = (
    *(f"order rejected by exchange: code {code}" for code in range(100, 112)),
    "engine loop crashed: ZeroDivisionError",
    "ticker stream disconnected",
    "database is locked",
)


@dataclass(frozen=True)
class Seeded:
    rows: list[dict[str, Any]]
    now_ms: int


def make_rows(count: int, now_ms: int, seed: int = 7, span_ms: int = 48 * 3_600_000) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    weights = [w for _, _, w in LEVELS]
    rows: list[dict[str, Any]] = []
    for i in range(count):
        levelno, level, _ = rng.choices(LEVELS, weights)[0]
        category = rng.choice(CATEGORIES)
        if levelno >= 40:
            message = ERROR_MESSAGES[min(int(rng.expovariate(0.35)), len(ERROR_MESSAGES) - 1)]
        else:
            message = f"{category} event {rng.randrange(500)} ok"
        rows.append(
            {
                "ts_ms": now_ms - rng.randrange(span_ms),
                "levelno": levelno,
                "level": level,
                "category": category,
                "logger": f"cts.{category}.seed",
                "connection_id": rng.choice(CONNECTIONS),
                "symbol": rng.choice(("BTCUSDT", "ETHUSDT", None)),
                "message": message,
                "context": {"n": i} if i % 5 == 0 else None,
                "exc_text": (
                    f"Traceback (most recent call last):\n  File \"engine.py\", line {i % 300}, in cycle\n"
                    "ZeroDivisionError: division by zero"
                ) if levelno >= 40 and i % 3 == 0 else None,
            }
        )
    return rows


_COLUMNS = ("ts_ms", "levelno", "level", "category", "logger", "connection_id", "symbol", "message", "context",
            "exc_text")


def seed_logs(db: Database, count: int, now_ms: int, seed: int = 7) -> Seeded:
    """Insert ``count`` rows: one driver-level executemany on SQLite (about 1 s for 100k), Core insert elsewhere."""
    rows = make_rows(count, now_ms, seed)
    with db.session() as session:
        if db.is_sqlite:
            sql = f"INSERT INTO logs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
            tuples = [
                tuple(json.dumps(r[c]) if c == "context" and r[c] is not None else r[c] for c in _COLUMNS)
                for r in rows
            ]
            session.connection().exec_driver_sql(sql, tuples)
        else:
            for start in range(0, len(rows), 20_000):
                session.execute(insert(LogRecord), rows[start:start + 20_000])
    return Seeded(rows, now_ms)
