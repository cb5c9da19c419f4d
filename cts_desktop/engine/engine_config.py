"""From the settings store's values to the parameter objects of the domain and the engine — in one place, so a
setting change reaches a running engine by rebuilding exactly these objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cts_desktop.domain.activity import ActivityGateParams
from cts_desktop.domain.book import BookParams
from cts_desktop.domain.exits import ExitParams
from cts_desktop.domain.gates import GateThresholds
from cts_desktop.domain.indications import IndicationParams, IndicationType
from cts_desktop.domain.matrix import ExitMatrix, build_matrix
from cts_desktop.domain.sizing import VolumeSettings
from cts_desktop.engine.order_types import RiskLimits
from cts_desktop.engine.status import HealthRules
from cts_desktop.exchanges.symbols import SymbolOrder, SymbolSelectionConfig

Values = Mapping[str, object]


def number(values: Values, key: str) -> float:
    """A numeric setting as float (the schema validated it)."""
    value = values[key]
    assert isinstance(value, int | float)
    return float(value)


def integer(values: Values, key: str) -> int:
    """An integer setting (the schema validated it)."""
    value = values[key]
    assert isinstance(value, int)
    return value


def _b(values: Values, key: str) -> bool:
    return bool(values[key])


def _floats(values: Values, key: str) -> tuple[float, ...]:
    value = values[key]
    assert isinstance(value, tuple | list)
    return tuple(float(v) for v in value)


def pc(values: Values) -> float:
    """Position cost as a fraction of price (the setting is in percent)."""
    return number(values, "overall.position_cost") / 100.0


def _span(values: Values, prefix: str, step: float = 1.0) -> tuple[float, ...]:
    low, high = number(values, f"{prefix}_min"), number(values, f"{prefix}_max")
    count = round((high - low) / step) + 1
    return tuple(round(low + k * step, 6) for k in range(max(count, 0)))


def indication_params(values: Values) -> IndicationParams:
    types = {
        kind for kind in IndicationType if _b(values, f"indications.{kind.value}.enabled")
    }
    ranges = sorted(
        {int(r) for kind in ("direction", "move") if _b(values, f"indications.{kind}.enabled")
         for r in _span(values, f"indications.{kind}.range")}
        | ({int(r) for r in _span(values, "indications.optimal.range")} if _b(values, "indications.optimal.enabled")
           else set())
    )
    own = tuple((IndicationType(kind), tuple(int(r) for r in _span(values, f"indications.{kind}.range")))
                for kind in ("direction", "move", "optimal") if _b(values, f"indications.{kind}.enabled"))
    return IndicationParams(
        pc=pc(values),
        ranges=tuple(ranges) or (3,),
        type_ranges=own,
        drawdowns=_span(values, "indications.optimal.drawdown_ratio", 0.1),
        market_changes=tuple(int(v) for v in _span(values, "indications.optimal.market_change", 2.0)),
        last_part_ratios=_span(values, "indications.optimal.last_part_ratio", 0.5),
        last_part_fraction=number(values, "indications.last_part_pct") / 100.0,
        min_calc_time_s=number(values, "indications.min_calculation_time_s"),
        active_ranges=tuple(int(v) for v in _span(values, "indications.active.range")),
        activity_shares=tuple(round(v / 100.0, 2) for v in _span(values, "indications.active.calculated_pct", 10)),
        activity_last_shares=tuple(round(v / 100.0, 2) for v in _span(values, "indications.active.last_part_pct", 10)),
        activity_window_s=integer(values, "indications.activity.calculation_range_s"),
        validation_timeout_s=number(values, "strategy.validation_timeout_s"),
        types=frozenset(types),
    )


def activity_params(values: Values) -> ActivityGateParams:
    return ActivityGateParams(
        pc=pc(values),
        enabled=_b(values, "indications.activity.enabled"),
        calc_range_s=integer(values, "indications.activity.calculation_range_s"),
        pc_ratio_index=integer(values, "indications.activity.pc_ratio_index"),
        min_price_change=number(values, "indications.activity.min_price_change_pct") / 100.0,
        min_volatility=number(values, "indications.activity.min_volatility_pct") / 100.0,
        activation=number(values, "indications.activity.activation_pct") / 100.0,
        deactivation=number(values, "indications.activity.deactivation_pct") / 100.0,
    )


def exit_matrix(values: Values) -> ExitMatrix:
    trailing: list[tuple[float, float] | None] = []
    if not (_b(values, "strategy.trailing_enabled") and _b(values, "strategy.trailing_only")):
        trailing.append(None)
    if _b(values, "strategy.trailing_enabled"):
        trailing += list(zip(_floats(values, "strategy.trailing_starts"), _floats(values, "strategy.trailing_stops"),
                             strict=True))
    return build_matrix(_floats(values, "strategy.tp_factors"), _floats(values, "strategy.sl_ratios"), trailing)


def book_params(values: Values) -> BookParams:
    timeout_h = number(values, "strategy.main_position_timeout_hours")
    return BookParams(
        exit=ExitParams(pc=pc(values), fee=number(values, "overall.default_taker_fee") / 100.0,
                        timeout_s=timeout_h * 3600.0),
        max_open=integer(values, "strategy.max_positions_per_set_direction"),
        history=integer(values, "system.position_length"),
        trim_threshold=number(values, "system.position_threshold_pct") / 100.0,
        cooldown_s=number(values, "strategy.position_cooldown_ms") / 1000.0,
    )


def gate_thresholds(values: Values, connection_pf: Mapping[str, float] | None = None) -> GateThresholds:
    """Per-connection PF limits (Part 2 §9.7) override the global ones where the connection sets them."""
    pf = dict(connection_pf or {})
    return GateThresholds(
        phase1_count=integer(values, "strategy.phase1_count"),
        phase1_min_win_rate=number(values, "strategy.phase1_min_win_rate") / 100.0,
        phase2_count=integer(values, "strategy.phase2_count"),
        phase2_min_win_rate=number(values, "strategy.phase2_min_win_rate") / 100.0,
        phase2_min_win_loss=number(values, "strategy.phase2_min_win_loss_ratio"),
        pause_below_win_rate=number(values, "strategy.production_pause_win_rate") / 100.0,
        pause_above_drawdown=number(values, "strategy.production_max_drawdown_pct") / 100.0,
        resume_win_rate=number(values, "strategy.production_resume_win_rate") / 100.0,
        main_min_avg_pf=pf.get("main", number(values, "strategy.main_min_avg_pf")),
        main_min_closed=integer(values, "strategy.main_window"),
        real_window=integer(values, "strategy.real_window"),
        real_min_avg_pf=pf.get("real", number(values, "strategy.real_min_avg_pf")),
        real_max_time_in_drawdown_s=pf.get("drawdown_hours", number(values, "strategy.max_drawdown_time_hours")) * 3600,
        exchange_window=integer(values, "strategy.exchange_window"),
        exchange_min_avg_pf=number(values, "strategy.exchange_min_avg_pf"),
    )


def risk_limits(values: Values, exchange_id: str, connection_volume_factor: float) -> RiskLimits:
    key = f"exchange.max_positions.{exchange_id}"
    max_open = integer(values, key if key in values else "exchange.max_positions.other")
    return RiskLimits(
        max_open_exchange=max_open,
        max_per_symbol_direction=integer(values, "strategy.max_real_per_symbol_direction"),
        cooldown_s=number(values, "strategy.real_cooldown_s"),
        daily_loss_limit_pct=number(values, "strategy.daily_loss_limit_pct"),
        max_drawdown_pct=number(values, "strategy.max_drawdown_pct"),
        sl_streak_count=integer(values, "strategy.sl_streak_count"),
        sl_streak_pause_s=number(values, "strategy.sl_streak_pause_min") * 60.0,
        volume=VolumeSettings(
            base_volume_factor=number(values, "overall.base_volume_factor"),
            connection_volume_factor=connection_volume_factor,
            positions_average=integer(values, "overall.positions_average"),
            risk_percent=number(values, "overall.loss_trigger_pct"),
            use_max_leverage=_b(values, "overall.use_max_leverage"),
            leverage_percent=number(values, "overall.leverage_pct"),
            max_leverage=number(values, "overall.max_leverage"),
            min_volume_enforcement=_b(values, "overall.min_volume_enforcement"),
        ),
    )


def health_rules(values: Values) -> HealthRules:
    return HealthRules(
        degraded_success_pct=number(values, "monitoring.degraded_success_pct"),
        unhealthy_success_pct=number(values, "monitoring.unhealthy_success_pct"),
        degraded_cycle_factor=number(values, "monitoring.degraded_cycle_factor"),
        unhealthy_cycle_factor=number(values, "monitoring.unhealthy_cycle_factor"),
    )


@dataclass(frozen=True, slots=True)
class SupervisorPolicy:
    enabled: bool
    unhealthy_checks: int
    cooldown_s: float
    max_attempts: int
    window_s: float
    check_interval_s: float


def supervisor_policy(values: Values) -> SupervisorPolicy:
    return SupervisorPolicy(
        enabled=_b(values, "monitoring.auto_restart"),
        unhealthy_checks=integer(values, "monitoring.unhealthy_checks_before_restart"),
        cooldown_s=number(values, "monitoring.restart_cooldown_min") * 60.0,
        max_attempts=integer(values, "monitoring.max_restart_attempts"),
        window_s=number(values, "monitoring.restart_window_hours") * 3600.0,
        check_interval_s=number(values, "monitoring.health_check_interval_s"),
    )



SYMBOL_ORDERS = {"volume_24h": SymbolOrder.VOLUME_24H, "price_change_24h": SymbolOrder.CHANGE_24H,
                 "volatility": SymbolOrder.VOLATILITY, "alphabetical": SymbolOrder.ALPHABETICAL}


def symbol_selection(v: Mapping[str, object], connection_uses_main: bool = False) -> SymbolSelectionConfig:
    """Which symbols an engine trades (overall.* settings; the connection may ask for the main symbols)."""
    main = v["overall.main_symbols"]
    forced = v["overall.forced_symbols"]
    assert isinstance(main, tuple | list) and isinstance(forced, tuple | list)
    return SymbolSelectionConfig(
        quote=str(v["overall.quote_asset"]),
        order=SYMBOL_ORDERS[str(v["overall.symbol_order_type"])],  # every choice of the schema has its order
        count=integer(v, "overall.symbol_count"),
        forced=tuple(str(s) for s in forced),
        main=tuple(str(s) for s in main),
        use_main_symbols=bool(v["overall.use_main_symbols"]) or connection_uses_main,
        volatility_period_ms=int(number(v, "system.volatility_period_hours") * 3_600_000),
        update_interval_s=number(v, "system.symbol_update_interval_min") * 60.0,
    )
