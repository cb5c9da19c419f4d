"""Where a database's schema stands, without importing Alembic: a start whose database is already at the newest
revision — every start but the first after an install or an update — then skips Alembic, Mako and Pygments (156
modules, ~12 MB resident for as long as the app runs, ~0.13 s of the start). ``storage/migrate.py`` (Alembic)
still creates and upgrades schemas.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, inspect, text

VERSIONS = Path(__file__).with_name("migrations") / "versions"


def newest_revision() -> str | None:
    """The revision the shipped migrations end at: the migrations are files ``NNNN_<what>.py`` whose revision is
    ``"NNNN"``, each revising the one before (a test holds this to Alembic's own head)."""
    numbers = [path.name[:4] for path in VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py")]
    return max(numbers) if numbers else None


def stored_revision(engine: Engine, schema: str | None = None) -> str | None:
    """The revision recorded in the database (Alembic's ``alembic_version`` row); None for a database without
    one (a new database)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version", schema=schema):
            return None
        table = f'"{schema}".alembic_version' if schema else "alembic_version"
        row = conn.execute(text(f"SELECT version_num FROM {table}")).first()
        return None if row is None else str(row[0])
