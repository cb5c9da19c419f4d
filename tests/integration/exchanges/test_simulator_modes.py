"""Simulator run modes: accelerated replay (its own ticker triggers TP/SL) and the standalone process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from cts_desktop.exchanges.models import OrderRequest, OrderSide, OrderType
from cts_desktop.exchanges.simulator import SimulatorConfig, SimulatorServer
from tests.helpers.waiting import until
from tests.integration.exchanges.conftest import SYMBOL, make_adapter

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.asyncio
async def test_accelerated_replay_moves_and_closes_positions_by_itself() -> None:
    sim = SimulatorServer(SimulatorConfig(speed=3600))  # one replay hour per wall second
    await sim.start()
    try:
        async with make_adapter(sim, "bybit") as ad:
            last = sim.market.price("BTC")
            start_replay = sim.market.processed_replay
            await ad.place_order(
                OrderRequest(
                    SYMBOL,
                    OrderSide.BUY,
                    OrderType.MARKET,
                    0.01,
                    "fast-1",
                    take_profit=round(last * 1.01, 1),
                    stop_loss=round(last * 0.99, 1),
                )
            )
            account = sim.market.keyring.keys[ad._credentials.api_key].account  # type: ignore[union-attr]
            assert account.position("BTC", 0).size > 0
            # no requests: the simulator's own ticker walks the path until the TP or the SL closes the position
            await until(lambda: account.position("BTC", 0).size == 0, 60, "the position closed", interval=0.1)
            assert sim.market.processed_replay - start_replay > 60_000
            assert await ad.positions([SYMBOL]) == []
            assert len(await ad.my_trades(SYMBOL)) == 2
    finally:
        await sim.stop()


@pytest.mark.asyncio
async def test_standalone_process_prints_keys_and_serves() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cts_desktop.exchanges.simulator", "--port", "0", "--speed", "0", "--balance", "500"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [json.loads(proc.stdout.readline()) for _ in range(2)]
        assert [line["exchange"] for line in lines] == ["bybit", "bingx"]
        url = lines[0]["url"]
        assert url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/_sim/step", params={"ms": "60000"}) as resp:
                assert resp.status == 403  # another local process: no control without the token
            async with session.get(url + "/_sim/step", params={"ms": "60000"},
                                   headers={"X-Sim-Token": lines[0]["controlToken"]}) as resp:
                state = await resp.json()
            assert set(state["prices"]) == {"BTC", "ETH", "SOL"}
            async with session.get(url + "/openApi/swap/v2/server/time") as resp:
                assert (await resp.json())["code"] == 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
