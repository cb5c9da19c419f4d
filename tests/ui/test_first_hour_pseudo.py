"""A settings edit that empties the set books says so (issue 19): the pseudo count fell from 44,464 to 0 with no
log line. A new exit matrix needs new configuration sets; the engine logs a warning with the count before and after
and what brings the statistics back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from cts_desktop.application.application import Application
from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID
from cts_desktop.services import Services
from tests.helpers.waiting import until
from tests.ui.conftest import replay_services
from tests.ui.test_settings_engine import FAST

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


@pytest.fixture
def fast_services(data_dir: Path) -> Iterator[Services]:
    with replay_services(data_dir, FAST) as svc:
        yield svc


async def test_a_matrix_change_that_empties_the_books_is_logged(fast_services: Services,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    services = fast_services
    services.start(asyncio.get_running_loop())
    app = Application(services)
    trading = await app.load_trading()
    await trading.coordinator.start()
    await trading.coordinator.wait_started(90)
    engine = trading.coordinator.engines[REPLAY_CONNECTION_ID]
    await until(lambda: engine.status().pseudo_open > 0, 90, "open pseudo positions")
    caplog.set_level(logging.INFO, logger="cts.engine")
    await app.settings.set("strategy.tp_factors", [2, 4, 6, 8])
    await until(lambda: any("open pseudo positions" in r.getMessage() for r in caplog.records), 15,
                "the warning about the emptied books")
    record = next(r for r in caplog.records if "open pseudo positions" in r.getMessage())
    assert record.levelno == logging.WARNING
    assert "strategy.tp_factors" in record.getMessage() and "→ 0:" in record.getMessage()
    assert "Engine › Restart" in record.getMessage()
    await trading.coordinator.stop()
