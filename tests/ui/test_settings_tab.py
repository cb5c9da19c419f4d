"""Settings tab on real services (offscreen): every setting round-trips widget → SettingsStore → DB, typed invalid
input is refused with the schema's message and nothing is written, risky changes ask first (and the position
length confirmation states and performs the trim), the matrix count follows typed values, JSON import/export and
the database choice work."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QMessageBox

from cts_desktop.app import create_qapp
from cts_desktop.application.application import Application
from cts_desktop.domain.settings import (
    SETTINGS,
    SettingDef,
    SettingsValidationErrors,
    SettingType,
    SettingValidationError,
    Tab,
    decode_value,
    matrix_set_count,
    validate_many,
    validate_value,
)
from cts_desktop.events.app import SettingsChanged
from cts_desktop.services import Services
from cts_desktop.storage import models as m
from cts_desktop.storage.results import HistoryLimits, append_results
from cts_desktop.ui import tasks
from cts_desktop.ui.settings_editors import ChoiceEditor, FlagEditor, ListEditor, NumberEditor, format_value
from cts_desktop.ui.settings_matrix import describe_counts
from cts_desktop.ui.tabs.settings import DATABASE_URL, SettingsTab
from cts_desktop.ui.theme import apply_theme
from tests.helpers.waiting import until
from tests.ui.conftest import open_window, save_screenshot

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


def make_tab(services: Services, *pages: Tab) -> SettingsTab:
    """The tab with the given pages built (all of them when none is named)."""
    create_qapp()
    services.start(asyncio.get_running_loop())
    tab = SettingsTab(Application(services).settings)
    tab.resize(1366, 720)
    for page in pages or tuple(Tab):
        tab.build_page(page)
    return tab


async def settle(tab: SettingsTab, answer: bool | None = True, timeout: float = 10.0) -> list[str]:
    """Run the UI's tasks to completion, answering confirmation dialogs (``None``: stop at the first one); returns
    the texts that were asked."""
    asked: list[str] = []

    def settled() -> bool:
        box = tab.confirm_box
        if box is not None and box.isVisible() and box.text() not in asked:
            asked.append(box.text())
            if answer is None:
                return True
            box.button(QMessageBox.StandardButton.Yes if answer else QMessageBox.StandardButton.Cancel).click()
        return not tasks._running and tab.confirm_box is None

    await until(settled, timeout, "the settings tab to settle", interval=0.005)
    return asked


def stored_row(services: Services, key: str) -> object | None:
    with services.db.session() as s:
        row = s.get(m.Setting, key)
        return None if row is None else decode_value(key, row.value)


def other_value(defn: SettingDef, current: dict[str, object]) -> object:
    """A valid value different from the current one that no cross-field rule refuses."""
    value = current[defn.key]
    candidates: list[object] = []
    if defn.type in (SettingType.INT, SettingType.FLOAT):
        assert isinstance(value, int | float) and defn.step is not None
        for delta in (defn.step, -defn.step, 2 * defn.step, -2 * defn.step):
            candidates.append(round(value + delta) if defn.type is SettingType.INT else round(value + delta, 6))
    elif defn.type is SettingType.BOOL:
        candidates.append(not value)
    elif defn.type is SettingType.CHOICE:
        candidates.extend(c for c in defn.choices if c != value)
    elif defn.type is SettingType.SYMBOL_LIST:
        assert isinstance(value, tuple)
        candidates += [value[:-1], (*value, "DOGE"), ("BTC", "LINK")]
    elif defn.type is SettingType.NUMBER_LIST:
        assert isinstance(value, tuple) and defn.step is not None
        for delta in (defn.step, -defn.step, 2 * defn.step):
            candidates.append((*value[:-1], round(value[-1] + delta, 6)))
        candidates.append(value[:-1])
    for candidate in candidates:
        try:
            normalised = validate_many({defn.key: candidate}, base=current)[defn.key]
        except (SettingValidationError, SettingsValidationErrors):
            continue
        if normalised != value:
            return normalised
    raise AssertionError(f"no other valid value found for {defn.key}")


def enter(tab: SettingsTab, key: str, value: object, index: int) -> None:
    """Set ``value`` the way a user would, through the setting's own widget."""
    editor = tab.rows[key].editor
    if isinstance(editor, NumberEditor):
        if index % 2 == 0:  # half by the slider, half typed into the spin box
            editor.slider.setValue(editor._position_of(float(value)))  # type: ignore[arg-type]
        else:
            editor.type_text(format_value(editor.defn, value))
    elif isinstance(editor, FlagEditor):
        editor.box.click()
    elif isinstance(editor, ChoiceEditor):
        position = next(i for i, c in enumerate(editor.defn.choices) if c == value and type(c) is type(value))
        editor.combo.setCurrentIndex(position)
        editor.combo.activated.emit(position)
    elif isinstance(editor, ListEditor):
        editor.type_text(format_value(editor.defn, value))
    else:
        raise AssertionError(f"no way to enter {key}")


