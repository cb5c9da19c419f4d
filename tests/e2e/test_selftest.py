"""``cts-desktop --self-test`` as a user runs it: a real subprocess, loopback only, a report with every step timed."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

STEP = re.compile(r"^\s+\[(?P<mark> ok |FAIL)\] (?P<name>.+?)\s+(?P<seconds>\d+\.\d{3}) s  (?P<detail>.*)$")

# Loaded by the child through PYTHONPATH: any connection to a non-loopback address fails the process loudly.
LOOPBACK_GUARD = '''
import socket

_connect = socket.socket.connect


def _guarded(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
        raise SystemExit(f"NON-LOOPBACK CONNECTION to {address!r}")
    return _connect(self, address)


socket.socket.connect = _guarded
'''


def _env(guard_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHON_KEYRING_BACKEND"] = "cts_desktop.storage.keyring_memory.MemoryKeyring"
    env["QT_QPA_PLATFORM"] = "offscreen"
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(guard_dir), root, env.get("PYTHONPATH")) if p)
    return env


def test_self_test_passes_with_a_timed_report_and_loopback_only(tmp_path: Path) -> None:
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(LOOPBACK_GUARD, encoding="utf-8")
    home = tmp_path / "home"  # nothing may be written to the user's folders
    home.mkdir()
    env = _env(guard) | {"HOME": str(home), "XDG_DATA_HOME": str(home / "d"), "XDG_CACHE_HOME": str(home / "c")}
    out = subprocess.run(
        [sys.executable, "-m", "cts_desktop", "--self-test"],
        capture_output=True, text=True, env=env, timeout=240, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "NON-LOOPBACK" not in out.stdout + out.stderr
    steps = [m.groupdict() for m in map(STEP.match, out.stdout.splitlines()) if m]
    names = [s["name"] for s in steps]
    assert all(s["mark"] == " ok " for s in steps), out.stdout
    for exchange in ("bybit", "bingx"):
        for what in ("load markets", "place limit order", "fetch order by client id", "cancel order"):
            assert f"{exchange}: {what}" in names, out.stdout
    assert names[:2] == ["database + migrations", "database drivers"]
    assert "exchange simulator (in-process)" in names and "ccxt.pro websocket classes" in names
    assert re.search(r"self-test passed: 15 steps in \d+\.\d\d s", out.stdout), out.stdout
    assert "http://127.0.0.1:" in out.stdout
    assert "Traceback" not in out.stderr
    assert list(home.iterdir()) == [], "the self-test wrote into the user's home"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["guard", "home"], "the self-test left files behind"


def test_a_failing_step_ends_with_one_plain_message_and_status_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cts_desktop import selftest

    async def broken_simulator(self: selftest.SelfTest) -> str:
        raise OSError("address already in use")

    monkeypatch.setattr(selftest.SelfTest, "simulator", broken_simulator)
    buffer = io.StringIO()
    assert selftest.run_self_test(buffer) == 1
    report = buffer.getvalue()
    assert re.search(r"\[ ok \] database \+ migrations", report)
    assert re.search(r"\[FAIL\] exchange simulator \(in-process\)\s+\d+\.\d{3} s  OSError: address already in use",
                     report)
    assert "bybit: load markets" not in report  # nothing runs after the failure
    err = capsys.readouterr().err
    expected = "cts-desktop self-test failed: exchange simulator (in-process): OSError: address already in use"
    assert err.strip() == expected
