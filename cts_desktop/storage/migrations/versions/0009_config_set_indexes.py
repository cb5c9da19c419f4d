"""config_sets indexes that no query needed: ``ix_config_sets_layer`` (nothing looks sets up by layer) and
``ix_config_sets_conn_symbol_status`` (only the Dashboard counts sets by status, over all connections and symbols)
are dropped; the count reads ``ix_config_sets_status`` instead, a third of the size. Together they were a tenth of
the database at eight symbols (issue 18). Sets are still found by their identity through the unique constraint.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("config_sets") as batch_op:
        batch_op.drop_index("ix_config_sets_layer")
        batch_op.drop_index("ix_config_sets_conn_symbol_status")
        batch_op.create_index("ix_config_sets_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("config_sets") as batch_op:
        batch_op.drop_index("ix_config_sets_status")
        batch_op.create_index("ix_config_sets_conn_symbol_status", ["connection_id", "symbol", "status"],
                              unique=False)
        batch_op.create_index("ix_config_sets_layer", ["connection_id", "layer"], unique=False)
