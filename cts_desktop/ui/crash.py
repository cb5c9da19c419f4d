"""Exception hooks (``sys`` and ``threading``): log the error and show it without blocking the event loop."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger("cts.ui.crash")


class CrashReporter(QObject):
    """Hooks live as long as this object; errors from any thread reach the GUI thread through a signal."""

    error = Signal(str, str)

    def __init__(self, parent_window: QWidget | None = None, redact: Callable[[str], str] = str) -> None:
        super().__init__()
        self.parent_window = parent_window
        self.redact = redact
        self.shown: list[QMessageBox] = []
        self.error.connect(self._show)
        self._previous_sys = sys.excepthook
        self._previous_thread = threading.excepthook
        sys.excepthook = self._sys_hook
        threading.excepthook = self._thread_hook

    def uninstall(self) -> None:
        sys.excepthook = self._previous_sys
        threading.excepthook = self._previous_thread

    def _sys_hook(
        self, kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            self._previous_sys(kind, value, tb)
            return
        self._report(kind, value, tb, "main thread")

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        name = args.thread.name if args.thread else "unknown thread"
        self._report(args.exc_type, args.exc_value, args.exc_traceback, name)

    def _report(
        self, kind: type[BaseException], value: BaseException, tb: TracebackType | None, where: str
    ) -> None:
        log.critical("unhandled error in %s: %s", where, value, exc_info=(kind, value, tb))
        details = "".join(traceback.format_exception(kind, value, tb))
        self.error.emit(self.redact(f"{kind.__name__}: {value}"), self.redact(details))

    def _show(self, summary: str, details: str) -> None:
        box = QMessageBox(self.parent_window)
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle("CTS Desktop — unexpected error")
        box.setText("An unexpected error happened. Trading services keep running; the error was logged.")
        box.setInformativeText(summary)
        box.setDetailedText(details)
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.finished.connect(lambda _r, b=box: self.shown.remove(b) if b in self.shown else None)
        self.shown.append(box)
        box.open()  # never exec(): a nested loop would deadlock qasync
