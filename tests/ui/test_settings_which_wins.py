"""Where a global setting and a connection's own value mean the same thing, the window says which wins — on the
Settings tab (each setting's tooltip) and on the connection's options (Connections tab):

* Main / Real minimum avg PF and Maximum drawdown time: the connection's own value wins (both sides say so);
* Base volume factor and the connection's volume factors multiply (Settings, the connection's Volume page and the
  Dashboard card's volume box say so);
* Use main symbols: either one on is enough (Settings and the connection's Symbols page say so).
"""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel

from cts_desktop.domain.settings import Tab
from cts_desktop.services import Services
from cts_desktop.ui.tabs.connections_form import OptionsBox
from tests.ui.test_settings_tab import make_tab

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])

SETTINGS_SAY: dict[str, str] = {
    "strategy.main_min_avg_pf": "A connection that sets its own",
    "strategy.real_min_avg_pf": "A connection that sets its own",
    "strategy.max_drawdown_time_hours": "A connection that sets its own",
    "overall.base_volume_factor": "multiplies with each connection's own volume factor",
    "overall.use_main_symbols": "either one on is enough",
}


async def test_each_global_setting_with_a_connection_twin_says_which_wins(services: Services) -> None:
    tab = make_tab(services, Tab.OVERALL, Tab.STRATEGY)
    for key, words in SETTINGS_SAY.items():
        row = tab.rows[key]
        assert words in row.label.toolTip() and words in row.editor.toolTip(), key


async def test_the_connection_options_say_their_pf_limits_win(services: Services) -> None:
    make_tab(services, Tab.OVERALL)  # the Qt application and the services
    box = OptionsBox()
    page = box.pages.widget([box.pages.tabText(i) for i in range(box.pages.count())].index("PF limits"))
    texts = " ".join(label.text() for label in page.findChildren(QLabel))
    assert "wins over Settings › Strategy" in texts and "Main / Real minimum avg PF" in texts
    assert "Maximum drawdown time" in texts


def page_text(box: OptionsBox, title: str) -> str:
    page = box.pages.widget([box.pages.tabText(i) for i in range(box.pages.count())].index(title))
    return " ".join(label.text() for label in page.findChildren(QLabel))


async def test_the_connection_options_say_what_multiplies_and_what_either_switches(services: Services) -> None:
    make_tab(services, Tab.OVERALL)
    box = OptionsBox()
    assert "multiply with Settings › Overall › Base volume factor" in page_text(box, "Volume")
    assert "Use main symbols" in page_text(box, "Symbols") and "either one on is enough" in page_text(box, "Symbols")
