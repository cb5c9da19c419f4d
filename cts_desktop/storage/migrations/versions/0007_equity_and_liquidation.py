"""equity curve and liquidation price: balance snapshots say whether they are of the paper account and hold the
unrealised PnL and the equity at the snapshot; exchange positions keep the exchange's liquidation price

Revision ID: 0007
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cts_desktop.storage.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

MONEY = cts_desktop.storage.types.Money(precision=38, scale=18)


def upgrade() -> None:
    with op.batch_alter_table("balance_snapshots") as batch:
        batch.add_column(sa.Column("paper", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("unrealized_pnl", MONEY, nullable=True))
        batch.add_column(sa.Column("equity", MONEY, nullable=True))
    with op.batch_alter_table("exchange_positions") as batch:
        batch.add_column(sa.Column("liquidation_price", MONEY, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exchange_positions") as batch:
        batch.drop_column("liquidation_price")
    with op.batch_alter_table("balance_snapshots") as batch:
        batch.drop_column("equity")
        batch.drop_column("unrealized_pnl")
        batch.drop_column("paper")
