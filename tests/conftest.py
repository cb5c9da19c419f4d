"""Test-wide set-up: offscreen Qt, an in-memory keyring, qasync loop for async tests, temp data folders."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("DBUS_SESSION_BUS_ADDRESS", "disabled:")
os.environ["PYTHON_KEYRING_BACKEND"] = "cts_desktop.storage.keyring_memory.MemoryKeyring"

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], object]]:
    """Async tests run on a qasync loop so Qt widgets and asyncio services share one loop, as in the app."""
    import qasync
    from PySide6.QtWidgets import QApplication  # PySide6 before qasync

    def make_loop() -> object:
        app = QApplication.instance() or QApplication([])
        return qasync.QEventLoop(app)

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
