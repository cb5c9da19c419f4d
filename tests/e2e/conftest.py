"""End-to-end fixtures: the PostgreSQL schema fixture of the integration tests, and a standalone simulator."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.integration.conftest import pg_schema  # noqa: F401  (fixture re-export)


def wait_for_line(proc: subprocess.Popen[str], text: str, timeout: float) -> list[str]:
    """Read the app's output until a line containing ``text`` (returns the lines so far); kills the process and
    fails with its output when the line does not come within ``timeout`` or the output ends."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    proc.kill()
    raise AssertionError(f"no line with {text!r}:\n" + "".join(lines))


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
