"""The real ``cts-desktop --headless`` process trading on a standalone simulator, watched and steered through its
local control API — by plain HTTP and by ``cts-desktop ctl``: without the token nothing is answered or done (401,
logged with the caller); with it, status, health and Prometheus metrics answer, pause holds entries back, and
closing one position sends one reduce-only order the simulator receives exactly once."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID
from cts_desktop.services import AppOptions, Services
from tests.e2e.conftest import wait_for_line
from tests.e2e.test_crash_restart import exchange_state
from tests.helpers.waiting import wait_until
from tests.integration.engine.test_coordinator_replay import FAST_GATES

PASSPHRASE = "control-api-test-passphrase"


def prepare(data_dir: Path, secrets_file: Path) -> None:
    services = Services(AppOptions(data_dir=data_dir, console_log=False, secrets_file=secrets_file,
                                   secrets_passphrase=PASSPHRASE))
    try:
        store = services.trading.store
        config = store.get(REPLAY_CONNECTION_ID)
        assert config is not None
        store.save(replace(config, is_live_trade=True, position_mode="hedge"))  # the simulator: no money
        services.settings.set_many({**FAST_GATES, "overall.prehistoric_days": 1})
    finally:
        services.close()


def env(sim: dict[str, str]) -> dict[str, str]:
    values = dict(os.environ)
    values.update({"PYTHON_KEYRING_BACKEND": "cts_desktop.storage.keyring_memory.MemoryKeyring",
                   "CTS_SECRETS_PASSPHRASE": PASSPHRASE, "CTS_REPLAY_URL": sim["url"],
                   "CTS_REPLAY_KEY": sim["apiKey"], "CTS_REPLAY_SECRET": sim["secret"]})
    return values


def http(url: str, token: str | None, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def ctl(data_dir: Path, secrets_file: Path, sim: dict[str, str], *args: str) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "cts_desktop", "ctl", *args, "--data-dir", str(data_dir),
                           "--secrets-file", str(secrets_file)], capture_output=True, text=True, timeout=60,
                          env=env(sim))
    return done.returncode, done.stdout + done.stderr


SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?P<labels>[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"'
                    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*)?\})? (?P<value>-?[0-9.eE+-]+|NaN|[+-]Inf)$')


def parse_prometheus(text: str) -> dict[str, list[tuple[str, float]]]:
    """A strict reader of the text exposition format: HELP and TYPE once per family, before its samples; every
    sample line well-formed and of a declared family; the text ends with a newline."""
    assert text.endswith("\n")
    families: dict[str, list[tuple[str, float]]] = {}
    typed: dict[str, str] = {}
    helped: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert name not in helped, f"second HELP for {name}"
            helped.add(name)
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("gauge", "counter", "histogram", "summary", "untyped") and name not in typed
            assert name not in families, f"TYPE of {name} after its samples"
            typed[name] = kind
            families[name] = []
        else:
            match = SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            name = match.group("name")
            assert name in typed, f"sample of an undeclared family: {line!r}"
            families[name].append((match.group("labels") or "", float(match.group("value"))))
    assert helped == set(typed)
    return families


def positions(db: Path) -> list[tuple[int, str, str]]:
    with sqlite3.connect(db) as conn:
        return [(int(r[0]), r[1], r[2]) for r in conn.execute(
            "SELECT id, status, symbol FROM real_positions WHERE paper = 0 ORDER BY id")]


def close_orders(db: Path, position_id: int) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT client_order_id FROM orders WHERE real_position_id = ? AND "
                                           "reduce_only = 1", (position_id,))]


def logged(db: Path, text: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT message FROM logs WHERE message LIKE ?", (f"%{text}%",))]


def close_one(data_dir: Path, secrets_file: Path, sim: dict[str, str], db: Path, url: str, token: str) -> int:
    """Pause, freeze the market and close the newest open live position with ``ctl close``; one the engine closed
    itself meanwhile (an exit already on its way) is refused as "nothing to close" and the next one is tried."""
    for _attempt in range(5):
        wait_until(lambda: any(s == "open" for _, s, _ in positions(db)), 300, "a live position", interval=0.5)
        code, text = ctl(data_dir, secrets_file, sim, "pause")
        assert code == 0 and json.loads(text)["state"] == "paused", text
        set_speed(sim, 0)
        for position_id in reversed([i for i, s, _ in positions(db) if s == "open"]):
            code, text = ctl(data_dir, secrets_file, sim, "close", str(position_id))
            if code == 0:
                return position_id
            assert "nothing to close" in text, text
        set_speed(sim, 600)  # every open one was closing already: let the market make another
        assert http(f"{url}/api/v1/engine/resume", token, "POST")[0] == 200
    raise AssertionError("no open position could be closed in 5 rounds")


def set_speed(sim: dict[str, str], speed: float) -> None:
    request = urllib.request.Request(f"{sim['url']}/_sim/speed?speed={speed}",
                                     headers={"X-Sim-Token": sim["controlToken"]})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def test_the_control_api_refuses_without_the_token_and_drives_a_headless_engine_with_it(
    tmp_path: Path, simulator: dict[str, str]
) -> None:
    secrets_file = tmp_path / "secrets.enc"
    prepare(tmp_path, secrets_file)
    db = tmp_path / "data" / "cts.sqlite3"
    proc = subprocess.Popen([sys.executable, "-m", "cts_desktop", "--headless", "--data-dir", str(tmp_path),
                             "--secrets-file", str(secrets_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env(simulator))
    try:
        lines = wait_for_line(proc, "control API on", 120)
        token = next(line.rsplit(" ", 1)[1].strip() for line in lines if "control API token" in line)
        url = next(line.rsplit(" ", 1)[1].strip() for line in lines if "control API on" in line)
        assert url.startswith("http://127.0.0.1:")
        record = json.loads((tmp_path / "data" / "control.json").read_text())
        assert record["url"] == url and token not in json.dumps(record)

        # no token, a wrong token: 401 and a log line with the caller; the engine is not paused
        assert http(f"{url}/api/v1/status", None)[0] == 401
        assert http(f"{url}/api/v1/engine/pause", "wrong-token", "POST")[0] == 401
        assert http(f"{url}/api/v1/positions/1/close", None, "POST")[0] == 401
        code, text = ctl(tmp_path, secrets_file, simulator, "status", "--token", "not-the-token")
        assert code == 1 and "401" in text
        code, text = ctl(tmp_path, secrets_file, simulator, "status")
        assert code == 0, text
        status = json.loads(text)
        assert status["state"] == "running"
        replay = next(e for e in status["engines"] if e["connection_id"] == REPLAY_CONNECTION_ID)
        assert replay["paper"] is False  # the simulator: live without a grant

        # health and metrics
        code, text = http(f"{url}/api/v1/health", token)
        assert code == 200 and json.loads(text)["engine"] == "running"
        code, text = http(f"{url}/metrics", token)
        families = parse_prometheus(text)
        assert ('state="running"', 1.0) in families["cts_engine_state"]
        assert any('connection_id="replay"' in labels and value == 0.0
                   for labels, value in families["cts_connection_engine_paper"])

        # a live position opens on the simulator; then pause (no new entries) and freeze the market
        position_id = close_one(tmp_path, secrets_file, simulator, db, url, token)
        sent = close_orders(db, position_id)
        assert len(sent) == 1
        wait_until(lambda: dict((i, s) for i, s, _ in positions(db))[position_id] == "closed", 60,
                   "the position closed in the database")
        on_exchange = exchange_state(simulator).client_ids
        assert on_exchange.count(sent[0]) == 1, "the closing order reached the exchange once"
        code, text = ctl(tmp_path, secrets_file, simulator, "close", str(position_id))
        assert code == 1 and "nothing to close" in text  # a second close is refused: the exchange saw one
        assert exchange_state(simulator).client_ids.count(sent[0]) == 1
        assert close_orders(db, position_id) == sent

        # every call is in the log with its caller; the refusals too
        wait_until(lambda: logged(db, f"POST /api/v1/positions/{position_id}/close by"), 30, "the logged close")
        assert any("cts-desktop ctl" in m for m in logged(db, f"/api/v1/positions/{position_id}/close by"))
        assert len(logged(db, "control API: refused")) >= 4
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out[-3000:]
    assert not (tmp_path / "data" / "control.json").exists()
