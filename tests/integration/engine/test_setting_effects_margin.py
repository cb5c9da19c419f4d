"""The connection's margin type against an exchange that refuses the switch (the simulator answers with each
exchange's documented code: BingX 101212 "Please check if you have pending orders", Bybit 3400045 "Set margin mode
failed"): no position is open, but an opening order rests on the book, so the exchange says no — the entry is
refused with a message that says why and names the exchange's code, nothing is sent, and once the order is gone the
next entry switches the margin type first."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio

from cts_desktop.engine.margin_modes import SWITCH_REFUSED
from tests.helpers.waiting import until
from tests.integration.engine.test_connection_edits import (
    SYMBOL,
    edit,
    entries,
    open_size,
    running_engine,
    signal,
    sim_account,
)
from tests.integration.engine.test_coordinator_replay import World, make_world

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])
CODES = {"bingx": "101212", "bybit": "3400045"}


@pytest_asyncio.fixture(params=sorted(CODES))
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with make_world(tmp_path, exchange_id=request.param) as w:
        yield w


async def test_a_switch_the_exchange_refuses_is_explained_and_retried(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cts.engine")
    code = CODES[world.config.exchange_id]
    assert code in SWITCH_REFUSED
    engine, prices = await running_engine(world)
    account = sim_account(world)
    assert account.margin_mode("BTC") == "cross" and engine.config.margin_mode != "isolated"
    resting = await engine.adapter.client.create_order(  # an opening order far below the price: it rests
        SYMBOL, "limit", "buy", float(account.instrument("BTC").min_qty), prices[SYMBOL] * 0.5)
    edit(world, lambda c: replace(c, margin_mode="isolated"))
    await until(lambda: engine.config.margin_mode == "isolated", 10, "the edit to reach the engine")
    assert engine.orders is not None
    before = len(entries(account))
    outcome = await engine.orders.open_position(signal(prices, "long"))
    assert not outcome.accepted and f"code {code}" in outcome.reason and "order or a position" in outcome.reason
    assert len(entries(account)) == before and account.margin_mode("BTC") == "cross"
    assert "margin type isolated cannot be applied to BTC/USDT:USDT" in caplog.text
    await engine.adapter.client.cancel_order(resting["id"], SYMBOL)
    outcome = await engine.orders.open_position(signal(prices, "long"))
    assert outcome.accepted, outcome
    await until(lambda: open_size(account, "Buy") > 0, 30, "the long position")
    assert account.margin_mode("BTC") == "isolated"
