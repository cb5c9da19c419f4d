"""Database side of backtests and presets: stored runs (auto-optimal rows as JSON and back), the predefined presets,
sets saved from auto-optimal and the preset type of each connection. Plain functions on a Session (callers run them
through ``Database.run``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cts_desktop.backtest.optimal import OptimalRow
from cts_desktop.backtest.presets import PREDEFINED, ConfigurationSetDef, PresetTypeDef
from cts_desktop.backtest.runner import FixedSet, Trade, adjust_from_json, adjust_to_json
from cts_desktop.domain.exits import ExitConfig
from cts_desktop.storage.models import Backtest
from cts_desktop.storage.models_presets import ConnectionPreset, PresetSet, PresetType, PresetTypeSet


@dataclass(frozen=True, slots=True)
class BacktestRow:
    id: int
    name: str
    kind: str
    status: str
    created_ms: int
    summary: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PresetTypeRow:
    id: int
    name: str
    predefined: bool
    settings: dict[str, Any]
    sets: int


@dataclass(frozen=True, slots=True)
class PresetSetRow:
    id: int
    name: str
    indication: str
    symbol: str | None
    priority: int
    active: bool
    fixed: FixedSet | None
    definition: ConfigurationSetDef
    metrics: dict[str, Any]


def _clean(value: Any) -> Any:
    """JSON-safe: non-finite floats become None (inf PF is reported as None = "no loss")."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


# --- backtests ------------------------------------------------------------------------------------------------------


def save_backtest(session: Session, name: str, kind: str, params: dict[str, Any], metrics: dict[str, Any],
                  equity: list[Any], status: str = "completed") -> int:
    row = Backtest(name=name[:200], status=status, params=_clean({"kind": kind, **params}), metrics=_clean(metrics),
                   equity=_clean(equity))
    session.add(row)
    session.flush()
    return int(row.id)


def list_backtests(session: Session, limit: int = 200) -> list[BacktestRow]:
    rows = session.execute(select(Backtest).order_by(Backtest.id.desc()).limit(limit)).scalars()
    return [BacktestRow(r.id, r.name, str((r.params or {}).get("kind", "backtest")), r.status,
                        int(r.created_at.timestamp() * 1000), dict((r.metrics or {}).get("summary") or {}))
            for r in rows]


def get_backtest(session: Session, backtest_id: int) -> Backtest | None:
    return session.get(Backtest, backtest_id)


# --- presets --------------------------------------------------------------------------------------------------------


def _add_type(session: Session, preset: PresetTypeDef) -> PresetType:
    row = PresetType(name=preset.name, predefined=preset.predefined, settings=preset.to_json())
    session.add(row)
    session.flush()
    for priority, definition in enumerate(preset.sets):
        s = PresetSet(name=definition.name, indication=definition.indication, definition=definition.to_json(),
                      metrics={})
        session.add(s)
        session.flush()
        session.add(PresetTypeSet(preset_type_id=row.id, set_id=s.id, priority=priority, active=definition.active))
    return row


def seed_predefined(session: Session) -> int:
    """Create the five predefined presets that are missing; returns how many were created."""
    have = set(session.execute(select(PresetType.name)).scalars())
    created = 0
    for preset in PREDEFINED:
        if preset.name not in have:
            try:
                with session.begin_nested():  # another task may seed the same preset at the same moment
                    _add_type(session, preset)
            except IntegrityError:
                continue
            created += 1
    return created


def list_preset_types(session: Session) -> list[PresetTypeRow]:
    out = []
    for r in session.execute(select(PresetType).order_by(PresetType.predefined.desc(), PresetType.name)).scalars():
        n = len(session.execute(select(PresetTypeSet.set_id).where(PresetTypeSet.preset_type_id == r.id)).all())
        out.append(PresetTypeRow(r.id, r.name, r.predefined, dict(r.settings or {}), n))
    return out


def preset_sets(session: Session, preset_type_id: int, active_only: bool = False) -> list[PresetSetRow]:
    q = (select(PresetSet, PresetTypeSet.priority, PresetTypeSet.active)
         .join(PresetTypeSet, PresetTypeSet.set_id == PresetSet.id)
         .where(PresetTypeSet.preset_type_id == preset_type_id)
         .order_by(PresetTypeSet.priority, PresetSet.id))
    if active_only:
        q = q.where(PresetTypeSet.active.is_(True))
    out = []
    for s, priority, active in session.execute(q).all():
        out.append(PresetSetRow(s.id, s.name, s.indication, s.symbol, int(priority), bool(active),
                                FixedSet.from_json(s.fixed) if s.fixed else None,
                                ConfigurationSetDef.from_json(s.definition), dict(s.metrics or {})))
    return out


