"""The operating system's own word that the machine resumed, where Qt passes it on: on Windows the
``WM_POWERBROADCAST`` message (``PBT_APMRESUMEAUTOMATIC`` / ``PBT_APMRESUMESUSPEND``) reaches a native event
filter. Elsewhere Qt offers no such signal; the clock watchdog (``engine/wake_watch.py``) sees the gap there."""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractNativeEventFilter, QCoreApplication

log = logging.getLogger("cts.ui.power")

WM_POWERBROADCAST = 0x0218
PBT_APMRESUMESUSPEND = 0x0007
PBT_APMRESUMEAUTOMATIC = 0x0012
RESUMES = (PBT_APMRESUMESUSPEND, PBT_APMRESUMEAUTOMATIC)


class Msg(ctypes.Structure):
    """The head of Windows' ``MSG`` (the fields read here)."""

    _fields_ = [("hwnd", ctypes.c_void_p), ("message", ctypes.c_uint), ("wParam", ctypes.c_size_t),
                ("lParam", ctypes.c_ssize_t)]


class PowerEvents(QAbstractNativeEventFilter):
    def __init__(self, on_resume: Callable[[], None]) -> None:
        super().__init__()
        self.on_resume = on_resume

    def nativeEventFilter(self, event_type: Any, message: Any) -> tuple[bool, int]:
        if bytes(event_type) == b"windows_generic_MSG" and message:
            msg = Msg.from_address(int(message))
            if msg.message == WM_POWERBROADCAST and msg.wParam in RESUMES:
                log.info("Windows reported a resume from sleep")
                self.on_resume()
        return False, 0


def install_power_events(on_resume: Callable[[], None]) -> PowerEvents | None:
    """The filter on the running QCoreApplication (Windows only; keep the returned object alive)."""
    app = QCoreApplication.instance()
    if sys.platform != "win32" or app is None:
        return None
    events = PowerEvents(on_resume)
    app.installNativeEventFilter(events)
    return events
