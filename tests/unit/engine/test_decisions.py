"""The decision log: the newest decision per connection, published on the bus, logged at most once a minute per
kind and symbol with the count of the ones held back."""

from __future__ import annotations

import logging

import pytest

from cts_desktop.engine.decisions import DecisionLog
from cts_desktop.events.bus import EventBus
from cts_desktop.events.trading import EntryDecided


def test_decisions_are_kept_published_and_logged_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    bus = EventBus()
    seen: list[EntryDecided] = []
    bus.subscribe(EntryDecided, seen.append)
    log = DecisionLog("c1", bus, log_every_s=60.0, clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="cts.engine.decisions")
    for second in range(5):
        now[0] = 1000.0 + second
        log.record("BTC/USDT:USDT", "long", "no_real_set", f"no Real set for BTC long ({second})")
    log.record("ETH/USDT:USDT", "short", "cooldown", "cooldown until 12:05")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["entry refused for BTC/USDT:USDT long: no Real set for BTC long (0)",
                     "entry refused for ETH/USDT:USDT short: cooldown until 12:05"]
    now[0] = 1061.0
    log.record("BTC/USDT:USDT", "long", "no_real_set", "no Real set for BTC long (5)")
    assert caplog.records[-1].getMessage() == ("entry refused for BTC/USDT:USDT long: no Real set for BTC long (5) "
                                               "(4 more like it since the last line)")
    log.record("BTC/USDT:USDT", "long", "taken", "entry: order filled")
    assert caplog.records[-1].getMessage().startswith("entry taken for BTC/USDT:USDT long")
    assert len(seen) == 8 and seen[-1].key == "c1" and seen[-1].decision.taken
    assert log.last is not None and log.last.kind == "taken" and log.last_of_kind["cooldown"].symbol == "ETH/USDT:USDT"
    with pytest.raises(ValueError, match="unknown decision kind"):
        log.record("BTC/USDT:USDT", "long", "whatever", "")