def save_optimal_sets(session: Session, type_name: str, rows: list[OptimalRow],
                      definitions: list[ConfigurationSetDef], settings: dict[str, Any] | None = None) -> int:
    """Save chosen auto-optimal results as fixed configuration sets of preset type ``type_name`` (created when
    missing, appended after its existing sets otherwise); returns the preset type id."""
    row = session.execute(select(PresetType).where(PresetType.name == type_name)).scalar_one_or_none()
    if row is None:
        row = PresetType(name=type_name[:120], predefined=False,
                         settings=settings or PresetTypeDef(name=type_name).to_json())
        session.add(row)
        session.flush()
    elif row.predefined:
        raise ValueError(f"{type_name} is a predefined preset: save the results under a new name")
    existing = session.execute(select(PresetTypeSet.priority).where(PresetTypeSet.preset_type_id == row.id)).scalars()
    priority = max(existing, default=-1) + 1
    for r in rows:
        base = definitions[r.set_index]
        fixed = FixedSet(r.indication, r.params, r.direction, r.exit, r.adjust)
        block, dca = r.adjust.block, r.adjust.dca
        definition = ConfigurationSetDef(
            name=fixed.label, indication=r.indication, param_values=tuple((p,) for p in r.params),
            tp_values=(r.exit.tp,), sl_values=(r.exit.sl,),
            trailing=((r.exit.trail_start, r.exit.trail_stop),) if r.exit.trailing else (),
            trailing_only=r.exit.trailing, directions=(r.direction,), range_days=base.range_days,
            trades_per_48h_min=base.trades_per_48h_min, pf_min=base.pf_min, min_avg_pf=base.min_avg_pf,
            drawdown_time_max_h=base.drawdown_time_max_h, eval_count_1=base.eval_count_1,
            eval_count_2=base.eval_count_2, fixed=True, block=block is not None, block_only=block is not None,
            dca=dca is not None, dca_only=dca is not None, block_params=block or base.block_params,
            dca_params=dca or base.dca_params,
        )
        metrics = {"trades": r.trades, "win_rate_pct": r.win_rate_pct, "net_pct": r.net_pct, "gross_pf": r.gross_pf,
                   "pf_a": r.pf_a, "pf_b": r.pf_b, "per_48h": r.per_48h, "drawdown_time_h": r.drawdown_time_h,
                   "max_drawdown_pct": r.max_drawdown_pct, "avg_pf": r.avg_pf}
        s = PresetSet(name=fixed.label, indication=r.indication, symbol=r.symbol, definition=definition.to_json(),
                      fixed=fixed.to_json(), metrics=_clean(metrics))
        session.add(s)
        session.flush()
        session.add(PresetTypeSet(preset_type_id=row.id, set_id=s.id, priority=priority, active=True))
        priority += 1
    return int(row.id)


def delete_preset_type(session: Session, preset_type_id: int) -> None:
    row = session.get(PresetType, preset_type_id)
    if row is None:
        return
    if row.predefined:
        raise ValueError("predefined presets cannot be deleted")
    set_ids = list(session.execute(select(PresetTypeSet.set_id).where(
        PresetTypeSet.preset_type_id == preset_type_id)).scalars())
    session.delete(row)
    session.flush()
    if set_ids:
        session.execute(delete(PresetSet).where(PresetSet.id.in_(set_ids)))


def assign_preset(session: Session, connection_id: str, preset_type_id: int | None) -> None:
    """Assign a preset type to a connection (None removes the assignment)."""
    current = session.get(ConnectionPreset, connection_id)
    if preset_type_id is None:
        if current is not None:
            session.delete(current)
        return
    if session.get(PresetType, preset_type_id) is None:
        raise ValueError(f"no preset type {preset_type_id}")
    if current is None:
        session.add(ConnectionPreset(connection_id=connection_id, preset_type_id=preset_type_id))
    else:
        current.preset_type_id = preset_type_id


def connection_preset(session: Session, connection_id: str) -> int | None:
    row = session.get(ConnectionPreset, connection_id)
    return None if row is None else int(row.preset_type_id)


# --- the Preset engine's coordination results and set evaluator -------------------------------------------------


def save_coordination(session: Session, set_id: int, symbol: str, rows: list[dict[str, Any]], evaluated_at: float,
                      evaluated: int, valid: int) -> None:
    """Store the chosen results of a set with ranges for one symbol (Part 2 §5.3 "upsert results"): they live in
    the set's ``metrics`` under ``coordination`` → symbol, replaced at every evaluation."""
    row = session.get(PresetSet, set_id)
    if row is None:
        return
    metrics = dict(row.metrics or {})
    coordination = dict(metrics.get("coordination") or {})
    coordination[symbol] = {"at": evaluated_at, "evaluated": evaluated, "valid": valid, "rows": rows}
    metrics["coordination"] = coordination
    row.metrics = _clean(metrics)


