"""trading intent: the coordinator's and each connection's last commanded state per app instance (resume on start)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cts_desktop.storage.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trading_intent",
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.Column("changed_at", cts_desktop.storage.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("instance", "connection_id", name=op.f("pk_trading_intent")),
    )


def downgrade() -> None:
    op.drop_table("trading_intent")
