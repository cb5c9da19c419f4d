"""The settings a symbol pipeline runs on, read once from the stored values, and what an engine does with them:
build its pipelines (at start, after a symbol change) and apply changed settings to the running ones."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cts_desktop.domain.activity import ActivityGateParams
from cts_desktop.domain.book import BookParams, SetBook
from cts_desktop.domain.gates import GateThresholds
from cts_desktop.domain.indications import IndicationParams
from cts_desktop.domain.matrix import ExitMatrix
from cts_desktop.engine import engine_config as cfg
from cts_desktop.engine import warmup
from cts_desktop.engine.pipeline import SymbolPipeline
from cts_desktop.exchanges.connections import ConnectionConfig


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    indications: IndicationParams
    gate: ActivityGateParams
    matrix: ExitMatrix
    book: BookParams
    thresholds: GateThresholds
    max_variants: int


def connection_pf(config: ConnectionConfig) -> dict[str, float]:
    """The connection's own gate limits, where it sets them (unset: Settings › Strategy)."""
    s = config.settings
    own = {"main": s.live_pf_min_main, "real": s.live_pf_min_real, "drawdown_hours": s.max_drawdown_hours}
    return {name: value for name, value in own.items() if value is not None}


def pipeline_settings(values: cfg.Values, pf: Mapping[str, float] | None = None) -> PipelineSettings:
    return PipelineSettings(cfg.indication_params(values), cfg.activity_params(values), cfg.exit_matrix(values),
                            cfg.book_params(values), cfg.gate_thresholds(values, pf),
                            int(cfg.number(values, "indications.max_variants_per_symbol")))


def build_pipelines(symbols: Iterable[str], settings: PipelineSettings, old: Mapping[str, SymbolPipeline],
                    snapshots: Mapping[str, bytes] | None = None) -> dict[str, SymbolPipeline]:
    """A pipeline per symbol: its book restored from a stored snapshot if given, else the old pipeline's book when
    the matrix has not changed, else a new one."""
    pipelines: dict[str, SymbolPipeline] = {}
    for symbol in symbols:
        book: SetBook | None = None
        blob = snapshots.get(symbol) if snapshots else None
        if blob is not None:
            book = warmup.restore_book(blob, settings.book, settings.matrix)
        previous = old.get(symbol)
        if book is None and previous is not None and len(previous.book.matrix) == len(settings.matrix):
            book = previous.book
        pipelines[symbol] = SymbolPipeline(symbol, settings.indications, settings.matrix, settings.book,
                                           settings.thresholds, settings.max_variants, gate_params=settings.gate,
                                           book=book)
    return pipelines


@dataclass(frozen=True, slots=True)
class Reconfigured:
    restarted: frozenset[str]  # what had to start afresh in some pipeline ("indications", "book")
    pseudo_before: int  # open pseudo positions before and after
    pseudo_after: int


def reconfigure(pipelines: Iterable[SymbolPipeline], settings: PipelineSettings) -> Reconfigured:
    """Apply ``settings`` to running pipelines (:meth:`SymbolPipeline.reconfigure`)."""
    running = list(pipelines)
    before = sum(p.open_pseudo() for p in running)
    restarted: set[str] = set()
    for pipeline in running:
        restarted.update(pipeline.reconfigure(settings.indications, settings.gate, settings.matrix, settings.book,
                                              settings.thresholds, settings.max_variants))
    return Reconfigured(frozenset(restarted), before, sum(p.open_pseudo() for p in running))
