"""Databases for integration tests: a fresh SQLite file, and a fresh schema on the PostgreSQL server.

The PostgreSQL URL comes from ``CTS_TEST_PG_URL`` (default: the machine's server, user postgres, database test).
When no server answers, the Postgres tests skip with the reason — unless ``CTS_REQUIRE_POSTGRES=1`` (set by
``.ci/run``), where a missing server fails the run instead of hiding the tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from cts_desktop.storage.db import Database, sqlite_url

PG_URL = os.environ.get("CTS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_problem() -> str | None:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure means: no usable server
        return f"no PostgreSQL server answers at {Database(PG_URL).display_url}: {type(exc).__name__}"
    return None


_PG_PROBLEM: str | bool | None = False


def postgres_problem() -> str | None:
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _postgres_problem()
    return _PG_PROBLEM  # type: ignore[return-value]


def require_postgres() -> None:
    problem = postgres_problem()
    if problem is None:
        return
    if os.environ.get("CTS_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"CTS_REQUIRE_POSTGRES=1 but {problem}")
    pytest.skip(problem)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh, empty schema on the PostgreSQL server, dropped afterwards."""
    require_postgres()
    schema = f"cts_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def make_sqlite(tmp_path: Path) -> Database:
    return Database(sqlite_url(tmp_path / "cts.sqlite3"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database of each kind."""
    if request.param == "sqlite":
        database = make_sqlite(tmp_path)
    else:
        schema = request.getfixturevalue("pg_schema")
        database = Database(PG_URL, schema=schema)
    database.migrate()
    try:
        yield database
    finally:
        database.dispose()
