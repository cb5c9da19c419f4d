"""Persistence: SQLAlchemy models, migrations, repositories, batched writer, keyring secrets."""