def disable_preset_set(session: Session, preset_type_id: int, set_id: int, reason: str, at: float) -> None:
    """The set evaluator's verdict (Part 2 §5.5): the set's link is switched off, with reason and time."""
    link = session.get(PresetTypeSet, (preset_type_id, set_id))
    if link is not None:
        link.active = False
    row = session.get(PresetSet, set_id)
    if row is not None:
        metrics = dict(row.metrics or {})
        metrics["disabled"] = {"reason": reason, "at": at}
        row.metrics = _clean(metrics)


def preset_signature(session: Session, connection_id: str) -> tuple[int | None, tuple[tuple[int, int, bool], ...]]:
    """What the Preset engine of a connection trades: the assigned type and its (set, priority, active) links —
    the engine reloads when this changes."""
    type_id = connection_preset(session, connection_id)
    if type_id is None:
        return None, ()
    links = session.execute(select(PresetTypeSet.set_id, PresetTypeSet.priority, PresetTypeSet.active)
                            .where(PresetTypeSet.preset_type_id == type_id).order_by(PresetTypeSet.set_id)).all()
    return type_id, tuple((int(a), int(b), bool(c)) for a, b, c in links)


def _enc(x: float) -> float | str | None:
    """JSON for a figure: inf is kept as the text "inf" (a PF without losses), NaN becomes null."""
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _dec(x: Any) -> float:
    if x is None:
        return math.nan
    return float(x)


_ROW_FIGURES = ("net_pct", "gross_pf", "pf_a", "pf_b", "avg_pf", "per_48h", "drawdown_time_h", "max_drawdown_pct",
                "avg_duration_min")


def row_json(r: OptimalRow) -> dict[str, Any]:
    """An auto-optimal row as JSON for a stored run or a coordination result (inf kept as text)."""
    return {"symbol": r.symbol, "set_index": r.set_index, "set": r.set_name, "indication": r.indication,
            "params": list(r.params), "direction": r.direction, "tp": r.exit.tp, "sl": r.exit.sl,
            "trail_start": r.exit.trail_start, "trail_stop": r.exit.trail_stop, "trades": r.trades, "wins": r.wins,
            "win_rate_pct": _enc(r.win_rate_pct), "valid": r.valid, "reason": r.reason, "order": r.order,
            **adjust_to_json(r.adjust), **{name: _enc(getattr(r, name)) for name in _ROW_FIGURES}}


def row_from_json(d: dict[str, Any]) -> OptimalRow:
    """An auto-optimal row as stored by :func:`row_json` (auto-optimal runs, preset coordination)."""
    figures = {name: _dec(d.get(name)) for name in _ROW_FIGURES}
    return OptimalRow(
        symbol=str(d["symbol"]), set_index=int(d.get("set_index", 0)), set_name=str(d.get("set", "")),
        indication=str(d["indication"]), params=tuple(float(x) for x in d["params"]), direction=int(d["direction"]),
        exit=ExitConfig(float(d["tp"]), float(d["sl"]), float(d["trail_start"]), float(d["trail_stop"])),
        trades=int(d["trades"]), wins=int(d.get("wins", 0)), per_24h=figures["per_48h"] / 2.0,
        valid=bool(d["valid"]), reason=str(d.get("reason", "")), order=int(d.get("order", 0)),
        adjust=adjust_from_json(d), **figures,
    )


@dataclass(slots=True)
class StoredRun:
    """A stored run read back: auto-optimal rows, or a backtest's summary, equity and trades."""

    id: int
    kind: str
    name: str
    params: dict[str, Any]
    summary: dict[str, Any]
    rows: list[OptimalRow]
    definitions: list[ConfigurationSetDef]
    equity: list[tuple[float, float]]
    trades: list[Trade]


def read_run(session: Session, run_id: int) -> StoredRun | None:
    """A stored run with its rows, definitions, equity and trades (None when there is no such run)."""
    row = get_backtest(session, run_id)
    if row is None:
        return None
    params = dict(row.params or {})
    metrics = dict(row.metrics or {})
    kind = str(params.get("kind", "backtest"))
    rows = [row_from_json(d) for d in metrics.get("rows", [])] if kind == "optimal" else []
    definitions = [ConfigurationSetDef.from_json(d) for d in params.get("sets", [])] if kind == "optimal" else []
    trades = [Trade.from_row(t) for t in metrics.get("trades", [])]
    equity = [(float(a), float(b)) for a, b in (row.equity or [])]
    return StoredRun(int(row.id), kind, row.name, params, dict(metrics.get("summary") or {}), rows, definitions,
                     equity, trades)
