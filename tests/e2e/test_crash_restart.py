"""Crash safety: the headless app trading live on a standalone simulator (hedge mode, up to 3 positions per symbol
and side) is killed with SIGKILL at random moments and restarted, ten times, on SQLite and on PostgreSQL. After
every kill the database passes its integrity check and every order the simulator has received is in the DB exactly
once (the order row is committed before sending; a restart looks unresolved orders up by client id and never sends
them again). Then one clean run: the orders left unknown by the kills are resolved while it runs, and after its
graceful stop (market frozen) the DB's live quantity per symbol and side equals the exchange's position, with no
order pending or unknown."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID
from cts_desktop.services import AppOptions, Services
from tests.e2e.conftest import wait_for_line
from tests.helpers.waiting import random_moment, wait_until
from tests.integration.conftest import PG_URL
from tests.integration.engine.test_coordinator_replay import FAST_GATES

KILLS = 10
CLEAN_RUN_S = 45  # longer than the 30-s grace after which an order the exchange never received is given up
LIVE_STATES = ("opening", "open", "closing")


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


@dataclass(frozen=True)
class ExchangeState:
    client_ids: list[str]
    sides: dict[tuple[str, str], Decimal]


def exchange_state(sim: dict[str, str]) -> ExchangeState:
    """The simulator's orders and positions, read through the app's adapter as an outside client would."""
    from cts_desktop.exchanges.adapter import ExchangeAdapter
    from cts_desktop.exchanges.models import Credentials

    async def fetch() -> ExchangeState:
        adapter = ExchangeAdapter("bybit", Credentials(sim["apiKey"], sim["secret"]), api_url=sim["url"])
        try:
            await adapter.markets()
            body = await adapter.client.private_get_v5_order_history({"category": "linear", "limit": "100000"})
            ids = [o["orderLinkId"] for o in body["result"]["list"] if o.get("orderLinkId")]
            sides = {(p.symbol, p.side.value): Decimal(repr(p.contracts)) for p in await adapter.positions()
                     if p.contracts > 0}
            return ExchangeState(ids, sides)
        finally:
            await adapter.close()

    return asyncio.run(fetch())


def freeze(sim: dict[str, str]) -> None:
    request = urllib.request.Request(f"{sim['url']}/_sim/speed?speed=0", headers={"X-Sim-Token": sim["controlToken"]})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


@dataclass(frozen=True)
class DbState:
    integrity: str
    client_ids: list[str]
    unresolved: list[str]
    sides: dict[tuple[str, str], Decimal]


class Store:
    """Reads the app's database (SQLite file or PostgreSQL schema) from outside the app."""

    def __init__(self, data_dir: Path, db_url: str | None) -> None:
        self.file = data_dir / "data" / "cts.sqlite3"
        self.url = db_url

    def read(self) -> DbState:
        if self.url is None:
            with sqlite3.connect(self.file) as conn:
                integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
                return self._state(integrity, lambda q: conn.execute(q).fetchall())
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return self._state("ok", lambda q: list(conn.execute(text(q)).all()))
        finally:
            engine.dispose()

    @staticmethod
    def _state(integrity: str, query) -> DbState:  # type: ignore[no-untyped-def]
        ids = [r[0] for r in query("SELECT client_order_id FROM orders WHERE external = false")]
        unresolved = [r[0] for r in query("SELECT client_order_id FROM orders WHERE status IN ('pending', 'unknown')")]
        sides: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        states = ", ".join(f"'{s}'" for s in LIVE_STATES)
        for symbol, side, quantity in query(
            f"SELECT symbol, side, open_quantity FROM real_positions WHERE status IN ({states})"
        ):
            sides[(symbol, side)] += Decimal(str(quantity))
        return DbState(integrity, ids, unresolved, {k: v for k, v in sides.items() if v != 0})


def _start(data_dir: Path, db_url: str | None, sim: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "cts_desktop", "--headless", "--data-dir", str(data_dir)]
    if db_url is not None:
        command += ["--db-url", db_url]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=app_env(sim))


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sigkill_while_trading_never_loses_or_doubles_an_order_and_ends_equal_to_the_exchange(
    tmp_path: Path, simulator: dict[str, str], backend: str, request: pytest.FixtureRequest
) -> None:
    db_url = None
    if backend == "postgres":
        schema = request.getfixturevalue("pg_schema")
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        db_url = url.render_as_string(hide_password=False)
    prepare(tmp_path, db_url)
    store = Store(tmp_path, db_url)
    rng = random.Random(20261125)
    counts: list[int] = []
    flowing = 0
    for kill in range(KILLS):
        proc = _start(tmp_path, db_url, simulator)
        wait_for_line(proc, "headless: ready", 60)
        # kill while orders flow: right after this run's first new order row, at a random moment. Polled with a
        # generous deadline: a run whose numba cache is cold (a fresh clone, a kernel just changed) compiles the
        # engine's kernels first, and with another test process on the second core that took over a minute
        before = len(store.read().client_ids)
        wait_until(lambda n=before: len(store.read().client_ids) > n, 240, "a new order row", interval=0.1)
        random_moment(rng, 1.5)
        flowing += len(store.read().client_ids) > before
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        ours = store.read()
        assert ours.integrity == "ok", f"after kill {kill + 1}: {ours.integrity}"
        assert len(ours.client_ids) == len(set(ours.client_ids))
        on_exchange = [c for c in exchange_state(simulator).client_ids if c.startswith("cts-")]
        assert len(on_exchange) == len(set(on_exchange)), f"after kill {kill + 1}: an order was sent twice"
        missing = set(on_exchange) - set(ours.client_ids)
        assert not missing, f"after kill {kill + 1}: orders on the exchange unknown to the DB: {missing}"
        counts.append(len(on_exchange))
    print(f"orders on the exchange after each kill: {counts}")
    assert flowing == KILLS, f"orders flowed at the kill in only {flowing} of {KILLS} runs"
    assert counts[-1] >= KILLS // 2, counts

    # one clean run: what the kills left unknown is resolved while it runs; then a graceful stop on a frozen market
    proc = _start(tmp_path, db_url, simulator)
    lines = wait_for_line(proc, "headless: ready", 60)
    started = time.monotonic()
    wait_until(lambda: time.monotonic() - started >= CLEAN_RUN_S and not store.read().unresolved, 180,
               "the clean run's grace to pass and every order to be resolved", interval=0.5)
    freeze(simulator)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=90)
    lines += out.splitlines(keepends=True)
    assert proc.returncode == 0, "".join(lines[-40:])
    ours, theirs = store.read(), exchange_state(simulator)
    assert ours.integrity == "ok"
    assert not ours.unresolved, f"orders pending or unknown after the clean run: {ours.unresolved}"
    on_exchange = [c for c in theirs.client_ids if c.startswith("cts-")]
    assert len(on_exchange) == len(set(on_exchange)) and not set(on_exchange) - set(ours.client_ids)
    assert ours.sides == theirs.sides, f"DB {ours.sides} != exchange {theirs.sides}"
    warnings = [line for line in lines if "gone on the exchange" in line or "settled a difference" in line]
    print(f"exchange positions at the end: {theirs.sides}; settlements in the clean run: {len(warnings)}")
    assert len(warnings) <= 10, "settled once each, never a loop of warnings:\n" + "".join(warnings)
