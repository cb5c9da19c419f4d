"""Background trading across the app's life, with the real ``cts-desktop`` processes (headless, and the window
offscreen) on the in-process Replay connection:

* SIGKILL while trading → the next start resumes trading on its own, logs the unclean exit with its time, raises
  the alert and (window) shows it in the banner; a clean stop leaves nothing to tell;
* a second window launch exits at once and the first window comes to the front; a headless launch on the window's
  data folder is refused with a message;
* the time from the restart to trading resumed and the hand-over time are printed (``-s`` shows them).
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cts_desktop.services import AppOptions, Services
from cts_desktop.system.run_marker import HEARTBEAT_S
from tests.helpers.waiting import wait_until

QUICK = {"overall.prehistoric_days": 1, "overall.use_main_symbols": True, "overall.main_symbols": ["BTC"],
         "overall.forced_symbols": []}
UNCLEAN = re.compile(r"ended without a clean stop at about (\d\d:\d\d)")


def minutes_since(moment: float) -> set[str]:
    """The clock minutes from a heartbeat before ``moment`` (the exit is dated by the last one) until now."""
    start = moment - HEARTBEAT_S - 1
    return {time.strftime("%H:%M", time.localtime(t)) for t in range(int(start), int(time.time()) + 2)}


def _env() -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "DBUS_SESSION_BUS_ADDRESS": "disabled:",
            "PYTHON_KEYRING_BACKEND": "cts_desktop.storage.keyring_memory.MemoryKeyring"}


class App:
    """One app process on ``data_dir``, its output in a file (a long-running window must never block on a pipe)."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.data_dir = data_dir
        self.out = data_dir.parent / f"out-{time.monotonic_ns()}.txt"
        self.log_offset = _log_size(data_dir)  # the log file is shared by the runs: this run's part only
        self.started = time.monotonic()
        with open(self.out, "w") as sink:
            self.proc = subprocess.Popen([sys.executable, "-m", "cts_desktop", "--data-dir", str(data_dir), *args],
                                         stdout=sink, stderr=subprocess.STDOUT, text=True, env=_env())

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def log(self) -> str:
        return _log_since(self.data_dir, self.log_offset)

    def wait_for(self, text: str, timeout: float = 120) -> float:
        """Seconds from the start to a line containing ``text`` in this run's output or log."""
        def seen() -> bool:
            return text in self.text() or text in self.log() or self.proc.poll() is not None

        try:
            wait_until(seen, timeout, repr(text), interval=0.1)
        except AssertionError:
            seen_it = False
        else:
            seen_it = text in self.text() or text in self.log()
        if not seen_it:
            self.proc.kill()
            raise AssertionError(f"no {text!r} within {timeout} s:\n{self.text()[-4000:]}")
        return time.monotonic() - self.started

    def _running_intent_stored(self) -> bool:
        with sqlite3.connect(self.data_dir / "data" / "cts.sqlite3") as db:
            rows = db.execute("SELECT state FROM trading_intent WHERE connection_id = 'replay'").fetchall()
        return ("running",) in rows

    def kill_while_trading(self) -> float:
        """SIGKILL once the Replay engine trades (and a heartbeat or two passed); when it was sent."""
        self.wait_for("engine started for Replay")
        wait_until(self._running_intent_stored, 30, "the running intent stored", interval=0.1)
        killed_at = time.time()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        return killed_at

    def unclean_exit_at(self, killed_at: float) -> str:
        """The time this run's log gives the unclean exit (checked against the kill)."""
        log = self.log()
        match = UNCLEAN.search(log)
        assert match is not None and match.group(1) in minutes_since(killed_at), log[-3000:]
        return match.group(1)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=90)
        assert self.proc.returncode == 0, self.text()[-4000:]
        return self.text()


def _prepare(data_dir: Path) -> None:
    services = Services(AppOptions(data_dir=data_dir, console_log=False))
    try:
        services.settings.set_many(QUICK)
    finally:
        services.close()


def _alerts(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / "data" / "cts.sqlite3") as conn:
        return [r[0] for r in conn.execute("SELECT message FROM alerts WHERE source = 'system' ORDER BY id")]


