"""Strategy tab: profit-factor gates, the promotion gates of Base sets, the TP/SL/trailing matrix, concurrency,
Block and DCA adjustments and the Preset grid (DOMAIN Part 1 §1–§6; Part 2 §1.3, §2.3–2.4, §4, §9.5)."""

from __future__ import annotations

from cts_desktop.domain.settings_schema.builder import TabBuilder, grid
from cts_desktop.domain.settings_schema.model import Tab

_b = TabBuilder(Tab.STRATEGY)

_b.group("Profit factor")
for _layer, _text in (
    ("main", "A Base set becomes Main when its avg_pf over its history reaches this"),
    ("real", "A Main set becomes Real when the avg_pf of its Real window reaches this"),
    ("exchange", "A Real set is mirrored to the exchange only when the avg_pf of its Exchange window reaches this"),
):
    _own = " A connection that sets its own (Connections › PF limits) uses that one." if _layer != "exchange" else ""
    _b.decimal(
        f"strategy.{_layer}_min_avg_pf", f"{_layer.capitalize()} minimum avg PF", 0.6, 0.1, 2.0, 0.1,
        help=_text + "." + _own,
    )
_b.integer(
    "strategy.max_drawdown_time_hours", "Maximum drawdown time", 12, 1, 72, 1, unit="h",
    help="A Main set becomes Real only if its positions spent on average at most this long below entry. A "
    "connection that sets its own (Connections › PF limits) uses that one.",
)

_b.group("Promotion gates")
_b.integer(
    "strategy.phase1_count", "Phase 1 checkpoint", 10, 5, 50, 1, unit="closed",
    help="Closed results after which a new Base set is judged the first time.",
)
_b.integer(
    "strategy.phase1_min_win_rate", "Phase 1 minimum win rate", 40, 0, 100, 1, unit="%",
    help="A set below this win rate at the phase 1 checkpoint fails and never opens again.",
)
_b.integer(
    "strategy.phase2_count", "Phase 2 checkpoint", 50, 20, 250, 5, unit="closed",
    help="Closed results after which a set is judged the second time.",
)
_b.integer(
    "strategy.phase2_min_win_rate", "Phase 2 minimum win rate", 45, 0, 100, 1, unit="%",
    help="At the phase 2 checkpoint a set needs this win rate to become active, else it is paused.",
)
_b.decimal(
    "strategy.phase2_min_win_loss_ratio", "Phase 2 minimum win/loss ratio", 1.2, 0.5, 5.0, 0.1,
    help="At the phase 2 checkpoint the average win ÷ average loss must also reach this.",
)
_b.integer(
    "strategy.production_pause_win_rate", "Production pause win rate", 38, 0, 100, 1, unit="%",
    help="An active set is paused when its win rate falls below this.",
)
_b.integer(
    "strategy.production_max_drawdown_pct", "Production maximum drawdown", 30, 5, 100, 1, unit="%",
    help="An active set is paused when its drawdown exceeds this.",
)
_b.integer(
    "strategy.production_resume_win_rate", "Production resume win rate", 43, 0, 100, 1, unit="%",
    help="A paused set may open again once its win rate is back at this (hysteresis above the pause rate).",
)
_b.integer(
    "strategy.main_window", "Main window", 10, 5, 100, 1, unit="closed",
    help="Closed results a set needs before it can be Main.",
)
_b.integer(
    "strategy.real_window", "Real window", 20, 5, 100, 1, unit="closed",
    help="Newest Main results whose avg_pf and drawdown time decide Real.",
)
_b.integer(
    "strategy.exchange_window", "Exchange window", 30, 5, 100, 1, unit="closed",
    help="Newest results whose avg_pf decides whether a Real set is mirrored to the exchange.",
)

_b.group("Configuration matrix")
_b.numbers(
    "strategy.tp_factors", "Take-profit factors", grid(2, 22, 2), 0.5, 50.0, 0.5, max_items=30,
    help="TP distance in position costs; one configuration set per value (× SL × trailing).",
)
_b.numbers(
    "strategy.sl_ratios", "Stop-loss ratios", grid(0.2, 2.2, 0.1), 0.1, 5.0, 0.1, max_items=50,
    help="SL distance as a fraction of the TP distance; one configuration set per value.",
)
_b.flag(
    "strategy.trailing_enabled", "Trailing variants", True,
    help="Add the trailing (start, stop) pairs below to the matrix; trailing replaces the take-profit.",
)
_b.flag(
    "strategy.trailing_only", "Trailing only", False,
    help="Test only the trailing variants, not the plain TP/SL variant.",
)
_b.numbers(
    "strategy.trailing_starts", "Trailing starts", (0.3, 0.6, 1.0), 0.1, 5.0, 0.1, max_items=10, keep_order=True,
    help="Trailing arms once the best price is start × TP distance beyond entry; pairs by position with "
    "the trailing stops.",
)
_b.numbers(
    "strategy.trailing_stops", "Trailing stops", (0.1, 0.2, 0.3), 0.05, 2.0, 0.05, max_items=10, keep_order=True,
    help="Once armed, close when price retraces stop × TP distance from the best price; pairs by position "
    "with the trailing starts.",
)

