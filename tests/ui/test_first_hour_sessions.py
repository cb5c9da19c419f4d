"""No unclosed aiohttp session (issue 19: "Unclosed client session" printed to the console): downloading history
from the Replay connection in the Strategies tab closes the adapter it made."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import pytest

from cts_desktop.application.application import Application
from cts_desktop.application.strategies import CandleRequest
from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID
from cts_desktop.services import Services

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


async def test_history_download_from_replay_leaves_no_open_session(services: Services) -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        services.start(loop)
        app = Application(services)
        await app.load_trading()
        now = int(time.time() * 1000)
        reports = await app.strategies.download(CandleRequest(REPLAY_CONNECTION_ID, ("BTC/USDT:USDT",), "1m",
                                                              now - 3_600_000, now))
        assert len(reports) == 1
        del reports
        gc.collect()
        await asyncio.sleep(0)
        unclosed = [c.get("message") for c in reported if "nclosed" in str(c.get("message"))]
        assert unclosed == []
    finally:
        loop.set_exception_handler(previous)