def _log_since(data_dir: Path, offset: int) -> str:
    log = data_dir / "logs" / "cts-desktop.log"
    return log.read_text(errors="replace")[offset:] if log.exists() else ""


def _log_size(data_dir: Path) -> int:
    log = data_dir / "logs" / "cts-desktop.log"
    return len(log.read_text(errors="replace")) if log.exists() else 0


@pytest.mark.slow
def test_sigkill_of_headless_then_the_next_start_resumes_and_tells_of_the_unclean_exit(tmp_path: Path) -> None:
    data = tmp_path / "cts"
    _prepare(data)
    killed_at = App(data, "--headless").kill_while_trading()
    assert (data / "data" / "running.json").exists()

    second = App(data, "--headless")
    coordinator_after = second.wait_for("trade engine coordinator started")
    resumed_after = second.wait_for("engine started for Replay")
    at = second.unclean_exit_at(killed_at)
    assert "trading resumed (as it was left at" in second.log()
    print(f"\nheadless: SIGKILL → restart → coordinator resumed after {coordinator_after:.1f} s, the Replay engine "
          f"trading (reconciled, history warmed up) after {resumed_after:.1f} s")
    second.stop()
    assert not (data / "data" / "running.json").exists()  # a clean stop
    assert _alerts(data) == [f"Trading resumed after an unclean exit at {at} (crash / power loss)."]

    third = App(data, "--headless")
    third.wait_for("engine started for Replay")
    out = third.stop()
    assert "ended without a clean stop" not in out and "trading resumed (as it was left at" in out


@pytest.mark.slow
def test_sigkill_of_the_window_then_the_next_window_resumes_and_shows_the_banner(tmp_path: Path) -> None:
    data = tmp_path / "cts"
    _prepare(data)
    # trading was started once (here by a headless run: its start is the stored intent)
    headless = App(data, "--headless")
    headless.wait_for("engine started for Replay")
    headless.stop()

    window = App(data)
    window.wait_for("window shown after")
    killed_at = window.kill_while_trading()  # resumed after a clean stop (no F5), and no banner then:
    assert "banner shown" not in window.log()

    again = App(data)
    again.wait_for("window shown after")
    resumed_after = again.wait_for("banner shown: Trading resumed after an unclean exit at")
    notice = f"Trading resumed after an unclean exit at {again.unclean_exit_at(killed_at)} (crash / power loss)."
    assert f"banner shown: {notice}" in again.log()
    trading_after = again.wait_for("engine started for Replay")
    print(f"\nwindow: SIGKILL → restart → banner and coordinator resumed after {resumed_after:.1f} s, the Replay "
          f"engine trading after {trading_after:.1f} s")
    again.stop()
    assert _alerts(data) == [notice]


@pytest.mark.slow
def test_a_second_launch_exits_and_the_first_window_comes_to_the_front(tmp_path: Path) -> None:
    data = tmp_path / "cts"
    window = App(data)
    window.wait_for("window shown after")
    started = time.monotonic()
    second = subprocess.run([sys.executable, "-m", "cts_desktop", "--data-dir", str(data)], capture_output=True,
                            text=True, timeout=60, env=_env())
    handed_over = time.monotonic() - started
    assert second.returncode == 0, second.stderr
    assert "already runs on the data folder" in second.stdout and "its window was brought to the front" in second.stdout
    window.wait_for(f"brought the window to the front for a second launch (pid {second_pid(window)})", 10)
    # (offscreen Qt cannot raise a window; the UI test checks that the hidden window is shown again)
    print(f"\nsecond launch: exited after {handed_over:.2f} s (process start to exit, hand-over included)")
    headless = subprocess.run([sys.executable, "-m", "cts_desktop", "--headless", "--data-dir", str(data)],
                              capture_output=True, text=True, timeout=60, env=_env())
    assert headless.returncode == 4
    assert "Headless mode cannot run beside it on the same data" in headless.stderr
    assert window.proc.poll() is None  # the first one runs on
    window.stop()


def second_pid(window: App) -> str:
    log = window.log()
    found = re.findall(r"another launch on this data folder \(window, pid (\d+)", log)
    assert found, log[-2000:]
    return found[-1]
