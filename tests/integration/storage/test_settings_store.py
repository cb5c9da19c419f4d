"""Settings through the DB: every setting round-trips, bad values are refused with their message, export ⇄ import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from cts_desktop.domain.settings import SETTINGS, SettingType, SettingValidationError, default_values
from cts_desktop.events.app import SettingsChanged
from cts_desktop.events.bus import EventBus
from cts_desktop.storage.db import Database, sqlite_url
from cts_desktop.storage.models import Setting
from cts_desktop.storage.settings_store import SettingsImportError, SettingsStore
from tests.helpers.settings_values import valid_values


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SettingsStore:
    db = Database(sqlite_url(tmp_path_factory.mktemp("settings") / "cts.sqlite3"))
    db.migrate()
    return SettingsStore(db, EventBus())


@st.composite
def setting_and_value(draw: st.DrawFn) -> tuple[str, object]:
    defn = draw(st.sampled_from(SETTINGS))
    return defn.key, draw(valid_values(defn))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pair=setting_and_value())
def test_any_valid_value_round_trips_through_the_db(store: SettingsStore, pair: tuple[str, object]) -> None:
    key, value = pair
    try:
        stored = store.set(key, value)
    except ValueError as exc:  # only a cross-field rule may refuse a single valid value
        assert "must" in str(exc) or "cannot" in str(exc) or "<=" in str(exc), str(exc)
        return
    fresh = SettingsStore(store.db, EventBus())
    assert fresh.load()[key] == stored
    store.reset([key])


def test_every_setting_round_trips_at_its_bounds(store: SettingsStore) -> None:
    for defn in SETTINGS:
        candidates: list[object] = [defn.default]
        if defn.type in (SettingType.INT, SettingType.FLOAT) and defn.minimum is not None:
            candidates += [defn.minimum, defn.maximum]
        for value in candidates:
            try:
                stored = store.set(defn.key, value)
            except ValueError:
                continue  # a bound may violate a cross-field rule with the other defaults (e.g. min > max)
            assert SettingsStore(store.db, EventBus()).load()[defn.key] == stored
        store.reset([defn.key])


@pytest.mark.parametrize("defn", [d for d in SETTINGS if d.type in (SettingType.INT, SettingType.FLOAT)],
                         ids=lambda d: d.key)
def test_out_of_range_is_refused_naming_the_setting(store: SettingsStore, defn: object) -> None:
    from cts_desktop.domain.settings import SettingDef

    assert isinstance(defn, SettingDef) and defn.maximum is not None
    before = store.get(defn.key)
    with pytest.raises(ValueError) as info:
        store.set(defn.key, defn.maximum + (defn.step or 1) * 10)
    assert defn.key in str(info.value)
    assert store.get(defn.key) == before
    with pytest.raises(ValueError, match=defn.key.replace(".", r"\.")):
        store.set(defn.key, "12")  # text is not a number


def test_position_length_message_and_no_clamp(store: SettingsStore) -> None:
    with pytest.raises(SettingValidationError) as info:
        store.set("system.position_length", 525)
    message = str(info.value)
    assert "system.position_length" in message and "50" in message and "500" in message
    assert store.get("system.position_length") == 250
    with store.db.session() as s:
        assert s.get(Setting, "system.position_length") is None or \
            json.loads(s.get(Setting, "system.position_length").value) == 250  # type: ignore[union-attr]


def test_changes_are_published_once(store: SettingsStore) -> None:
    heard: list[SettingsChanged] = []
    unsubscribe = store.bus.subscribe(SettingsChanged, heard.append)
    store.set("system.position_length", 300)
    store.set("system.position_length", 300)  # no change, no event
    unsubscribe()
    store.reset(["system.position_length"])
    assert [event.changes for event in heard] == [(("system.position_length", 250, 300),)]


def test_export_import_is_identity(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path / "a.sqlite3"))
    db.migrate()
    source = SettingsStore(db, EventBus())
    source.set_many({"system.position_length": 400, "overall.main_symbols": ["BTC", "ETH", "SOL"],
                     "system.log_level": "debug"})
    exported = source.export_json()
    other_db = Database(sqlite_url(tmp_path / "b.sqlite3"))
    other_db.migrate()
    target = SettingsStore(other_db, EventBus())
    target.import_json(exported)
    assert SettingsStore(other_db, EventBus()).load() == source.values()
    assert json.loads(target.export_json())["settings"] == json.loads(exported)["settings"]


def test_bad_import_writes_nothing(store: SettingsStore) -> None:
    document = json.loads(store.export_json())
    document["settings"]["system.position_length"] = 100
    document["settings"]["system.position_threshold_pct"] = 99  # out of range
    before = store.values()
    with pytest.raises(SettingsImportError) as info:
        store.import_json(json.dumps(document))
    assert "system.position_threshold_pct" in str(info.value)
    assert store.values() == before
    assert SettingsStore(store.db, EventBus()).load() == before
    with pytest.raises(SettingsImportError, match="not a CTS Desktop settings export"):
        store.import_json('{"settings": {}}')
    with pytest.raises(SettingsImportError, match="unknown settings"):
        store.import_json(json.dumps({**document, "settings": {"no.such": 1}}))


def test_corrupt_row_falls_back_to_default_and_is_reported(store: SettingsStore) -> None:
    with store.db.session() as s:
        s.merge(Setting(key="system.position_length", value='"many"'))
    values = SettingsStore(store.db, EventBus())
    assert values.load()["system.position_length"] == 250
    with store.db.session() as s:
        s.merge(Setting(key="system.position_length", value="250"))
    with store.db.session() as s:
        assert s.execute(select(Setting.key)).scalars().all()


def test_defaults_need_no_rows(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path / "d.sqlite3"))
    db.migrate()
    assert SettingsStore(db, EventBus()).load() == default_values()