_b.group("Concurrency")
_b.integer(
    "strategy.max_positions_per_set_direction", "Max positions per set and direction", 2, 1, 5, 1,
    help="Open pseudo positions a configuration set may hold at once in one direction.",
)
_b.integer(
    "strategy.position_cooldown_ms", "Position cooldown", 1000, 50, 3000, 50, unit="ms",
    help="Minimum time between two entries of the same set and direction.",
)
_b.integer(
    "strategy.validation_timeout_s", "Validation timeout", 15, 1, 60, 1, unit="s",
    help="After an indication (symbol, type, parameters) fires, the same one is ignored for this long.",
)
_b.integer(
    "strategy.main_position_timeout_hours", "Main position timeout", 0, 0, 48, 1, unit="h",
    help="Close a Main-mode pseudo position after this long; 0 = no time stop.",
)
_b.integer(
    "strategy.preset_position_timeout_hours", "Preset position timeout", 2, 0, 48, 1, unit="h",
    help="Close a Preset-mode pseudo position after this long; 0 = no time stop.",
)

_b.group("Live risk")
_b.integer(
    "strategy.max_real_per_symbol_direction", "Max live positions per symbol and direction", 1, 1, 10, 1,
    help="Real positions (paper or live) the order manager keeps open at once for one symbol and direction.",
)
_b.integer(
    "strategy.real_cooldown_s", "Live entry cooldown", 60, 0, 3600, 10, unit="s",
    help="Minimum time between two Real entries of the same symbol and direction.",
)
_b.decimal(
    "strategy.daily_loss_limit_pct", "Daily loss kill switch", 5.0, 0.0, 50.0, 0.5, unit="%",
    help="No new Real entries while the net result of the last 24 h is a loss larger than this share of the "
    "balance; 0 switches the kill switch off.",
)
_b.decimal(
    "strategy.max_drawdown_pct", "Account drawdown guard", 0.0, 0.0, 50.0, 0.5, unit="%",
    help="No new Real entries while the account's equity (balance with unrealised PnL) is this far below its "
    "highest value since trading started; entries resume when it recovers. 0 switches the guard off.",
)
_b.integer(
    "strategy.sl_streak_count", "Stop-loss streak guard", 0, 0, 20, 1, unit="stops",
    help="After this many Real positions of one symbol closed in a row by their stop loss, that symbol takes "
    "no new entries for the pause below; 0 switches the guard off.",
)
_b.integer(
    "strategy.sl_streak_pause_min", "Stop-loss streak pause", 60, 1, 1440, 1, unit="min",
    help="How long a symbol takes no new entries after a stop-loss streak (counted from the last stop).",
)

_b.group("Block")
_b.integer(
    "strategy.block_size", "Block size", 2, 2, 10, 1, unit="positions",
    help="Positions per block.",
)
_b.decimal(
    "strategy.block_adjustment_ratio", "Block adjustment ratio", 1.0, 0.1, 3.0, 0.1,
    help="After a losing block the size factor is 1 + this ratio.",
)
_b.integer(
    "strategy.block_neutral_wait", "Block neutral wait", 0, 0, 3, 1, unit="positions",
    help="Positions to wait at factor 1 after a losing block before the adjusted block; 0 = none.",
)
_b.flag(
    "strategy.block_auto_disable", "Block auto-disable", True,
    help="Switch Block off for a set while its adjusted positions win too rarely.",
)
_b.integer(
    "strategy.block_disable_win_rate", "Block disable win rate", 25, 0, 100, 1, unit="%",
    help="Block is switched off for a set when the win rate of its adjusted positions falls below this.",
)
_b.integer(
    "strategy.block_enable_win_rate", "Block re-enable win rate", 40, 0, 100, 1, unit="%",
    help="Block is switched on again when that win rate rises above this.",
)

_b.group("DCA")
_b.integer(
    "strategy.dca_max_steps", "DCA maximum steps", 4, 1, 4, 1,
    help="Add-on entries allowed per position.",
)
_b.numbers(
    "strategy.dca_step_distances", "DCA step distances", (0.5, 1.0, 1.5, 2.0), 0.1, 10.0, 0.1, max_items=4,
    unit="%", keep_order=True, help="Adverse move from the first entry at which each add-on entry is placed, "
    "increasing; pairs by position with the step sizes.",
)
_b.numbers(
    "strategy.dca_step_sizes", "DCA step sizes", (1.5, 2.0, 2.3, 2.5), 1.0, 5.0, 0.1, max_items=4,
    unit="×", keep_order=True, help="Size of each add-on entry as a multiple of the first entry; pairs by "
    "position with the step distances.",
)

_b.group("Preset grid")
_b.flag(
    "strategy.preset_trailing_enabled", "Preset trailing", False,
    help="Add every (start, stop) combination below to the preset grid.",
)
_b.numbers(
    "strategy.preset_trailing_starts", "Preset trailing starts", (0.5, 1.0, 1.5), 0.1, 5.0, 0.1, max_items=10,
    help="Trailing starts (× TP distance) combined with every preset trailing stop.",
)
_b.numbers(
    "strategy.preset_trailing_stops", "Preset trailing stops", (0.2, 0.4, 0.6), 0.05, 2.0, 0.05, max_items=10,
    help="Trailing stops (× TP distance) combined with every preset trailing start.",
)
_b.flag("strategy.preset_block_enabled", "Preset Block", False, help="Block adjustment for Preset-mode sets.")
_b.flag("strategy.preset_dca_enabled", "Preset DCA", False, help="DCA adjustment for Preset-mode sets.")

STRATEGY_SETTINGS = _b.build()
