"""Settings › System › Backups on real services (offscreen): Back up now lists a verified backup; Restore asks
first, then puts the backup back (the data written after it is gone, the replaced file kept aside) and offers to
quit; a file that is not a backup is refused and nothing stops. PostgreSQL shows the server tools' commands without
the password. While the app runs, a damaged database raises a dialog and a mark in the status bar."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from cts_desktop.application.database import BackupsState
from cts_desktop.domain.settings import Tab
from cts_desktop.events.app import DatabaseDamaged
from cts_desktop.services import Services
from cts_desktop.storage.backup_scheduler import BackupPolicy
from cts_desktop.storage.backups import postgres_commands
from cts_desktop.storage.db import normalise_url
from cts_desktop.ui import tasks
from cts_desktop.ui.theme import apply_theme
from tests.helpers.damage import count_logs, fingerprint, held_open, log_row
from tests.ui.conftest import open_window, save_screenshot
from tests.ui.test_settings_tab import make_tab, settle

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


async def services_backup(services: Services) -> tuple[bool, str]:
    from cts_desktop.application.database import DatabasePart

    return await DatabasePart(services).backup_now()


def _log(services: Services, tag: str, rows: int) -> None:
    services.writer.insert_many("logs", (log_row(f"{tag} {i}", i) for i in range(rows)))
    assert services.writer.flush()


async def test_back_up_now_then_restore_the_selected_backup(services: Services) -> None:
    tab = make_tab(services, Tab.SYSTEM)
    panel = tab.backups
    assert panel is not None
    await panel.refresh()
    assert panel.table.row_count() == 0 and not panel.restore_button.isEnabled()
    _log(services, "first", 300)
    panel.backup_button.click()
    await settle(tab)
    assert panel.result.text().startswith("✔ Backup made and verified: cts-"), panel.result.text()
    assert panel.table.row_count() == 1 and panel.table.text(0, 1) == "manual"
    panel.choose_backup_file()  # "Restore from file…" offers the packed backups without "All files"
    assert panel.file_dialog is not None
    made = next(p.name for p in (services.paths.data / "backups").iterdir() if p.name.endswith(".xz"))
    patterns = panel.file_dialog.nameFilters()[0].split("(")[1].rstrip(")").split()
    assert any(fnmatch(made, pattern) for pattern in patterns), (made, patterns)
    panel.file_dialog.reject()
    _log(services, "later", 200)
    panel.table.selectRow(0)
    assert panel.restore_button.isEnabled()
    window = tab.window()
    window.resize(1366, 900)
    window.show()
    tab.pages.setCurrentIndex(list(Tab).index(Tab.SYSTEM))
    scroll = tab.stacks[Tab.SYSTEM].widget(0)
    scroll.ensureWidgetVisible(panel)  # type: ignore[attr-defined]
    for theme in ("dark", "light"):
        apply_theme(QApplication.instance(), theme)  # type: ignore[arg-type]
        save_screenshot(tab, f"settings-backups-{theme}")

    database = services.db.sqlite_file
    assert database is not None
    panel.restore_button.click()
    asked = await settle(tab)
    assert any("kept aside" in text and "started again" in text for text in asked)
    assert panel.result.text().startswith("✔ Restored "), panel.result.text()
    assert panel.restart_box is not None and panel.restart_box.isVisible()
    save_screenshot(panel.restart_box, "settings-backups-restored-light")
    assert count_logs(database, "first") == 300 and count_logs(database, "later") == 0
    (aside,) = database.parent.glob("cts-replaced-*.sqlite3")
    assert count_logs(aside, "later") == 200
    assert not panel.backup_button.isEnabled() and not panel.restore_button.isEnabled()  # restart first
    panel.restart_box.close()


async def test_a_file_that_is_not_a_backup_is_refused_and_nothing_stops(services: Services, tmp_path: Path) -> None:
    tab = make_tab(services, Tab.SYSTEM)
    panel = tab.backups
    assert panel is not None
    database = services.db.sqlite_file
    assert database is not None
    junk = tmp_path / "backup.sqlite3"
    junk.write_bytes(b"\x00junk" * 10_000)
    assert services.writer.flush()
    before = fingerprint(database)
    tasks.spawn(panel.restore(str(junk)), "restore junk")
    await settle(tab)
    assert panel.result.text().startswith("✖ not restored: ") and "not a valid backup" in panel.result.text()
    assert fingerprint(database)[0] == before[0]
    _log(services, "still written", 5)  # the writer runs on
    assert count_logs(database, "still written") == 5


async def test_restore_is_refused_while_another_process_has_the_database_open(services: Services) -> None:
    tab = make_tab(services, Tab.SYSTEM)
    panel = tab.backups
    assert panel is not None and services.db.sqlite_file is not None
    ok, _message = await services_backup(services)
    assert ok
    backup = (await tab.part.database.backups_state()).backups[0].path
    with held_open(services.db.sqlite_file) as pid:
        tasks.spawn(panel.restore(str(backup)), "restore while open elsewhere")
        await settle(tab)
    assert "open in another CTS Desktop process" in panel.result.text() and f"pid {pid}" in panel.result.text()
    _log(services, "still written", 3)  # nothing was stopped
    assert count_logs(services.db.sqlite_file, "still written") == 3


async def test_postgresql_shows_the_server_tools_without_the_password(services: Services) -> None:
    tab = make_tab(services, Tab.SYSTEM)
    panel = tab.backups
    assert panel is not None
    url = normalise_url("postgresql://trader:pw-never-shown@db.example:5433/cts")
    panel.show_state(BackupsState(sqlite=False, folder=Path("/unused"), backups=(), policy=BackupPolicy(6, 10),
                                  postgres_commands=postgres_commands(url), damage=None, restored=None))
    text = panel.about.text() + panel.commands.text()
    assert "pg_dump --host=db.example --port=5433 --username=trader --dbname=cts" in text
    assert "pg_restore" in text and "pw-never-shown" not in text
    assert panel.table.isHidden() and panel.backup_button.isHidden()


async def test_damage_found_while_running_is_shown_in_the_window(services: Services) -> None:
    gui = open_window(services)
    message = "The database file /data/cts.sqlite3 is damaged (…). Newest backup: /data/backups/cts-….sqlite3"
    services.bus.publish(DatabaseDamaged(message=message))
    alarm = gui.window.database_alarm
    assert alarm.box is not None and alarm.box.isVisible() and alarm.box.text() == message
    assert alarm.mark.isVisible() and "Database damaged" in alarm.mark.text()
    save_screenshot(gui.window, "database-damaged-light")
    save_screenshot(alarm.box, "database-damaged-dialog-light")
    alarm.show_backups()
    assert gui.window.tabs.currentWidget() is gui.window.settings and gui.window.settings.backups is not None
    alarm.box.close()
    await gui.shutdown()
