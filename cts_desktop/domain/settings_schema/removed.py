"""Settings that were removed because nothing did what their label promised (issue 16), with the reason.

A stored value of one of them is deleted by migration 0006 (0008 for the Preset engine interval); a settings export
that still carries one is imported without it, and the import says which were ignored (an unknown key that was never
a setting is still refused).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_PER_CONNECTION = "each connection has its own value (Connections tab and Dashboard card); it is the one used"
_COMMON = ("the common indicators' parameters are chosen per configuration set in the Strategies tab (its from/to/"
           "step grid); these single values were never used")
_PRESET_GRID = "Preset sets take their TP/SL grid from their configuration set in the Strategies tab"
_NEVER_READ = "nothing in the app ever read it"

_REASONS: dict[str, str] = {
    "exchange.live_volume_factor": _PER_CONNECTION,
    "exchange.preset_volume_factor": _PER_CONNECTION,
    "exchange.default_margin_type": _PER_CONNECTION,
    "exchange.default_position_mode": _PER_CONNECTION,
    "exchange.rate_limit_delay_ms": "rate limits are per connection (Connections tab › Rate limits)",
    "exchange.min_connect_interval_ms": "rate limits are per connection (Connections tab › Rate limits)",
    "exchange.max_concurrent_connections": "rate limits are per connection (Connections tab › Rate limits)",
    "system.main_engine_interval_ms": "the Main pipeline moves on every price; nothing ran on this interval",
    "system.preset_indication_interval_s": _NEVER_READ,
    "system.preset_real_interval_s": _NEVER_READ,
    "system.preset_engine_interval_ms": "the Preset pipeline moves its pseudo positions with every price; the "
                                        "interval only paced its wait while no price came",
    "system.max_concurrent_operations": _NEVER_READ,
    "system.indication_state_retention_hours": "no indication states are stored, so none were deleted by it",
    "monitoring.metrics_interval_s": _NEVER_READ,
    "strategy.base_min_avg_pf": "Base sets are judged by the promotion gates (phase 1 and 2), not by this minimum",
    "strategy.preset_min_gross_pf": "each preset type has its own PF minimum (Strategies tab)",
    "strategy.preset_max_drawdown_time_hours": "each preset type has its own limits (Strategies tab)",
    "strategy.block_enabled": "Main-mode sets have no Block adjustment; Preset Block is the switch that works",
    "strategy.dca_enabled": "Main-mode sets have no DCA adjustment; Preset DCA is the switch that works",
    "strategy.preset_tp_min": _PRESET_GRID,
    "strategy.preset_tp_max": _PRESET_GRID,
    "strategy.preset_tp_step": _PRESET_GRID,
    "strategy.preset_sl_min": _PRESET_GRID,
    "strategy.preset_sl_max": _PRESET_GRID,
    "strategy.preset_sl_step": _PRESET_GRID,
    "indications.activity.check_interval_s": _NEVER_READ,
    "indications.common.side_threshold": _COMMON,
    "indications.common.min_combined_strength": _COMMON,
    **{f"indications.{kind}.interval_ms": _NEVER_READ
       for kind in ("direction", "move", "active", "optimal")},
    **{f"indications.{name}": _COMMON for name in (
        "rsi.enabled", "rsi.period", "rsi.oversold", "rsi.overbought",
        "macd.enabled", "macd.fast", "macd.slow", "macd.signal",
        "bollinger.enabled", "bollinger.period", "bollinger.std_dev",
        "ema.enabled", "ema.short", "ema.long", "sma.enabled", "sma.short", "sma.long",
        "stochastic.enabled", "stochastic.k", "stochastic.d", "stochastic.slowing", "stochastic.oversold",
        "stochastic.overbought", "adx.enabled", "adx.period", "adx.threshold",
        "atr.enabled", "atr.period", "atr.multiplier", "sar.enabled", "sar.acceleration", "sar.maximum",
    )},
}

REMOVED_SETTINGS: Mapping[str, str] = MappingProxyType(_REASONS)  # key → why it went

# choices of a kept setting that went (migration 0008 resets a stored one to the default): (key, value) → why
REMOVED_CHOICES: Mapping[tuple[str, str], str] = MappingProxyType({
    ("overall.symbol_order_type", "market_cap"): "exchanges report no market cap; the symbols were ranked by volume",
    ("overall.symbol_order_type", "trades_24h"): "exchanges report no 24 h trade count; the symbols were ranked by "
                                                 "volume",
})
