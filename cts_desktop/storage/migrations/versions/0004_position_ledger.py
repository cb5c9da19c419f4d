"""position ledger: fill and funding allocations per Real position, reconciliation adjustments, fills' exchange
order ids, funding payments keyed by the exchange's id (hedge mode pays both sides at one time)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cts_desktop.storage.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Money = cts_desktop.storage.types.Money
UtcDateTime = cts_desktop.storage.types.UtcDateTime


def upgrade() -> None:
    with op.batch_alter_table("real_positions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("open_quantity", Money(precision=38, scale=18), server_default="0",
                                      nullable=False))
        batch_op.add_column(sa.Column("origin", sa.String(length=10), server_default="engine", nullable=False))
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.add_column(sa.Column("exchange_order_id", sa.String(length=80), nullable=True))
        batch_op.create_index(batch_op.f("ix_fills_exchange_order_id"), ["exchange_order_id"], unique=False)
    with op.batch_alter_table("funding_payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("exchange_id", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("side", sa.String(length=5), server_default="", nullable=False))
    op.execute("UPDATE funding_payments SET exchange_id = 'legacy-' || id WHERE exchange_id IS NULL")
    with op.batch_alter_table("funding_payments", schema=None) as batch_op:
        batch_op.alter_column("exchange_id", existing_type=sa.String(length=120), nullable=False)
        batch_op.drop_constraint("uq_funding_payments_connection_id_symbol_ts", type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_funding_payments_connection_id_exchange_id"),
                                          ["connection_id", "exchange_id"])
        batch_op.create_index("ix_funding_payments_conn_ts", ["connection_id", "symbol", "ts"], unique=False)
    op.create_table(
        "fill_allocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fill_id", sa.Integer(), nullable=False),
        sa.Column("real_position_id", sa.Integer(), nullable=False),
        sa.Column("quantity", Money(precision=38, scale=18), nullable=False),
        sa.Column("fee", Money(precision=38, scale=18), nullable=False),
        sa.Column("opening", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["fill_id"], ["fills.id"], name=op.f("fk_fill_allocations_fill_id_fills"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["real_position_id"], ["real_positions.id"],
                                name=op.f("fk_fill_allocations_real_position_id_real_positions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fill_allocations")),
        sa.UniqueConstraint("fill_id", "real_position_id", name=op.f("uq_fill_allocations_fill_id_real_position_id")),
    )
    with op.batch_alter_table("fill_allocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fill_allocations_fill_id"), ["fill_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_fill_allocations_real_position_id"), ["real_position_id"], unique=False)
    op.create_table(
        "position_adjustments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("real_position_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=60), nullable=False),
        sa.Column("side", sa.String(length=5), nullable=False),
        sa.Column("quantity", Money(precision=38, scale=18), nullable=False),
        sa.Column("db_quantity", Money(precision=38, scale=18), nullable=False),
        sa.Column("exchange_quantity", Money(precision=38, scale=18), nullable=False),
        sa.Column("fill_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ts", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"],
                                name=op.f("fk_position_adjustments_connection_id_connections"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["real_position_id"], ["real_positions.id"],
                                name=op.f("fk_position_adjustments_real_position_id_real_positions"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["fill_id"], ["fills.id"], name=op.f("fk_position_adjustments_fill_id_fills"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_position_adjustments")),
    )
    with op.batch_alter_table("position_adjustments", schema=None) as batch_op:
        batch_op.create_index("ix_position_adjustments_conn_ts", ["connection_id", "ts"], unique=False)
        batch_op.create_index(batch_op.f("ix_position_adjustments_real_position_id"), ["real_position_id"],
                              unique=False)
    op.create_table(
        "funding_allocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("funding_payment_id", sa.Integer(), nullable=False),
        sa.Column("real_position_id", sa.Integer(), nullable=False),
        sa.Column("amount", Money(precision=38, scale=18), nullable=False),
        sa.ForeignKeyConstraint(["funding_payment_id"], ["funding_payments.id"],
                                name=op.f("fk_funding_allocations_funding_payment_id_funding_payments"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["real_position_id"], ["real_positions.id"],
                                name=op.f("fk_funding_allocations_real_position_id_real_positions"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_allocations")),
        sa.UniqueConstraint("funding_payment_id", "real_position_id",
                            name=op.f("uq_funding_allocations_funding_payment_id_real_position_id")),
    )
    with op.batch_alter_table("funding_allocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_funding_allocations_funding_payment_id"), ["funding_payment_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_funding_allocations_real_position_id"), ["real_position_id"],
                              unique=False)


def downgrade() -> None:
    op.drop_table("funding_allocations")
    op.drop_table("position_adjustments")
    op.drop_table("fill_allocations")
    with op.batch_alter_table("funding_payments", schema=None) as batch_op:
        batch_op.drop_index("ix_funding_payments_conn_ts")
        batch_op.drop_constraint("uq_funding_payments_connection_id_exchange_id", type_="unique")
        batch_op.create_unique_constraint("uq_funding_payments_connection_id_symbol_ts",
                                          ["connection_id", "symbol", "ts"])
        batch_op.drop_column("side")
        batch_op.drop_column("exchange_id")
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fills_exchange_order_id"))
        batch_op.drop_column("exchange_order_id")
    with op.batch_alter_table("real_positions", schema=None) as batch_op:
        batch_op.drop_column("origin")
        batch_op.drop_column("open_quantity")
