"""What the app creates on its first start, and only then."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cts_desktop.events.app import ConnectionsChanged
from cts_desktop.events.bus import Event
from cts_desktop.services import AppOptions, Services


def _names(data_dir: Path) -> tuple[bool, list[str]]:
    services = Services(AppOptions(data_dir=data_dir, console_log=False))
    try:
        return services.db.created_now, sorted(c.name for c in services.trading.connections.list())
    finally:
        services.close()


def test_predefined_connections_come_on_first_start_and_stay_deleted(data_dir: Path) -> None:
    created, names = _names(data_dir)
    assert created and names == ["BingX X01", "Bybit X03", "Replay (offline)"]
    services = Services(AppOptions(data_dir=data_dir, console_log=False))
    try:
        seen: list[Event] = []
        services.bus.subscribe(ConnectionsChanged, seen.append)
        service = services.trading.connections
        bingx = next(c for c in service.list() if c.name == "BingX X01")
        assert not bingx.is_enabled and bingx.api_type == "perpetual_futures"
        service.delete(bingx.id)
        generic = service.create("My OKX", "okx", check_exchange=False)
        assert [e.key for e in seen] == [bingx.id, generic.id]  # every change reaches the tabs and the tray
    finally:
        services.close()
    created, names = _names(data_dir)
    assert not created and names == ["Bybit X03", "My OKX", "Replay (offline)"]  # the deletion is respected


def test_a_first_start_without_a_keyring_says_it_once_and_removes_no_grant(
        data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """No OS keyring and no encrypted file yet (a minimal Linux session): the predefined connections come with live
    trading off — no grant could exist, so none is "removed" with a warning per connection."""
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    with caplog.at_level(logging.WARNING):
        created, names = _names(data_dir)
    assert created and names == ["BingX X01", "Bybit X03", "Replay (offline)"]
    assert not [r for r in caplog.records if "grant" in r.getMessage()], caplog.text
