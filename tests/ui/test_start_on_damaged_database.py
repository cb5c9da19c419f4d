"""Starting the window on a damaged database: before any window, a dialog says what is damaged and offers to
restore the newest backup; accepted, the backup is put back (the damaged file kept aside) and the app starts on it.
No event loop runs yet, so the dialogs are answered by a timer."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from cts_desktop.app import create_qapp, open_services_or_explain
from cts_desktop.services import AppOptions
from tests.helpers.damage import count_logs, fingerprint, junk_in_the_middle
from tests.integration.test_database_damage import _app_database_with_a_backup
from tests.ui.conftest import save_screenshot


def _answer_dialogs(answers: list[str], seen: list[str]) -> None:
    """Click the button named ``answers[i]`` on the i-th modal dialog that appears."""

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or len(seen) >= len(answers):
            QTimer.singleShot(20, answer)
            return
        seen.append(box.text())
        if len(seen) == 1:
            save_screenshot(box, "start-damaged-database-light")
        (button,) = [b for b in box.buttons() if b.text() == answers[len(seen) - 1]]
        button.click()
        if len(seen) < len(answers):
            QTimer.singleShot(20, answer)

    QTimer.singleShot(0, answer)


def _damaged_database(data_dir: Path) -> tuple[Path, Path, str]:
    """(database, its newest backup, the damaged file's hash)."""
    create_qapp()
    database, backup = _app_database_with_a_backup(data_dir)
    junk_in_the_middle(database)
    return database, backup, fingerprint(database)[0]


def test_the_newest_backup_is_offered_restored_and_the_app_starts_on_it(data_dir: Path) -> None:
    database, backup, damaged = _damaged_database(data_dir)
    seen: list[str] = []
    _answer_dialogs(["Restore the newest backup and start", "OK"], seen)
    services = open_services_or_explain(AppOptions(data_dir=data_dir, console_log=False))
    assert services is not None
    services.close()
    assert str(backup) in seen[0] and "is damaged" in seen[0]
    assert seen[1].startswith(f"Restored {backup}")
    (aside,) = database.parent.glob("cts-replaced-*.sqlite3")
    assert fingerprint(aside)[0] == damaged
    assert count_logs(database, "kept") == 20_000


def test_quit_leaves_the_damaged_file_as_it_is(data_dir: Path) -> None:
    database, _backup, damaged = _damaged_database(data_dir)
    seen: list[str] = []
    _answer_dialogs(["Quit"], seen)
    assert open_services_or_explain(AppOptions(data_dir=data_dir, console_log=False)) is None
    assert fingerprint(database)[0] == damaged and not list(database.parent.glob("cts-replaced-*"))
