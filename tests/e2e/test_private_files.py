"""Private files of the real headless process: an older install's folders (0755) and files (0644) are tightened at
start, and what the run creates — database, WAL, log, backups, the control API's address — is 0600 in 0700 folders.
A PostgreSQL password given in ``--db-url`` is moved to the keyring with a warning that the command line exposed it,
and never written to the log."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.e2e.conftest import wait_for_line
from tests.integration.conftest import PG_URL


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHON_KEYRING_BACKEND="cts_desktop.storage.keyring_memory.MemoryKeyring")


def _run(data_dir: Path, *extra: str) -> str:
    proc = subprocess.Popen([sys.executable, "-m", "cts_desktop", "--headless", "--data-dir", str(data_dir), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env())
    lines = wait_for_line(proc, "headless: ready", 90)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return "".join(lines) + out


def _modes(root: Path) -> dict[str, int]:
    found = {}
    for path in [root / name for name in ("data", "config", "logs", "cache")]:
        for item in [path, *path.rglob("*")]:
            found[str(item.relative_to(root))] = stat.S_IMODE(item.lstat().st_mode)
    return found


def test_folders_are_0700_and_files_0600_also_for_an_older_install(tmp_path: Path) -> None:
    for name in ("data", "config", "logs", "cache"):
        (tmp_path / name).mkdir(mode=0o755)
        os.chmod(tmp_path / name, 0o755)
    (tmp_path / "data" / "exports").mkdir(mode=0o755)
    old = tmp_path / "data" / "exports" / "positions.csv"
    old.write_text("id,symbol\n")
    os.chmod(old, 0o644)
    os.chmod(tmp_path / "data" / "exports", 0o755)
    out = _run(tmp_path)
    assert "tightened the modes of" in out
    modes = _modes(tmp_path)
    assert "data/cts.sqlite3" in modes and "logs/cts-desktop.log" in modes and "data/exports/positions.csv" in modes
    folders = {p: m for p, m in modes.items() if (tmp_path / p).is_dir()}
    files = {p: m for p, m in modes.items() if (tmp_path / p).is_file()}
    assert folders and all(m == 0o700 for m in folders.values()), folders
    assert files and all(m == 0o600 for m in files.values()), files


@pytest.mark.postgres
def test_a_password_in_db_url_is_moved_with_a_warning_and_never_logged(tmp_path: Path, pg_schema: str) -> None:
    url = make_url(PG_URL).set(password="pw-seen-by-every-user-42").update_query_dict(
        {"options": f"-csearch_path={pg_schema}"})
    out = _run(tmp_path, "--db-url", url.render_as_string(hide_password=False))
    assert "command line" in out and "CTS_DB_PASSWORD" in out
    log_text = (tmp_path / "logs" / "cts-desktop.log").read_text()
    assert "the password given in --db-url" in log_text
    assert "pw-seen-by-every-user-42" not in log_text
