"""The first-run guide (issue 19): on the first start a panel above the tabs says what Replay is, that F5 starts the
engine, what the warm-up does, what comes before a paper trade, where real keys go and how live trading is switched
on; dismissed, it stays hidden at the next start, and Help › First-run guide brings it back."""

from __future__ import annotations

import pytest

from cts_desktop.services import Services
from tests.ui.conftest import open_window, save_screenshot

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


async def test_guide_on_first_start_dismissed_for_good_and_back_from_help(services: Services,
                                                                          first_start: None) -> None:
    gui = open_window(services)
    guide = gui.window.guide
    assert guide.isVisible()
    text = guide.text.text()
    for needed in ("Replay (offline)", "F5", "warm-up", "paper trade", "Connections", "API key", "Live trade",
                   "type the connection's name"):
        assert needed in text, needed
    assert guide.text.height() >= guide.text.heightForWidth(guide.text.width())  # nothing cut off at 1366×768
    save_screenshot(gui.window, "first-run-guide-light")
    guide.dismiss.click()
    assert not guide.isVisible()
    await gui.shutdown()

    again = open_window(services)  # the next start
    assert not again.window.guide.isVisible()
    again.window.guide_action.trigger()
    assert again.window.guide.isVisible()
    await again.shutdown()
