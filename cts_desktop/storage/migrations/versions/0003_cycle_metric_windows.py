"""cycle metrics: one row per loop and persist window (cycle and error counts, slowest cycle)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cycle_metrics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cycles", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("errors", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("max_ms", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cycle_metrics", schema=None) as batch_op:
        batch_op.drop_column("max_ms")
        batch_op.drop_column("errors")
        batch_op.drop_column("cycles")
