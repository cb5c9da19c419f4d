"""The Database panel (Settings › System) shows the size cap: "Check size now" measures the real database against
Overall database size; a round that had to clean up says what it deleted, in the panel and in the log."""

from __future__ import annotations

import pytest

from cts_desktop.domain.settings import Tab
from cts_desktop.services import Services
from cts_desktop.storage.models import LogRecord
from tests.helpers.waiting import until
from tests.ui.conftest import save_screenshot
from tests.ui.test_settings_tab import make_tab, settle

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


async def test_database_panel_shows_the_size_cap(services: Services, caplog: pytest.LogCaptureFixture) -> None:
    tab = make_tab(services, Tab.SYSTEM)
    panel = tab.database
    assert panel is not None
    assert panel.size.text() == "Size cap: checked every 10 minutes."
    panel.size_button.click()
    await until(lambda: "allowed" in panel.size.text(), 30, "the size measured")
    assert "of 20.00 GB allowed" in panel.size.text()  # the setting's default cap

    with services.db.session() as s:  # some log history to clean up
        s.add_all(LogRecord(ts_ms=i, levelno=20, level="INFO", category="engine", logger="t", message="x" * 200)
                  for i in range(2_000))
    line = await tab.part.database.size_cap(cap_bytes=4096)  # far over a tiny cap
    assert "over its cap" in line and "logs" in line
    panel.show_state()
    await settle(tab)
    assert panel.size.text() == f"Size cap: {line}."
    assert "size cap: database was" in caplog.text
    save_screenshot(panel, "settings-database-size")
