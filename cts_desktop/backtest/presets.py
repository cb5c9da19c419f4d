"""Preset types and configuration sets (DOMAIN Part 2 §5.1–5.2) as plain data, and the five predefined presets.

A *preset type* is a named trading profile a connection is assigned to; it links configuration sets by priority.
A *configuration set* is one indication with the ranges to sweep (parameters × TP × SL × trailing) plus the rules
that make a result valid. Sets saved from auto-optimal hold one chosen parameter tuple and exit configuration
(``fixed``), so the Preset engine can trade exactly what was backtested.

The five predefined presets of the original (Conservative, Balanced, Aggressive, Scalping, Swing) are kept with
their ranges, TP/SL values and limits. Their "min PF" values (0.4–0.6) only make sense as the mean per-position
result in pc units (Part 2 §1.2), so they are ``min_avg_pf`` here; validity still needs gross PF ≥
``pf_min`` (default 1.0, Part 1 §2).

Block and DCA (:mod:`cts_desktop.domain.adjust`) are further axes of a set's grid: with ``block`` on, every cell is
tried without and with the set's Block parameters (only with them when ``block_only``); likewise ``dca``. So
"Balanced" (Block on) doubles its grid, "Aggressive" and "Swing" (Block and DCA) quadruple it. A set's Block/DCA
parameters default to the Settings defaults; :func:`with_adjust_params` puts the user's current Settings values
into sets that have ranges (the Preset engine and "Backtest preset" do that before running a grid), while a fixed
set keeps the parameters it was chosen with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from cts_desktop.backtest.signals import INDICATIONS
from cts_desktop.domain.adjust import Adjust, BlockParams, DcaParams
from cts_desktop.domain.exits import ExitParams
from cts_desktop.domain.matrix import ExitMatrix, build_matrix

Trailing = tuple[float, float]


@dataclass(frozen=True, slots=True)
class ConfigurationSetDef:
    """One indication with the ranges to sweep and the validity rules of Part 2 §5.2."""

    name: str
    indication: str
    param_values: tuple[tuple[float, ...], ...]  # one tuple of candidate values per indication parameter
    tp_values: tuple[float, ...] = (2.0, 4.0, 6.0, 8.0, 10.0, 12.0)
    sl_values: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4)
    trailing: tuple[Trailing, ...] = ()  # (start, stop) variants added to "trailing off"
    trailing_only: bool = False
    directions: tuple[int, ...] = (1, -1)
    range_days: int = 7
    trades_per_48h_min: float = 5.0
    pf_min: float = 1.0  # gross PF
    min_avg_pf: float | None = None  # legacy presets' "min PF" (pc units)
    drawdown_time_max_h: float = 12.0
    eval_count_1: int = 25
    eval_count_2: int = 50
    positions_per_set: int = 250
    threshold_pct: int = 20
    block: bool = False
    dca: bool = False
    active: bool = True
    fixed: bool = False  # saved from auto-optimal: one parameter tuple and one exit configuration
    block_only: bool = False
    dca_only: bool = False
    block_params: BlockParams = field(default_factory=BlockParams)
    dca_params: DcaParams = field(default_factory=DcaParams)

    def __post_init__(self) -> None:
        specs = INDICATIONS.get(self.indication)
        if specs is None:
            raise ValueError(f"unknown indication {self.indication!r}")
        if len(self.param_values) != len(specs):
            raise ValueError(f"{self.indication} needs values for {len(specs)} parameters")
        if not self.tp_values or not self.sl_values or any(not v for v in self.param_values):
            raise ValueError("every axis needs at least one value")

    def param_grid(self) -> list[tuple[float, ...]]:
        out: list[tuple[float, ...]] = [()]
        for values in self.param_values:
            out = [(*p, float(v)) for p in out for v in values]
        return out

    def matrix(self) -> ExitMatrix:
        variants: list[Trailing | None] = [] if self.trailing_only and self.trailing else [None]
        variants += list(self.trailing)
        return build_matrix(self.tp_values, self.sl_values, variants)

    def adjust_variants(self) -> list[Adjust]:
        """The Block × DCA axis of the grid (one plain variant when both are off)."""
        blocks: list[BlockParams | None] = [None]
        if self.block:
            blocks = [self.block_params] if self.block_only else [None, self.block_params]
        dcas: list[DcaParams | None] = [None]
        if self.dca:
            dcas = [self.dca_params] if self.dca_only else [None, self.dca_params]
        return [Adjust(b, d) for b in blocks for d in dcas]

    def size(self) -> int:
        return len(self.param_grid()) * len(self.matrix()) * len(self.directions) * len(self.adjust_variants())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConfigurationSetDef:
        d = dict(data)
        d["param_values"] = tuple(tuple(float(x) for x in v) for v in d["param_values"])
        for key in ("tp_values", "sl_values", "directions"):
            d[key] = tuple(d[key])
        d["trailing"] = tuple(tuple(v) for v in d.get("trailing", ()))
        if isinstance(d.get("block_params"), dict):
            d["block_params"] = BlockParams(**d["block_params"])
        if isinstance(d.get("dca_params"), dict):
            dp = d["dca_params"]
            d["dca_params"] = DcaParams(tuple(float(x) for x in dp["distances"]),
                                        tuple(float(x) for x in dp["sizes"]), int(dp["max_steps"]))
        return cls(**d)


def exit_params_from(values: dict[str, object]) -> ExitParams:
    """pc, taker fee and the Preset position timeout from the settings (backtests and the Preset engine)."""
    pc = float(values["overall.position_cost"]) / 100.0  # type: ignore[arg-type]
    fee = float(values["overall.default_taker_fee"]) / 100.0  # type: ignore[arg-type]
    timeout_h = float(values["strategy.preset_position_timeout_hours"])  # type: ignore[arg-type]
    return ExitParams(pc=pc, fee=fee, timeout_s=timeout_h * 3600.0)


def adjust_params_from(values: dict[str, object]) -> tuple[BlockParams, DcaParams]:
    """Block and DCA parameters from the settings (Settings › Strategy › Block / DCA)."""

    def num(key: str) -> float:
        return float(values[key])  # type: ignore[arg-type]

    block = BlockParams(
        size=int(num("strategy.block_size")), ratio=num("strategy.block_adjustment_ratio"),
        neutral_wait=int(num("strategy.block_neutral_wait")), auto_disable=bool(values["strategy.block_auto_disable"]),
        disable_win_rate=num("strategy.block_disable_win_rate"), enable_win_rate=num("strategy.block_enable_win_rate"),
    )
    distances = tuple(float(x) for x in values["strategy.dca_step_distances"])  # type: ignore[attr-defined]
    sizes = tuple(float(x) for x in values["strategy.dca_step_sizes"])  # type: ignore[attr-defined]
    steps = min(int(num("strategy.dca_max_steps")), len(distances), len(sizes))
    return block, DcaParams(distances, sizes, steps)


def with_adjust_params(definition: ConfigurationSetDef, block: BlockParams, dca: DcaParams) -> ConfigurationSetDef:
    """A set with ranges takes the current Block/DCA parameters; a fixed set keeps the ones it was chosen with."""
    if definition.fixed:
        return definition
    return replace(definition, block_params=block, dca_params=dca)


@dataclass(frozen=True, slots=True)
class PresetTypeDef:
    """A trading profile assigned to connections (Part 2 §5.1; UI defaults)."""

    name: str
    description: str = ""
    trade_type: str = "standard"
    max_positions_per_indication: int = 10
    max_positions_per_direction: int = 5
    max_positions_per_range: int = 3
    timeout_per_indication_s: int = 60
    timeout_after_position_s: int = 300
    trailing: bool = True
    trailing_only: bool = False
    block: bool = False
    block_only: bool = False
    dca: bool = False
    dca_only: bool = False
    auto_evaluate: bool = True
    evaluation_interval_h: int = 24
    max_drawdown_pct: float = 30.0
    backtest_days: int = 14
    predefined: bool = False
    sets: tuple[ConfigurationSetDef, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("sets")
        return d


def _steps(lo: float, hi: float, step: float) -> tuple[float, ...]:
    n = round((hi - lo) / step) + 1
    return tuple(round(lo + i * step, 10) for i in range(n))


def _legacy(
    name: str, description: str, kinds: tuple[str, ...], ranges: tuple[float, ...], tp: tuple[float, ...],
    sl: tuple[float, ...], min_avg_pf: float, max_dd: float, days: int, block: bool = False, dca: bool = False,
) -> PresetTypeDef:
    sets = []
    for kind in kinds:
        if kind == "active":  # Active's parameter is the activity ratio index 1–10, not a step range
            params: tuple[tuple[float, ...], ...] = ((1.0, 3.0, 5.0), (0.5,), (0.5,))
        else:
            params = (ranges,)
        sets.append(ConfigurationSetDef(
            name=f"{name} {kind}", indication=kind, param_values=params, tp_values=tp, sl_values=sl,
            range_days=days, min_avg_pf=min_avg_pf, block=block, dca=dca,
        ))
    return PresetTypeDef(
        name=name, description=description, block=block, dca=dca, max_drawdown_pct=max_dd, backtest_days=days,
        predefined=True, sets=tuple(sets),
    )


PREDEFINED: tuple[PresetTypeDef, ...] = (
    _legacy("Conservative", "Direction and Move on mid ranges, small TP, tight SL.", ("direction", "move"),
            (5.0, 8.0, 12.0, 15.0), (2.0, 3.0, 4.0), (0.4, 0.6, 0.8), 0.6, 30.0, 14),
    _legacy("Balanced", "Three indication types, ranges 3–20, TP 2–6, Block on.", ("direction", "move", "active"),
            _steps(3, 20, 1), _steps(2, 6, 1), _steps(0.4, 1.0, 0.2), 0.5, 40.0, 21, block=True),
    _legacy("Aggressive", "Wide ranges and targets, Block and DCA.", ("direction", "move", "active"),
            _steps(3, 30, 1), _steps(3, 12, 1), _steps(0.6, 1.5, 0.3), 0.4, 50.0, 30, block=True, dca=True),
    _legacy("Scalping", "Short ranges, TP 2–3, Base sets only.", ("direction", "move"),
            (3.0, 5.0, 8.0), (2.0, 3.0), _steps(0.2, 0.6, 0.2), 0.5, 25.0, 7),
    _legacy("Swing", "Long ranges, TP 4–12, Block and DCA.", ("direction", "move"),
            _steps(8, 25, 1), _steps(4, 12, 2), _steps(0.8, 1.5, 0.35), 0.5, 45.0, 30, block=True, dca=True),
)


def predefined(name: str) -> PresetTypeDef:
    for preset in PREDEFINED:
        if preset.name.lower() == name.lower():
            return preset
    raise KeyError(name)


def for_preset_mode(definition: ConfigurationSetDef, type_settings: dict[str, Any],
                    values: dict[str, object]) -> ConfigurationSetDef:
    """The grid a set with ranges runs in Preset mode (the Preset engine's coordination and "Backtest preset"):

    * Block / DCA parameters from Settings › Strategy; Block is an axis when the set or its preset type asks for it
      **and** "Preset Block" is on in the settings (likewise DCA); "only" from the set or the type;
    * trailing: a set without trailing variants gets every preset start × stop of the settings when "Preset
      trailing" is on; a preset type with trailing off drops them, one with "trailing only" keeps only them.

    A fixed set is returned unchanged (see :func:`fixed_set_problem`)."""
    if definition.fixed:
        return definition
    block_params, dca_params = adjust_params_from(values)
    d = with_adjust_params(definition, block_params, dca_params)
    t = type_settings
    block = bool(values["strategy.preset_block_enabled"]) and (d.block or bool(t.get("block")) or
                                                                bool(t.get("block_only")))
    dca = bool(values["strategy.preset_dca_enabled"]) and (d.dca or bool(t.get("dca")) or bool(t.get("dca_only")))
    trailing = d.trailing
    if not trailing and bool(values["strategy.preset_trailing_enabled"]):
        starts = tuple(float(x) for x in values["strategy.preset_trailing_starts"])  # type: ignore[attr-defined]
        stops = tuple(float(x) for x in values["strategy.preset_trailing_stops"])  # type: ignore[attr-defined]
        trailing = tuple((a, b) for a in starts for b in stops)
    if not (bool(t.get("trailing", True)) or bool(t.get("trailing_only"))):
        trailing = ()
    return replace(
        d, block=block, block_only=block and (d.block_only or bool(t.get("block_only"))), dca=dca,
        dca_only=dca and (d.dca_only or bool(t.get("dca_only"))), trailing=trailing,
        trailing_only=bool(trailing) and (d.trailing_only or bool(t.get("trailing_only"))),
    )


def fixed_set_problem(block: bool, dca: bool, values: dict[str, object]) -> str | None:
    """Why a fixed set with Block/DCA cannot run in Preset mode now (None: it can) — it was chosen with them, so
    trading it without them would not be what was backtested."""
    if block and not bool(values["strategy.preset_block_enabled"]):
        return "it uses Block and Preset Block is off in Settings › Strategy"
    if dca and not bool(values["strategy.preset_dca_enabled"]):
        return "it uses DCA and Preset DCA is off in Settings › Strategy"
    return None
