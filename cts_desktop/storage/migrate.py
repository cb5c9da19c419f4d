"""Applying the Alembic migrations programmatically at start, on SQLite and PostgreSQL alike (on a SQLAlchemy
engine: ``Database.migrate`` calls this, never the other way round)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_to_head(engine: Engine, schema: str | None) -> str:
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        config.attributes["schema"] = schema
        command.upgrade(config, "head")
    revision = current_revision(engine)
    assert revision is not None
    return revision


def is_known_revision(revision: str) -> bool:
    """True when this version of the app has the migration ``revision`` (a newer app's revision is unknown)."""
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except Exception:  # alembic raises its own errors for unknown or malformed ids
        return False
