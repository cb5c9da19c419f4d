"""The log viewer's model: a QAbstractTableModel that holds only the pages the user has scrolled to.

Qt asks ``canFetchMore``/``fetchMore`` when the view reaches the bottom; the next page is read off the GUI thread
through the Monitoring part with keyset paging (``after`` = the last row's (ts_ms, id)), so a table of 100k records
opens as fast as one of 100 and scrolling deep costs the same per page. A filter change starts a new generation: pages
of an older query that arrive late are dropped.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from cts_desktop.application.monitoring import LogEntry, LogFilter, MonitoringPart, time_text
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


class LogTableModel(QAbstractTableModel):
    COLUMNS = ("Time (UTC)", "Level", "Category", "Connection", "Symbol", "Message")

    loaded = Signal()  # a page arrived (tests and the count label listen)

    def __init__(self, part: MonitoringPart, page_size: int = 200) -> None:
        super().__init__()
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

    # --- the table ----------------------------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt signature)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt signature)
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        entry = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 5:
                first_line = entry.message.splitlines()[0] if entry.message else ""
                return first_line + ("   [stack trace]" if entry.exc_text else "")
            return (
                time_text(entry.ts_ms)[:-1].replace("T", " "), entry.level, entry.category,
                entry.connection_id or "", entry.symbol or "",
            )[column]
        if role == Qt.ItemDataRole.ForegroundRole and column in (1, 5):
            colour = LEVEL_COLOURS.get(entry.level)
            return QBrush(QColor(colour)) if colour else None
        if role == Qt.ItemDataRole.ToolTipRole and column == 5:
            return entry.message[:2000] + ("\n\n(stack trace in the details below)" if entry.exc_text else "")
        return None

    def entry(self, row: int) -> LogEntry | None:
        return self.rows[row] if 0 <= row < len(self.rows) else None
