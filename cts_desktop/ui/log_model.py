"""The log viewer's model: the table's row model holding only the pages the user has scrolled to.

Qt asks ``canFetchMore``/``fetchMore`` when the view reaches the bottom; the next page is read off the GUI thread
through the Monitoring part with keyset paging (``after`` = the last row's (ts_ms, id)), so a table of 100k records
opens as fast as one of 100 and scrolling deep costs the same per page. A filter change starts a new generation: pages
of an older query that arrive late are dropped.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Signal

from cts_desktop.application.monitoring import LogEntry, LogFilter, MonitoringPart, time_text
from cts_desktop.ui.table import Column, RowTableModel
from cts_desktop.ui.tasks import spawn

LEVEL_COLOURS = {"CRITICAL": "#b3261e", "ERROR": "#c0392b", "WARNING": "#9a6700", "DEBUG": "#6b7280"}

Index = QModelIndex | QPersistentModelIndex


def entry_details(entry: LogEntry) -> str:
    """The full record as text for the details pane: header fields, message, context and stack trace."""
    lines = [
        f"Time (UTC): {time_text(entry.ts_ms)}",
        f"Level:      {entry.level}",
        f"Category:   {entry.category}",
        f"Logger:     {entry.logger}",
        f"Connection: {entry.connection_id or '—'}",
        f"Symbol:     {entry.symbol or '—'}",
        "",
        entry.message,
    ]
    if entry.context:
        lines += ["", "Context:", json.dumps(entry.context, indent=2, ensure_ascii=False, default=str)]
    if entry.exc_text:
        lines += ["", "Stack trace:", entry.exc_text]
    return "\n".join(lines)


def _message(entry: LogEntry) -> str:
    first_line = entry.message.splitlines()[0] if entry.message else ""
    return first_line + ("   [stack trace]" if entry.exc_text else "")


def _tooltip(entry: LogEntry) -> str:
    return entry.message[:2000] + ("\n\n(stack trace in the details below)" if entry.exc_text else "")


LOG_COLUMNS = [
    Column(lambda e: time_text(e.ts_ms)[:-1].replace("T", " "), "Time (UTC)"),
    Column("level", "Level", colour=LEVEL_COLOURS.get),
    Column("category", "Category"),
    Column(lambda e: e.connection_id or "", "Connection"),
    Column(lambda e: e.symbol or "", "Symbol"),
    Column(lambda e: e, "Message", fmt=_message, colour=lambda e: LEVEL_COLOURS.get(e.level), tooltip=_tooltip),
]


class LogTableModel(RowTableModel):
    """The log columns over the pages loaded so far (rows are appended page by page, never set as a whole)."""

    loaded = Signal()  # a page arrived (tests and the count label listen)

    def __init__(self, part: MonitoringPart, page_size: int = 200) -> None:
        super().__init__(LOG_COLUMNS, key=None)
        self.part = part
        self.page_size = page_size
        self.filter = LogFilter()
        self.rows: list[LogEntry] = []
        self.more = False
        self.loading = False
        self.generation = 0
        self.pages_loaded = 0

    # --- loading ------------------------------------------------------------------------------------------------

    async def reload(self, flt: LogFilter | None = None) -> None:
        """Start over with ``flt`` (or the current filter) and load the first page."""
        if flt is not None:
            self.filter = flt
        self.generation += 1
        self.beginResetModel()
        self.rows = []
        self.more = True
        self.loading = False
        self.pages_loaded = 0
        self.endResetModel()
        await self.fetch_next()

    async def fetch_next(self) -> int:
        """Append the next page; returns the number of rows added (0 at the end or when superseded)."""
        if self.loading or not self.more:
            return 0
        self.loading = True
        generation = self.generation
        after = self.rows[-1].cursor if self.rows else None
        try:
            page = await self.part.log_page(self.filter, after, self.page_size)
        finally:
            if generation == self.generation:
                self.loading = False
        if generation != self.generation:
            return 0
        if page:
            first = len(self.rows)
            self.beginInsertRows(QModelIndex(), first, first + len(page) - 1)
            self.rows.extend(page)
            self.endInsertRows()
        self.more = len(page) == self.page_size
        self.pages_loaded += 1
        self.loaded.emit()
        return len(page)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008 (Qt signature)
        return not parent.isValid() and self.more and not self.loading

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008 (Qt signature)
        if self.canFetchMore(parent):
            spawn(self.fetch_next(), "log page")

    def entry(self, row: int) -> LogEntry | None:
        return self.rows[row] if 0 <= row < len(self.rows) else None