async def test_every_setting_round_trips_from_its_widget_to_the_database(services: Services) -> None:
    tab = make_tab(services)
    editable = [d for d in SETTINGS if d.key != DATABASE_URL]
    assert set(tab.rows) == {d.key for d in editable}  # every setting has an editor (the URL: database panel)
    notified: list[str] = []  # what running engines hear: the change events on the bus
    services.bus.subscribe(SettingsChanged, lambda event: notified.extend(event.keys))
    confirmed: list[str] = []
    for index, defn in enumerate(editable):
        current = services.settings.values()
        value = other_value(defn, current)
        enter(tab, defn.key, value, index)
        confirmed += await settle(tab)
        assert services.settings.get(defn.key) == value, defn.key
        assert stored_row(services, defn.key) == value, defn.key
        assert notified[-1] == defn.key
        assert not tab.rows[defn.key].editor.has_error(), defn.key
        assert tab.rows[defn.key].reset.isEnabled()
        # reset through the row's own button: back to the default in the store and the DB
        tab.rows[defn.key].reset.click()
        confirmed += await settle(tab)
        assert services.settings.get(defn.key) == defn.default, defn.key
        assert stored_row(services, defn.key) == defn.default, defn.key
    # switching an engine off asked first (the schema's text), and so did lowering the position length
    assert any("Disabling the Main engine" in text for text in confirmed)
    assert any("Disabling the Preset engine" in text for text in confirmed)
    assert any("Lowering the position length" in text for text in confirmed)


async def test_typed_out_of_range_and_off_grid_input_is_refused_with_its_message(services: Services) -> None:
    tab = make_tab(services, Tab.SYSTEM, Tab.OVERALL, Tab.STRATEGY)
    key = "system.position_length"
    editor = tab.rows[key].editor
    assert isinstance(editor, NumberEditor)
    for typed, shown in (("550", "550"), ("55", "55"), ("0", "0")):
        editor.type_text(typed)
        await settle(tab)
        with pytest.raises(SettingValidationError) as expected:
            validate_value(key, int(typed))
        assert editor.has_error()
        assert editor.error.text() == expected.value.message
        assert f"got {shown}" in editor.error.text() and "between 50 and 500 in steps of 50" in editor.error.text()
        assert services.settings.get(key) == 250
        assert stored_row(services, key) is None  # nothing was written
    # a float setting: out of range
    fee = tab.rows["overall.position_cost"].editor
    assert isinstance(fee, NumberEditor)
    fee.type_text("1.5")
    await settle(tab)
    assert "Position cost (overall.position_cost)" in fee.error.text()
    assert stored_row(services, "overall.position_cost") is None
    # a list with an invalid item and a list out of its item range
    symbols = tab.rows["overall.forced_symbols"].editor
    assert isinstance(symbols, ListEditor)
    symbols.type_text("XRP, b@d")
    await settle(tab)
    assert "Forced symbols (overall.forced_symbols)" in symbols.error.text()
    assert stored_row(services, "overall.forced_symbols") is None
    tps = tab.rows["strategy.tp_factors"].editor
    assert isinstance(tps, ListEditor)
    tps.type_text("2, 4, 99")
    await settle(tab)
    assert "between 0.5 and 50" in tps.error.text()
    assert stored_row(services, "strategy.tp_factors") is None
    # a cross-field conflict (pairs must have equal length) is refused as a whole, with its message
    stops = tab.rows["strategy.trailing_stops"].editor
    assert isinstance(stops, ListEditor)
    stops.type_text("0.1, 0.2")
    await settle(tab)
    assert "must have as many values as" in stops.error.text()
    assert stored_row(services, "strategy.trailing_stops") is None
    # a valid entry afterwards clears the message and is stored
    editor.type_text("300")
    await settle(tab)
    assert not editor.has_error()
    assert stored_row(services, key) == 300
    save_screenshot(tab, "settings-invalid-input")


