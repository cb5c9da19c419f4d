"""Two headless processes on one PostgreSQL database never both trade a connection: the second one says who holds
the lease and waits; when the first stops, the second takes the connection over."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.e2e.test_crash_restart import app_env, prepare
from tests.helpers.waiting import wait_until
from tests.integration.conftest import PG_URL, require_postgres

pytestmark = pytest.mark.postgres


class App:
    def __init__(self, data_dir: Path, db_url: str, sim: dict[str, str]) -> None:
        self.lines: list[tuple[float, str]] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cts_desktop", "--headless", "--data-dir", str(data_dir), "--db-url", db_url],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=app_env(sim),
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line))

    def saw(self, fragment: str) -> float | None:
        return next((t for t, line in self.lines if fragment in line), None)

    def wait_for(self, fragment: str, timeout: float) -> float:
        try:
            wait_until(lambda: self.saw(fragment) is not None, timeout, repr(fragment), interval=0.1)
        except AssertionError:
            raise AssertionError(f"no {fragment!r} within {timeout} s:\n"
                                 + "".join(line for _, line in self.lines[-40:])) from None
        found = self.saw(fragment)
        assert found is not None
        return found


def _lease(url: str) -> tuple[str | None, object]:
    """(holder, expiry) of the Replay connection's lease."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT holder, expires_at FROM leases WHERE connection_id = 'replay'")).first()
            return (row[0], row[1]) if row is not None else (None, None)
    finally:
        engine.dispose()


def test_only_one_process_trades_and_the_other_takes_over(
    tmp_path: Path, pg_schema: str, simulator: dict[str, str]
) -> None:
    require_postgres()
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={pg_schema}"})
    db_url = url.render_as_string(hide_password=False)
    prepare(tmp_path / "a", db_url)
    first = App(tmp_path / "a", db_url, simulator)
    first.wait_for("engine started for Replay", 90)
    second = App(tmp_path / "b", db_url, simulator)
    try:
        second.wait_for("headless: ready", 60)
        waiting_at = second.wait_for("is traded by", 30)
        holder, expiry = _lease(db_url)
        assert f":{first.proc.pid}" in (holder or "")
        # the first renews its lease while the second waits: never both
        wait_until(lambda: _lease(db_url)[1] != expiry, 60, "the first process renewing its lease", interval=0.2)
        assert second.saw("engine started for Replay") is None
        first.proc.send_signal(signal.SIGTERM)
        first.proc.wait(timeout=60)
        stopped_at = first.wait_for("engine stopped for Replay", 1)
        taken_at = second.wait_for("engine started for Replay", 90)
        assert waiting_at < stopped_at < taken_at
        assert f":{second.proc.pid}" in (_lease(db_url)[0] or "")
    finally:
        for app in (first, second):
            if app.proc.poll() is None:
                app.proc.send_signal(signal.SIGTERM)
                try:
                    app.proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    app.proc.kill()
