"""Crash safety: the headless app trading live on a standalone simulator is killed with SIGKILL at random moments
and restarted, ten times. After every kill the SQLite file passes its integrity check and every order the simulator
has received is in the DB exactly once (the order row is committed before sending; a restart looks unresolved
orders up by client id and never sends them again)."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID
from cts_desktop.services import AppOptions, Services
from tests.e2e.conftest import wait_for_line
from tests.helpers.waiting import random_moment, wait_until
from tests.integration.engine.test_coordinator_replay import FAST_GATES

KILLS = 10


def prepare(data_dir: Path, db_url: str | None = None) -> None:
    """The data folder's DB with fast gates and the Replay connection trading live (on the simulator)."""
    services = Services(AppOptions(data_dir=data_dir, console_log=False, db_url=db_url))
    try:
        trading = services.trading
        config = trading.store.get(REPLAY_CONNECTION_ID)
        assert config is not None
        # the simulator moves no money; hedge mode lets long and short entries overlap, so orders keep flowing
        trading.store.save(replace(config, is_live_trade=True, position_mode="hedge"))
        services.settings.set_many({**FAST_GATES, "overall.prehistoric_days": 1,
                                    "strategy.max_real_per_symbol_direction": 3})
    finally:
        services.close()


def app_env(sim: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PYTHON_KEYRING_BACKEND": "cts_desktop.storage.keyring_memory.MemoryKeyring",
        "CTS_REPLAY_URL": sim["url"], "CTS_REPLAY_KEY": sim["apiKey"], "CTS_REPLAY_SECRET": sim["secret"],
    })
    return env


def _sim_client_ids(sim: dict[str, str]) -> list[str]:
    import asyncio

    from cts_desktop.exchanges.adapter import ExchangeAdapter
    from cts_desktop.exchanges.models import Credentials

    async def fetch() -> list[str]:
        adapter = ExchangeAdapter("bybit", Credentials(sim["apiKey"], sim["secret"]), api_url=sim["url"])
        try:
            await adapter.markets()
            body = await adapter.client.private_get_v5_order_history({"category": "linear", "limit": "100000"})
            return [o["orderLinkId"] for o in body["result"]["list"] if o.get("orderLinkId")]
        finally:
            await adapter.close()

    return asyncio.run(fetch())


def _db_orders(path: Path) -> tuple[str, list[str]]:
    with sqlite3.connect(path) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        ids = [r[0] for r in conn.execute("SELECT client_order_id FROM orders WHERE external = 0")]
    return integrity, ids


def test_sigkill_while_trading_never_loses_or_doubles_an_order(tmp_path: Path, simulator: dict[str, str]) -> None:
    prepare(tmp_path)
    rng = random.Random(20261125)
    db_file = tmp_path / "data" / "cts.sqlite3"
    counts: list[int] = []
    flowing = 0
    for kill in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, "-m", "cts_desktop", "--headless", "--data-dir", str(tmp_path)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=app_env(simulator),
        )
        wait_for_line(proc, "headless: ready", 60)
        # kill while orders flow: right after this run's first new order row, at a random moment. Polled with a
        # generous deadline: a run whose numba cache is cold (a fresh clone, a kernel just changed) compiles the
        # engine's kernels first, and with another test process on the second core that took over a minute
        before = len(_db_orders(db_file)[1])
        wait_until(lambda n=before: len(_db_orders(db_file)[1]) > n, 240, "a new order row", interval=0.1)
        random_moment(rng, 1.5)
        flowing += len(_db_orders(db_file)[1]) > before
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        integrity, ours = _db_orders(db_file)
        assert integrity == "ok", f"after kill {kill + 1}: {integrity}"
        assert len(ours) == len(set(ours))
        on_exchange = [c for c in _sim_client_ids(simulator) if c.startswith("cts-")]
        assert len(on_exchange) == len(set(on_exchange)), f"after kill {kill + 1}: an order was sent twice"
        missing = set(on_exchange) - set(ours)
        assert not missing, f"after kill {kill + 1}: orders on the exchange unknown to the DB: {missing}"
        counts.append(len(on_exchange))
    print(f"orders on the exchange after each kill: {counts}")
    assert flowing == KILLS, f"orders flowed at the kill in only {flowing} of {KILLS} runs"
    assert counts[-1] >= KILLS // 2, counts
