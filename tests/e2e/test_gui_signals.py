"""The GUI quits in order on Ctrl+C (SIGINT) and SIGTERM, as its Quit does: the process exits 0 after stopping its
services (SIGTERM used to kill it on the spot; Ctrl+C raised inside a Qt slot and the app kept running)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import wait_for_line


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_gui_quits_in_order_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "DBUS_SESSION_BUS_ADDRESS": "disabled:",
           "PYTHON_KEYRING_BACKEND": "cts_desktop.storage.keyring_memory.MemoryKeyring"}
    proc = subprocess.Popen([sys.executable, "-m", "cts_desktop", "--data-dir", str(tmp_path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_line(proc, "window shown after", 120)
        # the trading services built after the window showed (a fresh data folder: the predefined connections)
        wait_for_line(proc, "created the predefined connection", 120)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    log = (tmp_path / "logs").glob("*.log")
    text = "".join(p.read_text(errors="replace") for p in log)
    assert f"signal {int(sig)}: quitting" in text + out
