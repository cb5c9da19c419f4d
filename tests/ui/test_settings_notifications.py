"""Settings › Monitoring › Notifications on real services (offscreen): the URLs typed in are checked, kept in the
secret store and shown afterwards only by their scheme; Send test reaches a local receiver (Apprise ``json://``); a
URL Apprise does not know is refused and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from PySide6.QtWidgets import QApplication

from cts_desktop.domain.settings import Tab
from cts_desktop.monitoring.notifier import URLS
from cts_desktop.services import Services
from cts_desktop.ui.theme import apply_theme
from tests.ui.conftest import save_screenshot
from tests.ui.test_settings_tab import make_tab, settle

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


async def test_urls_are_kept_secret_and_send_test_reaches_the_receiver(services: Services) -> None:
    got: list[dict[str, Any]] = []

    async def take(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", take)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"json://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        tab = make_tab(services, Tab.MONITORING)
        panel = tab.notifications
        assert panel is not None
        assert "No notification URL stored" in panel.stored.text()

        panel.urls.setPlainText("nonsense://abc")
        panel.save_button.click()
        await settle(tab)
        assert panel.result.text().startswith("✖ not a notification URL")
        assert services.secrets.get(URLS) is None

        panel.urls.setPlainText(url)
        panel.save_button.click()
        await settle(tab)
        assert panel.result.text() == "✔ Saved."
        assert panel.stored.text() == "1 URL(s) stored: json://…" and panel.urls.toPlainText() == ""
        assert services.secrets.get(URLS) == url

        panel.test_button.click()
        await settle(tab, timeout=30)
        assert panel.result.text() == "✔ Test notification sent to 1 URL(s).", panel.result.text()
        assert [m["title"] for m in got] == ["CTS Desktop test notification"]

        window = tab.window()
        window.show()
        tab.pages.setCurrentIndex(list(Tab).index(Tab.MONITORING))
        tab.stacks[Tab.MONITORING].widget(0).ensureWidgetVisible(panel)  # type: ignore[attr-defined]
        for theme in ("dark", "light"):
            apply_theme(QApplication.instance(), theme)  # type: ignore[arg-type]
            save_screenshot(tab, f"settings-notifications-{theme}")
    finally:
        await runner.cleanup()
        await services.stop_monitoring()
