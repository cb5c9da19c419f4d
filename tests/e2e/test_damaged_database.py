"""The real ``cts-desktop`` process on a damaged database: headless refuses to start (status 2) with one message
naming the newest backup and the command that restores it, and does not touch the file; ``--restore-backup`` puts
the backup back (the damaged file kept aside), after which the app starts on the restored data. A restore is
refused while the app runs on the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from cts_desktop.storage.backups import BackupReason, backup_folder, make_backup
from tests.e2e.conftest import wait_for_line
from tests.helpers.damage import count_logs, fill_logs, fingerprint, junk_in_the_middle


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHON_KEYRING_BACKEND"] = "cts_desktop.storage.keyring_memory.MemoryKeyring"
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def _app(data_dir: Path, *extra: str, merged: bool = False) -> subprocess.Popen[str]:
    """The app process; ``merged``: its stderr (the console log) into stdout, for a run read line by line (a
    stderr pipe nobody reads would fill up and stop the app)."""
    return subprocess.Popen([sys.executable, "-m", "cts_desktop", "--data-dir", str(data_dir), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merged else subprocess.PIPE,
                            text=True, env=_env())


def _app_database_with_a_backup(data_dir: Path) -> tuple[Path, Path]:
    """The app's own database after a short headless run, grown by 20,000 log rows and backed up."""
    first = _app(data_dir, "--headless", "--exit-after", "2")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    database = data_dir / "data" / "cts.sqlite3"
    fill_logs(database, 20_000, tag="kept")
    return database, make_backup(database, backup_folder(data_dir / "data"), BackupReason.PERIODIC).path


def test_headless_refuses_mid_file_junk_names_the_backup_and_the_restore_brings_the_data_back(
        tmp_path: Path) -> None:
    database, backup = _app_database_with_a_backup(tmp_path)
    fill_logs(database, 1_000, tag="lost")
    junk_in_the_middle(database)
    damaged = fingerprint(database)

    app = _app(tmp_path, "--headless")
    out, err = app.communicate(timeout=120)
    assert app.returncode == 2, out + err
    assert "ready" not in out and "Traceback" not in out + err
    assert f"The database file {database} is damaged" in err
    assert f'cts-desktop --restore-backup "{backup}" --data-dir "{tmp_path}"' in err
    assert fingerprint(database) == damaged

    restore = _app(tmp_path, "--restore-backup", str(backup))
    out, err = restore.communicate(timeout=60)
    assert restore.returncode == 0, out + err
    assert f"Restored {backup}" in out and "Start CTS Desktop again" in out
    (aside,) = (tmp_path / "data").glob("cts-replaced-*.sqlite3")
    assert fingerprint(aside)[0] == damaged[0] and str(aside) in out

    again = _app(tmp_path, "--headless", "--exit-after", "2", merged=True)
    wait_for_line(again, "headless: ready", timeout=60)
    out, _ = again.communicate(timeout=60)
    assert again.returncode == 0, out
    assert count_logs(database, "kept") == 20_000 and count_logs(database, "lost") == 0


def test_restore_is_refused_while_the_app_runs_on_the_database(tmp_path: Path) -> None:
    database, backup = _app_database_with_a_backup(tmp_path)
    app = _app(tmp_path, "--headless", merged=True)
    try:
        wait_for_line(app, "headless: ready", timeout=60)
        restore = _app(tmp_path, "--restore-backup", str(backup))
        out, err = restore.communicate(timeout=60)
        assert restore.returncode == 2, out + err
        assert "not restored:" in err and "open in another CTS Desktop process" in err and f"pid {app.pid}" in err
        assert database.exists() and not list((tmp_path / "data").glob("cts-replaced-*"))
    finally:
        app.send_signal(signal.SIGTERM)
        out, _ = app.communicate(timeout=60)
    assert app.returncode == 0, out
    refused = _app(tmp_path, "--restore-backup", str(tmp_path / "no-such-backup.sqlite3"))
    out, err = refused.communicate(timeout=60)
    assert refused.returncode == 2 and "not restored:" in err and "is not a file" in err
