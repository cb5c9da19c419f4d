"""Alembic environment: runs on the connection handed over by ``storage/migrate.py`` (no alembic.ini, no URL)."""

from __future__ import annotations

from alembic import context

from cts_desktop.storage import models_intent as models_intent  # its table, for autogenerate
from cts_desktop.storage.models import Base

connection = context.config.attributes["connection"]
schema = context.config.attributes.get("schema")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    version_table_schema=schema,
)
with context.begin_transaction():
    context.run_migrations()
