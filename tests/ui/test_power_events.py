"""Windows' resume-from-sleep message reaches the wake watch through Qt's native event filter (the filter is fed a
``MSG`` as Qt would on Windows; elsewhere it is not installed)."""

from __future__ import annotations

import ctypes
import sys

from cts_desktop.ui.power_events import (
    PBT_APMRESUMEAUTOMATIC,
    WM_POWERBROADCAST,
    Msg,
    PowerEvents,
    install_power_events,
)


def test_only_a_resume_broadcast_counts() -> None:
    resumed: list[bool] = []
    events = PowerEvents(lambda: resumed.append(True))
    suspend = Msg(None, WM_POWERBROADCAST, 0x0004, 0)  # PBT_APMSUSPEND
    other = Msg(None, 0x0010, PBT_APMRESUMEAUTOMATIC, 0)  # WM_CLOSE
    resume = Msg(None, WM_POWERBROADCAST, PBT_APMRESUMEAUTOMATIC, 0)
    for msg in (suspend, other):
        assert events.nativeEventFilter(b"windows_generic_MSG", ctypes.addressof(msg)) == (False, 0)
    assert events.nativeEventFilter(b"xcb_generic_event_t", ctypes.addressof(resume)) == (False, 0)
    assert resumed == []
    assert events.nativeEventFilter(b"windows_generic_MSG", ctypes.addressof(resume)) == (False, 0)  # passed on
    assert resumed == [True]


def test_installed_on_windows_only() -> None:
    from cts_desktop.app import create_qapp

    create_qapp()
    installed = install_power_events(lambda: None)
    assert (installed is not None) is (sys.platform == "win32")