def _seed_results(services: Services, sizes: list[int]) -> list[int]:
    with services.db.session() as s:
        s.add(m.Connection(id="c1", name="Replay", exchange="replay", kind="replay"))
        s.flush()
        ids = []
        for i, size in enumerate(sizes):
            row = m.ConfigSet(connection_id="c1", symbol="BTC/USDT:USDT", indication_type="direction",
                              params=f"R={i}", direction="long", tp=10, sl=0.5)
            s.add(row)
            s.flush()
            results = [
                {"opened_ms": k, "closed_ms": k + 1, "entry": 1.0, "exit": 1.01, "result_pc": 0.5, "reason": "tp"}
                for k in range(size)
            ]
            append_results(s, row.id, results, HistoryLimits(500, 20))
            ids.append(row.id)
    return ids


def _result_counts(services: Services, ids: list[int]) -> list[int]:
    from sqlalchemy import func, select

    with services.db.session() as s:
        return [
            s.execute(select(func.count()).where(m.PseudoResult.set_id == i)).scalar_one() for i in ids
        ]


async def test_lowering_position_length_states_the_trim_and_trims_when_confirmed(services: Services) -> None:
    services.settings.set("system.position_length", 300)
    ids = _seed_results(services, [280, 120, 60])
    tab = make_tab(services, Tab.SYSTEM)
    editor = tab.rows["system.position_length"].editor
    assert isinstance(editor, NumberEditor)
    # cancelled: nothing changes
    editor.type_text("250")
    asked = await settle(tab, answer=False)
    assert len(asked) == 1 and "30 stored results will be deleted" in asked[0]
    assert services.settings.get("system.position_length") == 300
    assert _result_counts(services, ids) == [280, 120, 60]
    assert editor.spin.value() == 300  # the editor shows the stored value again
    # confirmed: (280-100) + (120-100) = 200 results are named, then trimmed
    editor.type_text("100")
    box_texts = await settle(tab, answer=None)
    assert "200 stored results will be deleted" in box_texts[0]
    assert tab.confirm_box is not None
    save_screenshot(tab.confirm_box, "settings-confirm-trim")
    tab.confirm_box.button(QMessageBox.StandardButton.Yes).click()
    await settle(tab)
    assert services.settings.get("system.position_length") == 100
    assert stored_row(services, "system.position_length") == 100
    assert _result_counts(services, ids) == [100, 100, 60]
    with services.db.session() as s:
        assert [s.get(m.ConfigSet, i).stored_results for i in ids] == [100, 100, 60]  # type: ignore[union-attr]
    assert "200 stored results were trimmed" in tab.status.text()
    # raising it again asks nothing
    editor.type_text("150")
    assert await settle(tab) == []
    assert services.settings.get("system.position_length") == 150


