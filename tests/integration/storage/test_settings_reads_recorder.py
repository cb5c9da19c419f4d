"""The key-read recorder behind tests/ui/test_settings_readers.py can fail: a key looked up only by a test, the
settings store or the schema's validation is not a read; the same key looked up by the engine's code is, and the
reader is the app module that acted on it, not the schema helper it went through."""

from __future__ import annotations

from pathlib import Path

import pytest

from cts_desktop.domain.settings import matrix_axes, validate_many
from cts_desktop.engine import engine_config as cfg
from cts_desktop.events.bus import EventBus
from cts_desktop.storage.db import Database, sqlite_url
from cts_desktop.storage.settings_store import SettingsStore
from tests.helpers.settings_reads import recording


def test_only_the_apps_own_code_counts_as_a_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(sqlite_url(tmp_path / "cts.sqlite3"))
    db.migrate()
    store = SettingsStore(db, EventBus())
    store.load()
    with recording(monkeypatch) as reads:
        values = store.values()
        assert values["monitoring.degraded_success_pct"] == 95  # a test looking: not a reader
        store.set("strategy.tp_factors", [2, 4])  # stored and validated: not a reader
        validate_many({"strategy.sl_ratios": [0.5]}, base=values)
        assert not reads.by_key
        cfg.health_rules(store.values())  # the engine's health rules
        matrix_axes(store.values())  # a schema helper called from a test: still no reader
    assert reads.by_key["monitoring.degraded_success_pct"] == {"cts_desktop.engine.engine_config"}
    assert "strategy.tp_factors" not in reads.by_key and "strategy.sl_ratios" not in reads.by_key
    db.dispose()
