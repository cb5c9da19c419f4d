"""Main-mode set settings on the Main pipeline over real prices (the BTCUSDT minutes replayed as one price a
second, as in test_setting_effects_indications): "Trailing variants" adds the trailing exits to every variant's
sets — they appear in the book the Sets tab lists and close pseudo positions of their own — and "Max positions per
set and direction" caps how many pseudo positions one set holds open at once.
"""

from __future__ import annotations

import numpy as np

from cts_desktop.engine.pipeline import SymbolPipeline
from tests.integration.engine.test_batch_warmup import pipeline
from tests.integration.engine.test_setting_effects_indications import BASE, seconds


def run(changes: dict[str, object]) -> tuple[SymbolPipeline, int]:
    """The pipeline after the prices, and the most pseudo positions one set held open at once."""
    line = pipeline({**BASE, "strategy.sl_ratios": [8.0], "strategy.tp_factors": [8], **changes})
    most = 0
    for t, price in seconds():
        update = line.on_price(t, price, entries_allowed=True)  # signals only: no order manager here
        if len(update.indications) and len(line.book):
            most = max(most, int(line.book.open_count().max()))
    return line, most


def test_trailing_variants_add_trailing_sets_that_close_positions() -> None:
    on = {"strategy.trailing_enabled": True, "strategy.trailing_starts": [0.6], "strategy.trailing_stops": [0.2]}
    with_trailing, _ = run(on)
    without, _ = run({**on, "strategy.trailing_enabled": False})
    for line in (with_trailing, without):
        assert len(line.book), "variants fired"
    trailing = np.flatnonzero(with_trailing.book.trailing)
    assert trailing.size and with_trailing.book.count[trailing].sum() > 0  # trailing sets closed positions
    assert not without.book.trailing.any() and set(without.book.matrix.trail_start.tolist()) == {0.0}


def test_max_positions_per_set_and_direction_caps_what_a_set_holds_open() -> None:
    _, one = run({"strategy.max_positions_per_set_direction": 1, "strategy.position_cooldown_ms": 0})
    _, three = run({"strategy.max_positions_per_set_direction": 3, "strategy.position_cooldown_ms": 0})
    assert one == 1 and 1 < three <= 3, (one, three)
