"""The real ``cts-desktop --headless`` process: starts, writes its logs to the DB, stops cleanly on SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import wait_for_line
from tests.helpers.waiting import wait_until


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHON_KEYRING_BACKEND"] = "cts_desktop.storage.keyring_memory.MemoryKeyring"
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def _start(data_dir: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cts_desktop", "--headless", "--data-dir", str(data_dir), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
    )


def _wait_ready(proc: subprocess.Popen[str], timeout: float = 30) -> list[str]:
    return wait_for_line(proc, "headless: ready", timeout)


def _log_messages(db: Path) -> list[str]:
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(db)) as conn:
        try:
            return [r[0] for r in conn.execute("SELECT message FROM logs ORDER BY id")]
        except sqlite3.OperationalError:  # the schema is not there yet
            return []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_headless_starts_and_stops_gracefully_on_signal(tmp_path: Path, sig: signal.Signals) -> None:
    proc = _start(tmp_path)
    _wait_ready(proc)
    db = tmp_path / "data" / "cts.sqlite3"
    wait_until(lambda: any("headless mode running" in m for m in _log_messages(db)), 30,
               "the writer's first commit (the 'running' log record in the database)")
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "headless: stopped" in out
    assert db.exists()
    messages = _log_messages(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert any("headless mode running" in m for m in messages)
    assert any("headless mode stopping" in m for m in messages)  # written during the graceful stop
    assert (tmp_path / "logs" / "cts-desktop.log").exists()
    # nothing was written outside the data folder's four sub-folders
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "config", "data", "logs"]


def test_bad_database_url_gives_a_plain_message(tmp_path: Path) -> None:
    proc = _start(tmp_path, "--db-url", "mysql://root@127.0.0.1/test")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "unsupported database 'mysql'" in out
    assert "Traceback" not in out


def test_version_answers_without_starting(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "cts_desktop", "--version"], capture_output=True, text=True,
                         timeout=30, env=_env())
    assert out.returncode == 0
    assert out.stdout.strip().startswith("cts-desktop ")
