"""Settings that did nothing are gone (issue 16): migration 0006 deletes their stored values and the per-connection
options no engine read (SQLite and PostgreSQL); a settings export that still carries one imports without it and
says so, while a key that never was a setting is still refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select

from cts_desktop.domain.settings import SETTINGS_BY_KEY
from cts_desktop.domain.settings_schema.removed import REMOVED_SETTINGS
from cts_desktop.events.bus import EventBus
from cts_desktop.storage.db import Database, sqlite_url
from cts_desktop.storage.migrate import alembic_config, current_revision, head_revision
from cts_desktop.storage.models import Connection, Setting
from cts_desktop.storage.settings_store import SettingsImportError, SettingsStore
from tests.integration.conftest import PG_URL

REMOVED = "exchange.live_volume_factor"
KEPT = "overall.positions_average"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database as the previous version left it: schema 0005, a removed setting stored, a connection with the
    options that are gone."""
    if request.param == "sqlite":
        db = Database(sqlite_url(tmp_path / "cts.sqlite3"))
    else:
        db = Database(PG_URL, schema=request.getfixturevalue("pg_schema"))
    config = alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        config.attributes["schema"] = db.schema
        command.upgrade(config, "0005")
    with db.session() as s:
        s.add_all([Setting(key=REMOVED, value="2.5"), Setting(key="indications.rsi.period", value="21"),
                   Setting(key=KEPT, value="80")])
        s.add(Connection(id="c1", name="Bybit X03", exchange="bybit", kind="predefined", margin_type="isolated",
                         position_mode="hedge", settings={"live_volume_factor": 3.0, "symbol_count": 20,
                                                          "trailing_only": True, "live_pf_min_base": 0.9,
                                                          "live_pf_min_main": 0.6, "live_pf_min_real": 0.8}))
    try:
        yield db
    finally:
        db.dispose()


def test_migration_deletes_removed_settings_and_connection_options(old_db: Database) -> None:
    assert old_db.migrate() == head_revision() == current_revision(old_db.engine)
    with old_db.session() as s:
        stored = dict(s.execute(select(Setting.key, Setting.value)).all())
        options = s.get(Connection, "c1").settings  # type: ignore[union-attr]
        margin = s.get(Connection, "c1").margin_type  # type: ignore[union-attr]
    assert stored == {KEPT: "80"}
    # the old default of a gate limit is unset (follows Settings › Strategy); a value the user chose stays
    assert options == {"live_volume_factor": 3.0, "live_pf_min_real": 0.8} and margin == "isolated"


def test_an_import_ignores_removed_settings_and_says_which(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = Database(sqlite_url(tmp_path / "cts.sqlite3"))
    db.migrate()
    store = SettingsStore(db, EventBus())
    store.load()
    document = json.loads(store.export_json())
    assert not set(document["settings"]) & set(REMOVED_SETTINGS)  # an export never carries one
    document["settings"].update({REMOVED: 4.0, "strategy.base_min_avg_pf": 0.8, KEPT: 70,
                                 "overall.symbol_order_type": "market_cap"})  # a choice that went (0008)
    text = json.dumps(document)
    assert store.ignored_in(text) == [REMOVED, "overall.symbol_order_type = market_cap", "strategy.base_min_avg_pf"]
    before = store.values()["overall.symbol_order_type"]
    changes = store.import_json(text)
    assert [(c.key, c.new) for c in changes] == [(KEPT, 70)]
    assert store.values()["overall.symbol_order_type"] == before  # the setting stays as it was
    assert ("3 removed settings ignored: exchange.live_volume_factor, overall.symbol_order_type = market_cap, "
            "strategy.base_min_avg_pf") in caplog.text
    document["settings"]["system.never_a_setting"] = 1
    with pytest.raises(SettingsImportError, match=r"unknown settings: system\.never_a_setting"):
        store.import_json(json.dumps(document))
    assert not set(REMOVED_SETTINGS) & set(SETTINGS_BY_KEY)
    db.dispose()
