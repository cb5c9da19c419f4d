"""A start whose database is already at the newest revision reads where it stands without Alembic (Alembic, Mako
and Pygments stay unimported: ~12 MB for as long as the app runs); a database behind is still upgraded by Alembic,
and one ahead (a newer app's) still refused — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from cts_desktop.storage.db import Database
from cts_desktop.storage.migrate import alembic_config, current_revision, head_revision
from cts_desktop.storage.schema_head import VERSIONS, newest_revision, stored_revision

ROOT = Path(__file__).resolve().parents[3]


def test_the_newest_migration_file_is_alembics_head_and_every_file_revises_the_one_before() -> None:
    """The convention :func:`newest_revision` reads: ``NNNN_<what>.py`` holds revision "NNNN", revising NNNN - 1."""
    files = sorted(VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))
    assert files and newest_revision() == head_revision()
    previous = None
    for path in files:
        source = path.read_text()
        revision = re.search(r"^revision\s*=\s*['\"](\w+)['\"]", source, re.M)
        down = re.search(r"^down_revision\s*=\s*(None|['\"](\w+)['\"])", source, re.M)
        assert revision is not None and down is not None, path.name
        assert revision.group(1) == path.name[:4], f"{path.name}: revision {revision.group(1)}"
        assert down.group(2) == previous, f"{path.name}: revises {down.group(2)}, not {previous}"
        previous = revision.group(1)


def test_the_stored_revision_reads_as_alembic_reads_it(db: Database, tmp_path: Path) -> None:
    assert stored_revision(db.engine, db.schema) == current_revision(db.engine) == head_revision()
    empty = Database(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    try:
        assert stored_revision(empty.engine) is None and current_revision(empty.engine) is None
    finally:
        empty.dispose()


def _migrate_in_a_new_process(db: Database) -> dict[str, object]:
    """``Database.migrate`` in a fresh interpreter: the revision it returns and whether Alembic got imported."""
    spec = db.spec()
    assert spec is not None
    code = (
        "import json, sys\n"
        "from cts_desktop.storage.db import Database\n"
        f"db = Database({spec.url!r}, schema={spec.schema!r})\n"
        "revision = db.migrate()\n"
        "print(json.dumps({'revision': revision, 'created': db.created_now,\n"
        "                  'alembic': 'alembic' in sys.modules, 'mako': 'mako' in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_a_database_at_the_newest_revision_starts_without_alembic(db: Database) -> None:
    assert _migrate_in_a_new_process(db) == {"revision": head_revision(), "created": False, "alembic": False,
                                             "mako": False}


def test_a_database_behind_is_upgraded_by_alembic_and_one_ahead_is_refused(db: Database) -> None:
    config = alembic_config()
    with db.engine.begin() as conn:  # the last migration undone, as the app before it left the database
        config.attributes["connection"] = conn
        config.attributes["schema"] = db.schema
        command.downgrade(config, "-1")
    assert stored_revision(db.engine, db.schema) not in (None, head_revision())
    assert _migrate_in_a_new_process(db) == {"revision": head_revision(), "created": False, "alembic": True,
                                             "mako": True}
    assert stored_revision(db.engine, db.schema) == head_revision()
    table = f'"{db.schema}".alembic_version' if db.schema else "alembic_version"
    with db.engine.begin() as conn:  # a newer app's revision
        conn.execute(text(f"UPDATE {table} SET version_num = '9999'"))
    with pytest.raises(subprocess.CalledProcessError):
        _migrate_in_a_new_process(db)
