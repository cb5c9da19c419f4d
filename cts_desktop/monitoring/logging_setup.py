"""Logging: stdlib loggers with categories, a rotating file, the console, and a DB sink through the batched writer.

Loggers are named ``cts.<category>[.<part>]``; the category (system, engine, connection, exchange, database, ui,
toast) is read from the name, and a record may carry ``connection_id``, ``symbol`` and ``context`` through
``extra``. Every handler runs the secret redaction filter first, so no sink ever sees a stored secret. The DB sink
only queues rows for the writer: if the database is away, records wait in the writer (and are already in the
file) and are written when it is back.
"""

from __future__ import annotations

import enum
import logging
import logging.handlers
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cts_desktop.storage.writer import BatchedWriter


class Category(enum.StrEnum):
    SYSTEM = "system"
    ENGINE = "engine"
    CONNECTION = "connection"
    EXCHANGE = "exchange"
    DATABASE = "database"
    UI = "ui"
    TOAST = "toast"


_THIRD_PARTY_CATEGORY = {
    "ccxt": Category.EXCHANGE,
    "aiohttp": Category.EXCHANGE,
    "sqlalchemy": Category.DATABASE,
    "alembic": Category.DATABASE,
    "qasync": Category.UI,
}

FILE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def get_logger(category: Category, part: str | None = None) -> logging.Logger:
    name = f"cts.{category.value}" + (f".{part}" if part else "")
    return logging.getLogger(name)


def category_of(logger_name: str) -> Category:
    parts = logger_name.split(".")
    if parts[0] == "cts" and len(parts) > 1:
        try:
            return Category(parts[1])
        except ValueError:
            return Category.SYSTEM
    return _THIRD_PARTY_CATEGORY.get(parts[0], Category.SYSTEM)


def record_to_row(record: logging.LogRecord) -> dict[str, Any]:
    """The ``logs`` table row for a record (message already formatted and redacted by the filters)."""
    exc_text = record.exc_text
    if exc_text is None and record.exc_info and record.exc_info[0] is not None:
        exc_text = "".join(traceback.format_exception(*record.exc_info))
    if record.stack_info:
        exc_text = (exc_text + "\n" if exc_text else "") + record.stack_info
    context = getattr(record, "context", None)
    return {
        "ts_ms": int(record.created * 1000),
        "levelno": record.levelno,
        "level": record.levelname,
        "category": str(getattr(record, "category", None) or category_of(record.name)),
        "logger": record.name[:120],
        "connection_id": getattr(record, "connection_id", None),
        "symbol": getattr(record, "symbol", None),
        "message": record.getMessage(),
        "context": context if isinstance(context, dict) else None,
        "exc_text": exc_text,
    }


class DatabaseLogHandler(logging.Handler):
    """Queues every record for the ``logs`` table; never blocks the caller on the database."""

    def __init__(self, writer: BatchedWriter, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.writer.insert("logs", record_to_row(record))
        except Exception:
            self.handleError(record)


@dataclass(slots=True)
class LoggingHandles:
    file_handler: logging.Handler
    console_handler: logging.Handler | None
    db_handler: DatabaseLogHandler | None
    filters: list[logging.Filter]

    def attach_database(self, writer: BatchedWriter) -> DatabaseLogHandler:
        """Add the DB sink once the database is open (logging starts before it, into the file)."""
        handler = DatabaseLogHandler(writer)
        for flt in self.filters:
            handler.addFilter(flt)
        logging.getLogger().addHandler(handler)
        self.db_handler = handler
        return handler

    def detach_database(self) -> None:
        if self.db_handler is not None:
            logging.getLogger().removeHandler(self.db_handler)
            self.db_handler = None

    def close(self) -> None:
        root = logging.getLogger()
        self.detach_database()
        for handler in (self.file_handler, self.console_handler):
            if handler is not None:
                root.removeHandler(handler)
                handler.close()


def parse_level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    name = level.strip().upper()
    if name == "WARN":
        name = "WARNING"
    if name not in LEVELS:
        raise ValueError(f"unknown log level {level!r}: use one of {', '.join(LEVELS)}")
    return int(logging.getLevelName(name))


def configure_logging(
    log_file: Path,
    level: str | int = "INFO",
    *,
    console: bool = True,
    filters: list[logging.Filter] | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    backups: int = 5,
) -> LoggingHandles:
    """Root handlers for the app: rotating file (+ console). Third-party libraries log at WARNING and above."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    filters = list(filters or [])
    formatter = logging.Formatter(FILE_FORMAT)
    formatter.converter = time.gmtime  # UTC in files, as everywhere else
    file_handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    file_handler.setFormatter(formatter)
    handlers: list[logging.Handler] = [file_handler]
    console_handler: logging.Handler | None = None
    if console:
        console_handler = logging.StreamHandler(sys.stderr)
        console_handler.setFormatter(formatter)
        handlers.append(console_handler)
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    for handler in handlers:
        for flt in filters:
            handler.addFilter(flt)
        root.addHandler(handler)
    logging.getLogger("cts").setLevel(parse_level(level))
    logging.captureWarnings(True)
    return LoggingHandles(file_handler, console_handler, None, filters)


def set_level(level: str | int) -> None:
    logging.getLogger("cts").setLevel(parse_level(level))
