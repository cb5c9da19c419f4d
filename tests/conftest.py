"""Test-wide set-up: offscreen Qt, an in-memory keyring, qasync loop for async tests, temp data folders."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("DBUS_SESSION_BUS_ADDRESS", "disabled:")
os.environ["PYTHON_KEYRING_BACKEND"] = "cts_desktop.storage.keyring_memory.MemoryKeyring"

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _delete_qt_objects_of(loop: object) -> None:
    """Delete a closed qasync loop's own QObjects now, on the GUI thread.

    qasync's ``close`` only marks its timer object stopped: the Qt timers of callbacks still pending (a cancelled
    ``sleep``, a ``wait_for`` timeout) stay registered until they fire. The loop, its timer object, call-soon
    signaller and executor threads are then freed by Python's collector whenever a collection runs — often on
    another thread (a log writer, an executor thread importing ccxt). Qt then cannot unregister those timers
    ("QObject::~QObject: Timers cannot be stopped from another thread") and a later timer event reaches the freed
    object: a segfault in the next test's event processing (seen in UI tests once their windows were deleted and
    stopped keeping every loop alive). Deleting them here kills the timers on the right thread."""
    import shiboken6
    from PySide6.QtCore import QObject

    parts = vars(loop)
    owned = [value for value in parts.values() if isinstance(value, QObject)]
    executor = parts.get("_QEventLoop__default_executor")
    if executor is not None:  # shut down (threads finished) by close()
        owned += [w for w in vars(executor).get("_QThreadExecutor__workers", []) if isinstance(w, QObject)]
    for obj in owned:
        if shiboken6.isValid(obj):
            shiboken6.delete(obj)


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], object]]:
    """Async tests run on a qasync loop so Qt widgets and asyncio services share one loop, as in the app."""
    import qasync
    from PySide6.QtWidgets import QApplication  # PySide6 before qasync

    class TestLoop(qasync.QEventLoop):  # type: ignore[misc, name-defined]
        def close(self) -> None:
            was_closed = self.is_closed()
            super().close()
            if not was_closed:
                _delete_qt_objects_of(self)

    def make_loop() -> object:
        app = QApplication.instance() or QApplication([])
        return TestLoop(app)

    return {"qasync": make_loop}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A fresh application data folder; tests never touch the real home."""
    folder = tmp_path / "cts-data"
    folder.mkdir()
    return folder


@pytest.fixture(autouse=True)
def _fresh_memory_keyring() -> None:
    import keyring

    from cts_desktop.storage.keyring_memory import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())


@pytest.fixture(autouse=True)
def _heap_not_frozen_across_tests() -> Iterator[None]:
    """The first engine started in a process freezes the objects alive then (cts_desktop.engine.heap): in the app
    they live as long as the process, in this one they are one test's. Thawed after each test, so a later test's
    garbage collection (the UI fixtures rely on it) still reaches them."""
    yield
    import gc

    if gc.get_freeze_count():
        gc.unfreeze()
