"""End-to-end fixtures: the PostgreSQL schema fixture of the integration tests, and a standalone simulator."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.integration.conftest import pg_schema  # noqa: F401  (fixture re-export)


@pytest.fixture
def simulator() -> Iterator[dict[str, str]]:
    """``python -m cts_desktop.exchanges.simulator`` in its own process (it outlives app restarts), at ×600."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cts_desktop.exchanges.simulator", "--port", "0", "--speed", "600"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    account = json.loads(proc.stdout.readline())
    assert account["exchange"] == "bybit"
    try:
        yield account
    finally:
        proc.terminate()
        proc.wait(timeout=10)
