"""symbol order choices: "Market cap" and "24h trades" ranked the symbols by 24 h volume (no exchange reports
either), so they are gone; a stored one goes back to the default (24h volume, what it did). The Preset engine
interval is gone too (the Preset pipeline moves with every price): its stored value is deleted

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# frozen here: the schema module may change later, this migration must not
KEY = "overall.symbol_order_type"
REMOVED_VALUES = ('"market_cap"', '"trades_24h"')  # as stored: JSON text
REMOVED_KEYS = ("system.preset_engine_interval_ms",)


def upgrade() -> None:
    settings = sa.table("settings", sa.column("key", sa.String), sa.column("value", sa.Text))
    bind = op.get_bind()
    bind.execute(sa.delete(settings).where(settings.c.key == KEY, settings.c.value.in_(REMOVED_VALUES)))
    bind.execute(sa.delete(settings).where(settings.c.key.in_(REMOVED_KEYS)))


def downgrade() -> None:
    pass  # the old app shows the default order, which is what those choices did
