"""presets: preset types, configuration sets, links, connection assignment

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cts_desktop.storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "preset_types",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("predefined", sa.Boolean(), nullable=False),
        sa.Column("settings", cts_desktop.storage.types.JsonText(), nullable=False),
        sa.Column("created_at", cts_desktop.storage.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", cts_desktop.storage.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preset_types")),
        sa.UniqueConstraint("name", name=op.f("uq_preset_types_name")),
    )
    op.create_table(
        "preset_sets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("indication", sa.String(length=30), nullable=False),
        sa.Column("symbol", sa.String(length=60), nullable=True),
        sa.Column("definition", cts_desktop.storage.types.JsonText(), nullable=False),
        sa.Column("fixed", cts_desktop.storage.types.JsonText(), nullable=True),
        sa.Column("metrics", cts_desktop.storage.types.JsonText(), nullable=False),
        sa.Column("created_at", cts_desktop.storage.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preset_sets")),
    )
    op.create_table(
        "preset_type_sets",
        sa.Column("preset_type_id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["preset_type_id"], ["preset_types.id"],
                                name=op.f("fk_preset_type_sets_preset_type_id_preset_types"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["set_id"], ["preset_sets.id"],
                                name=op.f("fk_preset_type_sets_set_id_preset_sets"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("preset_type_id", "set_id", name=op.f("pk_preset_type_sets")),
    )
    op.create_table(
        "connection_presets",
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("preset_type_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", cts_desktop.storage.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"],
                                name=op.f("fk_connection_presets_connection_id_connections"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["preset_type_id"], ["preset_types.id"],
                                name=op.f("fk_connection_presets_preset_type_id_preset_types"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_connection_presets")),
    )


def downgrade() -> None:
    op.drop_table("connection_presets")
    op.drop_table("preset_type_sets")
    op.drop_table("preset_sets")
    op.drop_table("preset_types")
