"""removed settings: delete the stored values of the settings that did nothing (issue 16), and the per-connection
options no engine read, from each connection's settings document; a connection's gate limits left at the old
defaults follow Settings › Strategy from now on

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# frozen here: the schema module may change later, this migration must not
REMOVED_KEYS = (
    "exchange.default_margin_type",
    "exchange.default_position_mode",
    "exchange.live_volume_factor",
    "exchange.max_concurrent_connections",
    "exchange.min_connect_interval_ms",
    "exchange.preset_volume_factor",
    "exchange.rate_limit_delay_ms",
    "indications.active.interval_ms",
    "indications.activity.check_interval_s",
    "indications.adx.enabled",
    "indications.adx.period",
    "indications.adx.threshold",
    "indications.atr.enabled",
    "indications.atr.multiplier",
    "indications.atr.period",
    "indications.bollinger.enabled",
    "indications.bollinger.period",
    "indications.bollinger.std_dev",
    "indications.common.min_combined_strength",
    "indications.common.side_threshold",
    "indications.direction.interval_ms",
    "indications.ema.enabled",
    "indications.ema.long",
    "indications.ema.short",
    "indications.macd.enabled",
    "indications.macd.fast",
    "indications.macd.signal",
    "indications.macd.slow",
    "indications.move.interval_ms",
    "indications.optimal.interval_ms",
    "indications.rsi.enabled",
    "indications.rsi.overbought",
    "indications.rsi.oversold",
    "indications.rsi.period",
    "indications.sar.acceleration",
    "indications.sar.enabled",
    "indications.sar.maximum",
    "indications.sma.enabled",
    "indications.sma.long",
    "indications.sma.short",
    "indications.stochastic.d",
    "indications.stochastic.enabled",
    "indications.stochastic.k",
    "indications.stochastic.overbought",
    "indications.stochastic.oversold",
    "indications.stochastic.slowing",
    "monitoring.metrics_interval_s",
    "strategy.base_min_avg_pf",
    "strategy.block_enabled",
    "strategy.dca_enabled",
    "strategy.preset_max_drawdown_time_hours",
    "strategy.preset_min_gross_pf",
    "strategy.preset_sl_max",
    "strategy.preset_sl_min",
    "strategy.preset_sl_step",
    "strategy.preset_tp_max",
    "strategy.preset_tp_min",
    "strategy.preset_tp_step",
    "system.indication_state_retention_hours",
    "system.main_engine_interval_ms",
    "system.max_concurrent_operations",
    "system.preset_indication_interval_s",
    "system.preset_real_interval_s",
)
# the connection's gate limits became optional (unset: Settings › Strategy): a stored old default is unset
OLD_DEFAULTS = {"live_pf_min_main": 0.6, "live_pf_min_real": 0.6, "max_drawdown_hours": 12.0}
REMOVED_CONNECTION_OPTIONS = (
    "live_pf_min_base",
    "preset_pf_min_base",
    "preset_pf_min_main",
    "preset_pf_min_real",
    "trailing",
    "trailing_only",
    "block",
    "block_only",
    "dca",
    "dca_only",
    "symbol_order",
    "symbol_count",
)


def upgrade() -> None:
    bind = op.get_bind()
    settings = sa.table("settings", sa.column("key", sa.String))
    bind.execute(sa.delete(settings).where(settings.c.key.in_(REMOVED_KEYS)))
    connections = sa.table("connections", sa.column("id", sa.String), sa.column("settings", sa.Text))
    for row_id, text in bind.execute(sa.select(connections.c.id, connections.c.settings)).all():
        try:
            document = json.loads(text) if text else {}
        except ValueError:
            continue
        if not isinstance(document, dict):
            continue
        kept = {k: v for k, v in document.items() if k not in REMOVED_CONNECTION_OPTIONS
                and not (k in OLD_DEFAULTS and v == OLD_DEFAULTS[k])}
        if kept == document:
            continue
        bind.execute(sa.update(connections).where(connections.c.id == row_id).values(
            settings=json.dumps(kept, separators=(",", ":"), sort_keys=True)))


def downgrade() -> None:
    pass  # the values are gone; the old app shows the removed settings at their defaults