async def test_group_reset_and_matrix_count_follow_typed_values(services: Services) -> None:
    tab = make_tab(services, Tab.STRATEGY)
    label = tab.matrix_labels[0]
    assert f"<b>{matrix_set_count({}):,}</b> configuration sets" in label.text()
    tps = tab.rows["strategy.tp_factors"].editor
    assert isinstance(tps, ListEditor)
    # typing previews the count before anything is stored
    tps.line.setText("2, 4, 6")
    tps.line.textEdited.emit("2, 4, 6")
    preview = matrix_set_count({"strategy.tp_factors": (2.0, 4.0, 6.0)})
    assert f"<b>{preview:,}</b> configuration sets" in label.text() and "not applied yet" in label.text()
    assert stored_row(services, "strategy.tp_factors") is None
    tps.line.editingFinished.emit()
    await settle(tab)
    assert services.settings.get("strategy.tp_factors") == (2.0, 4.0, 6.0)
    assert "not applied yet" not in label.text() and f"<b>{preview:,}</b>" in label.text()
    # reset the whole group
    services.settings.set("strategy.trailing_enabled", False)
    await tab.refresh()
    button = tab.group_resets[(Tab.STRATEGY, "Configuration matrix")]
    assert button.isEnabled()
    button.click()
    await settle(tab)
    assert services.settings.get("strategy.tp_factors") == validate_value("strategy.tp_factors", (
        2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22))
    assert services.settings.get("strategy.trailing_enabled") is True
    assert not button.isEnabled()
    assert f"<b>{matrix_set_count({}):,}</b>" in label.text()


async def test_export_then_import_json_through_the_file_dialogs(services: Services, tmp_path: Path) -> None:
    tab = make_tab(services, Tab.OVERALL)
    services.settings.set("overall.symbol_count", 12)
    target = tmp_path / "exported.json"
    tab.choose_export_file()
    assert tab.file_dialog is not None and tab.file_dialog.isVisible()  # opened with open(), non-blocking
    tab.file_dialog.fileSelected.emit(str(target))
    tab.file_dialog.close()
    await settle(tab)
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["format"] == "cts-desktop-settings"
    assert document["settings"]["overall.symbol_count"] == 12
    assert set(document["settings"]) == {d.key for d in SETTINGS}
    # change two values in the file (one of them lowers the position length) and import it
    document["settings"]["overall.symbol_count"] = 20
    document["settings"]["system.position_length"] = 200
    target.write_text(json.dumps(document), encoding="utf-8")
    tab.choose_import_file()
    assert tab.file_dialog is not None
    tab.file_dialog.fileSelected.emit(str(target))
    tab.file_dialog.close()
    asked = await settle(tab)
    assert "Import 2 changed settings" in asked[0] and "Lowering the position length" in asked[0]
    assert services.settings.get("overall.symbol_count") == 20
    assert stored_row(services, "system.position_length") == 200
    assert tab.rows["overall.symbol_count"].editor.spin.value() == 20  # type: ignore[attr-defined]
    # an invalid import is refused as a whole
    document["settings"]["overall.symbol_count"] = 99
    document["settings"]["overall.positions_average"] = 30
    target.write_text(json.dumps(document), encoding="utf-8")
    await tab.import_from(str(target))
    assert "Import refused" in tab.status.text() and "overall.symbol_count" in tab.status.text()
    assert services.settings.get("overall.positions_average") == 50


