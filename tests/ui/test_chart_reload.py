"""The Dashboard chart chosen while its engine is still loading the history (no candles stored yet) loads them at a
later refresh instead of staying on live ticks alone (seen in bench/ui_lag.py: 0–2 bars after a minute)."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from cts_desktop.app import create_qapp
from cts_desktop.application.application import Application
from cts_desktop.services import Services
from cts_desktop.storage.candles import store_candles
from cts_desktop.storage.models import Connection
from cts_desktop.ui.tabs.dashboard_market import ChartPanel

QASYNC = pytest.mark.asyncio(loop_factories=["qasync"])
DATA = Path(__file__).resolve().parents[1] / "data" / "bybit_BTCUSDT-PERP_1m_20221213.csv"
SYMBOL = "BTC/USDT:USDT"


def real_minutes() -> list[list[float]]:
    with DATA.open() as f:
        reader = csv.reader(f)
        next(reader)
        return [[float(x) for x in row[:6]] for row in reader]


@QASYNC
async def test_chart_picked_before_the_history_was_stored_loads_it_later(services: Services) -> None:
    create_qapp()
    with services.db.session() as s:
        s.add(Connection(id="c1", name="Chart test", exchange="bybit", kind="replay"))
    tasks: list[asyncio.Task[Any]] = []

    def run(coro: Coroutine[Any, Any, Any], what: str = "") -> None:
        tasks.append(asyncio.ensure_future(coro))

    async def settle() -> None:
        while tasks:
            await tasks.pop(0)

    panel = ChartPanel(Application(services).dashboard, run, "dark")
    try:
        panel.set_sources([("c1", "Chart test", SYMBOL)])  # the engine has chosen its symbols, no history yet
        await settle()
        assert panel.source == ("c1", SYMBOL) and panel.chart.n == 0 and panel.stored_bars == 0
        panel.on_prices({("c1", SYMBOL): (17_000.0, 1_670_900_000_000)})  # a live tick: one bar, still no history
        assert panel.chart.n == 1

        minutes = real_minutes()
        with services.db.session() as s:
            store_candles(s, "c1", SYMBOL, "1m", minutes)
        panel.set_sources([("c1", "Chart test", SYMBOL)])  # the next refresh: same choices
        await settle()
        assert panel.stored_bars == len(minutes) and panel.chart.n >= len(minutes)
        assert panel.chart.c[len(minutes) - 1] == minutes[-1][4]

        panel.set_sources([("c1", "Chart test", SYMBOL)])  # loaded: later refreshes do not reload
        assert not tasks
    finally:
        panel.deleteLater()