async def test_database_choice_test_migrate_and_save(services: Services, tmp_path: Path) -> None:
    import keyring

    from cts_desktop.storage.secrets import SecretRef

    tab = make_tab(services, Tab.SYSTEM)
    panel = tab.database
    assert panel is not None
    assert panel.sqlite_radio.isChecked()
    other = tmp_path / "other.sqlite3"
    panel.sqlite_path.setText(str(other))
    await panel.test()
    assert panel.result.text().startswith("✔ Connected to sqlite:///") and "SELECT 1" in panel.result.text()
    await panel.migrate()
    assert "schema revision" in panel.result.text() and panel.result.text().startswith("✔")
    from cts_desktop.storage.db import Database, sqlite_url

    migrated = Database(sqlite_url(other))
    assert "logs" in migrated.engine.dialect.get_table_names(migrated.engine.connect())
    migrated.dispose()
    # PostgreSQL: an unreachable server gives a plain message, the password never shows
    panel.postgres_radio.setChecked(True)
    panel.pg_url.setText("postgresql://cts@127.0.0.1:1/cts")
    panel.pg_password.setText("pw-never-shown-123")
    await panel.test()
    assert panel.result.text().startswith("✖ ") and "pw-never-shown-123" not in panel.result.text()
    # save: asks (another database), password to the keyring, URL without it to the file and the setting
    tasks.spawn(panel.save(), "save database choice")
    asked = await settle(tab)
    assert any("from the next start" in text for text in asked)
    assert "after a restart" in panel.result.text()
    url = services.settings.get(DATABASE_URL)
    assert url == "postgresql+psycopg://cts@127.0.0.1:1/cts"
    assert stored_row(services, DATABASE_URL) == url
    assert keyring.get_password("cts-desktop", SecretRef.database(str(url)).key) == "pw-never-shown-123"
    saved = (services.paths.config / "database.json").read_text(encoding="utf-8")
    assert "pw-never-shown-123" not in saved and "127.0.0.1:1/cts" in saved
    assert "Next start" in panel.in_use.text() and "127.0.0.1:1/cts" in panel.in_use.text()


async def test_database_test_against_the_postgresql_server(services: Services) -> None:
    from tests.integration.conftest import PG_URL, require_postgres

    require_postgres()
    tab = make_tab(services, Tab.SYSTEM)
    panel = tab.database
    assert panel is not None
    panel.postgres_radio.setChecked(True)
    panel.pg_url.setText(PG_URL)
    await panel.test()
    assert panel.result.text().startswith("✔ Connected to postgresql+psycopg://"), panel.result.text()
    assert "SELECT 1 took" in panel.result.text()


async def test_settings_screenshot(services: Services) -> None:
    gui = open_window(services)
    gui.window.tabs.setCurrentWidget(gui.window.settings)
    gui.window.settings.pages.setCurrentIndex(list(Tab).index(Tab.STRATEGY))
    await gui.window.refresh_all()
    QApplication.sendPostedEvents()  # the page's layout, before scrolling in it
    strategy = gui.window.settings.stacks[Tab.STRATEGY].widget(0)
    counts = gui.window.settings.matrix_labels[-1]
    group_box = counts.parentWidget()
    strategy.verticalScrollBar().setValue(group_box.y() - 8)  # type: ignore[attr-defined]
    brightness = {}
    for theme in ("dark", "light"):
        apply_theme(QApplication.instance(), theme)  # type: ignore[arg-type]
        image = QImage(str(save_screenshot(gui.window, f"settings-{theme}")))
        assert (image.width(), image.height()) == (gui.window.width(), gui.window.height())
        brightness[theme] = mean_lightness(image)
        # what the picture is for: the Strategy page scrolled to the matrix group, its counts in view
        assert gui.window.settings.pages.currentIndex() == list(Tab).index(Tab.STRATEGY)
        assert not counts.visibleRegion().isEmpty()
        assert counts.text() == describe_counts(services.settings.values())
    assert brightness["dark"] < 0.4 < 0.6 < brightness["light"], brightness  # the theme really changed
    gui.window.settings.pages.setCurrentIndex(list(Tab).index(Tab.SYSTEM))
    panel = gui.window.settings.database
    assert panel is not None
    scroll = gui.window.settings.stacks[Tab.SYSTEM].widget(0)
    QApplication.sendPostedEvents()
    scroll.ensureWidgetVisible(panel)  # type: ignore[attr-defined]
    save_screenshot(gui.window, "settings-system-tab-light")
    assert not panel.visibleRegion().isEmpty()  # the database choice is in the picture, with the one in use
    assert f"In use now: <b>{services.db.display_url}</b> (sqlite)" in panel.in_use.text()
    await gui.shutdown()


def mean_lightness(image: QImage) -> float:
    """The mean HSL lightness (0 black … 1 white) of a grid of the image's pixels."""
    values = [image.pixelColor(x, y).lightnessF() for x in range(0, image.width(), 8)
              for y in range(0, image.height(), 8)]
    return sum(values) / len(values)
