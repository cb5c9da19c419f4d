"""One symbol's Main pipeline: price → 1-s frames → indications → configuration-set book → gates → Real signals.

Everything here is in memory and synchronous (the engine calls it from its feed loop); it returns what changed so
the engine can persist it in batches and send Real signals to the order manager. Pausing stops *entries* only:
positions already open keep being tracked and closed (DOMAIN Part 1 §10).

Variants (indication type, parameters, direction) get their rows in the book when they first fire, up to
``max_variants``: each variant holds every set of the exit matrix (924 by default) with its ring of results, so
the cap bounds memory (the Indications settings narrow the ranges).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from cts_desktop.domain import gates
from cts_desktop.domain.activity import ActivityGate, ActivityGateParams
from cts_desktop.domain.book import BookParams, SetBook, VariantKey
from cts_desktop.domain.book_layout import B_OPEN, F_T0, R_RESULT, R_UW, T_CLOSE, T_ENTRY
from cts_desktop.domain.book_stats import window_stats
from cts_desktop.domain.gates import GateThresholds, SetStatus
from cts_desktop.domain.indications import Indication, IndicationEngine, IndicationParams
from cts_desktop.domain.matrix import ExitMatrix
from cts_desktop.domain.steps import FrameBuilder
from cts_desktop.engine import entry_reasons
from cts_desktop.engine.order_types import EntrySignal

log = logging.getLogger("cts.engine.pipeline")


_VariantText = tuple[str, str, str]  # indication type, parameters as text, direction
_ExitText = tuple[float, float, float, float]  # tp, sl, trailing start, trailing stop


@dataclass(frozen=True, slots=True)
class SetKey:
    """The identity of a configuration set as stored in ``config_sets``."""

    symbol: str
    indication_type: str
    params: str
    direction: str
    tp: float
    sl: float
    trail_start: float
    trail_stop: float


@dataclass(frozen=True, slots=True)
class SetKeys:
    """The stored identity of a book's set rows, from texts built once per book and variant count and never
    changed afterwards — so the DB writer's thread can derive keys itself, only for the sets it needs them for."""

    symbol: str
    n_cfg: int
    variants: dict[int, _VariantText]
    configs: list[_ExitText]

    def key(self, row: int) -> SetKey:
        variant, config = divmod(int(row), self.n_cfg)
        return SetKey(self.symbol, *self.variants[variant], *self.configs[config])

    def keys(self, rows: npt.NDArray[np.int64]) -> list[SetKey]:
        return [self.key(row) for row in rows.tolist()]


@dataclass(frozen=True, slots=True)
class ClosedResult:
    row: int
    result: float  # fraction of entry notional after fees
    result_pc: float
    entry_t: float
    close_t: float
    drawdown_s: float


@dataclass(slots=True)
class PipelineUpdate:
    indications: list[Indication] = field(default_factory=list)
    opened: int = 0
    # the pseudo results closed by this price, as arrays (a big move closes tens of thousands at once: one Python
    # object each was the main loop's longest stall); ``closed`` builds the objects where they are wanted
    closed_rows: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    closed_values: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty((0, 5)))  # CLOSED_FIELDS
    status_changed: list[int] = field(default_factory=list)
    signals: list[tuple[EntrySignal, int, float]] = field(default_factory=list)  # signal, set row, entry time
    mirrored_exits: list[int] = field(default_factory=list)  # set rows whose mirrored pseudo position closed
    refusals: list[tuple[str, str]] = field(default_factory=list)  # (direction, why no Real set took an indication)

    @property
    def closed(self) -> list[ClosedResult]:
        return [ClosedResult(row, *values) for row, values in
                zip(self.closed_rows.tolist(), self.closed_values.tolist(), strict=True)]


REASON_EVERY_S = 1.0  # "no Real set" reasons at most this often per direction (price time)
CLOSED_FIELDS = ("result", "result_pc", "entry_t", "close_t", "drawdown_s")  # columns of closed_values


class SymbolPipeline:
    def __init__(
        self,
        symbol: str,
        indication_params: IndicationParams,
        matrix: ExitMatrix,
        book_params: BookParams,
        thresholds: GateThresholds,
        max_variants: int,
        gate_params: ActivityGateParams | None = None,
        book: SetBook | None = None,
    ) -> None:
        self.symbol = symbol
        self.indications = IndicationEngine(
            indication_params, gate=ActivityGate(gate_params or ActivityGateParams(pc=indication_params.pc))
        )
        self.frames = FrameBuilder()
        self.book = book if book is not None else SetBook(matrix, book_params)
        self.thresholds = thresholds
        self.max_variants = max_variants
        self.skipped_variants = 0
        self.last_price: float | None = None
        self.last_time: float | None = None
        self.mirrored: dict[int, float] = {}  # set row → entry time of the pseudo position a Real one mirrors
        self._keys_cache: tuple[SetBook, int, SetKeys] | None = None
        self._reason_at: dict[str, float] = {}  # direction → price time of the last "no Real set" reason
        self.status_since = np.full(0, np.nan)  # per set row: price time of its last status change (NaN: none seen)

    # --- updates --------------------------------------------------------------------------------------------

    def on_price(self, time: float, price: float, entries_allowed: bool) -> PipelineUpdate:
        update = PipelineUpdate()
        self.last_price, self.last_time = price, time
        self._move_book(time, price, update)
        for frame_t, frame_price in self.frames.push(time, price):
            for indication in self.indications.push(frame_t, frame_price):
                update.indications.append(indication)
                if entries_allowed:
                    self._enter(indication, time, price, update)
        return update

    def _move_book(self, time: float, price: float, update: PipelineUpdate) -> None:
        book = self.book
        if len(book) == 0 or book.update_price(time, price) == 0:
            return
        rows = np.flatnonzero(book.closed_now)
        pc = book.params.exit.pc
        # the newest closed_now entries of each row's ring (fewer when a trim left fewer), gathered at once: a
        # per-row copy of the whole ring cost a GUI-visible stall when hundreds of sets closed on one tick
        counts = book.count[rows]
        taken = np.minimum(book.closed_now[rows], counts)
        set_rows = np.repeat(rows, taken)
        first = np.repeat(counts - taken, taken)
        within = np.arange(set_rows.size) - np.repeat(np.cumsum(taken) - taken, taken)
        entries_r, entries_t = book.entries(set_rows, first + within)
        ring_r = entries_r.astype(np.float64)
        ring_t = entries_t.astype(np.float64)
        result = ring_r[:, R_RESULT]
        update.closed_rows = set_rows
        update.closed_values = np.column_stack((result, result / pc, ring_t[:, T_ENTRY], ring_t[:, T_CLOSE],
                                                ring_r[:, R_UW]))
        mirrored = self.mirrored
        for row, twin in list(mirrored.items()):  # the few sets a Real position mirrors
            for hit in np.flatnonzero(set_rows == row).tolist():
                if int(twin) == int(ring_t[hit, T_ENTRY]):
                    update.mirrored_exits.append(row)
                    del mirrored[row]
                    break
        update.status_changed = gates.evaluate(book, self.thresholds).tolist()
        if update.status_changed:
            self.since_rows(len(book))[update.status_changed] = time

    def _enter(self, indication: Indication, time: float, price: float, update: PipelineUpdate) -> None:
        key: VariantKey = (indication.kind.value, tuple(float(x) for x in indication.params), indication.direction)
        book = self.book
        if key not in book.variants and len(book.variants) >= self.max_variants:
            self.skipped_variants += 1
            return
        variant = book.add_variant(key)
        rows = book.variant_rows(key)
        allowed = gates.may_open(book)
        update.opened += book.on_indication(key, time, price, allowed)
        opened_now = ((book.slot_f[rows, :, F_T0] == time) & book.slot_b[rows, :, B_OPEN]).any(axis=1)
        opened_rows = np.flatnonzero(opened_now).astype(np.int64) + rows.start
        candidates = opened_rows[gates.exchange_candidates(book, self.thresholds, opened_rows)]
        if candidates.size == 0:
            direction = "long" if indication.direction > 0 else "short"
            if time - self._reason_at.get(direction, float("-inf")) >= REASON_EVERY_S:  # the why costs a scan
                self._reason_at[direction] = time
                update.refusals.append((direction, entry_reasons.no_real_set(book, self.thresholds, self.symbol,
                                                                             direction, opened_rows)))
            return
        stats = window_stats(book, self.thresholds.exchange_window, candidates)
        row = int(candidates[int(np.argmax(stats.avg_pf))])
        best = row - rows.start
        best_pf = float(np.max(stats.avg_pf))
        m = book.matrix
        pc = book.params.exit.pc
        tp_frac = float(m.tp[best]) * pc
        sl_frac = float(m.sl[best]) * tp_frac
        trailing = bool(m.trail_stop[best] > 0)
        signal = EntrySignal(
            symbol=self.symbol, direction="long" if indication.direction > 0 else "short", price=price,
            stop_loss_frac=sl_frac, take_profit_frac=None if trailing else tp_frac, set_id=None,
            label=f"{indication.kind.value}{indication.params} set {variant}:{best} "
                  f"avg_pf {best_pf:.2f}",
        )
        update.signals.append((signal, row, time))

    def reconfigure(
        self,
        indication_params: IndicationParams,
        gate_params: ActivityGateParams,
        matrix: ExitMatrix,
        book_params: BookParams,
        thresholds: GateThresholds,
        max_variants: int,
    ) -> list[str]:
        """Apply changed settings to the running pipeline; returns what had to start afresh (for the log).

        Gate thresholds, the variant cap, the validation timeout and the book's soft parameters (position cost,
        fee, timeout, cooldown — used from the next update on) change in place. A different exit matrix, history
        length or concurrency limit needs a new set book (its sets start empty; the stored statistics stay in the
        DB); other indication parameters need a new indication engine (steps and activity are rebuilt from the
        next prices)."""
        restarted: list[str] = []
        engine = self.indications
        if gate_params != engine.gate.params or replace(
            engine.params, validation_timeout_s=indication_params.validation_timeout_s
        ) != indication_params:
            self.indications = IndicationEngine(indication_params, gate=ActivityGate(gate_params))
            restarted.append("indications")
        else:
            engine.params = indication_params
        old = self.book.params
        if not self.book.matrix.same_as(matrix) or (old.capacity, old.max_open) != (
            book_params.capacity, book_params.max_open
        ):
            self.book = SetBook(matrix, book_params)
            self.mirrored.clear()
            self.status_since = np.full(0, np.nan)
            restarted.append("configuration sets")
        else:
            self.book.params = book_params
        self.thresholds = thresholds
        self.max_variants = max_variants
        return restarted

    def since_rows(self, n: int) -> npt.NDArray[np.float64]:
        """``status_since`` grown to ``n`` rows (new variants add sets)."""
        if self.status_since.size < n:
            grown = np.full(max(n, 2 * self.status_since.size), np.nan)
            grown[: self.status_since.size] = self.status_since
            self.status_since = grown
        return self.status_since

    def mirror(self, row: int, entry_time: float) -> None:
        """A Real position now mirrors the pseudo position of ``row`` opened at ``entry_time``."""
        self.mirrored[row] = entry_time

    # --- views ----------------------------------------------------------------------------------------------

    def set_key(self, row: int) -> SetKey:
        return self.key_source().key(row)

    def set_keys(self, rows: npt.NDArray[np.int64]) -> list[SetKey]:
        """The stored identity of each set row (variant parameters as canonical text)."""
        return self.key_source().keys(rows)

    def key_source(self) -> SetKeys:
        """The identities of the book's sets, derivable from any thread (see :class:`SetKeys`); rebuilt only when
        the book or its variants changed: formatting every variant's parameters for each persistence step was
        most of the loop's time in it."""
        book = self.book
        cached = self._keys_cache
        if cached is not None and cached[0] is book and cached[1] == len(book.variants):
            return cached[2]
        m = book.matrix
        source = SetKeys(
            self.symbol, book.n_cfg,
            {v: (kind, ",".join(f"{p:g}" for p in params), "long" if direction > 0 else "short")
             for (kind, params, direction), v in book.variants.items()},
            list(zip(m.tp.tolist(), m.sl.tolist(), m.trail_start.tolist(), m.trail_stop.tolist(), strict=True)),
        )
        self._keys_cache = (book, len(book.variants), source)
        return source

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state["_keys_cache"] = None  # derived, rebuilt on demand (not sent to or from a warm-up worker)
        return state

    def layer_of(self, rows: npt.NDArray[np.int64]) -> list[str]:
        """base, main or real per row (Real sets are a subset of Main sets)."""
        main = gates.main_sets(self.book, self.thresholds, rows)
        real = np.zeros_like(main)
        if main.any():
            real[main] = gates.real_sets(self.book, self.thresholds, rows[main])
        return ["real" if r else "main" if m else "base" for m, r in zip(main.tolist(), real.tolist(), strict=True)]

    def status_counts(self) -> dict[str, int]:
        if len(self.book) == 0:
            return {s.name.lower(): 0 for s in SetStatus}
        counts = np.bincount(self.book.status, minlength=len(SetStatus))
        return {s.name.lower(): int(counts[s.value]) for s in SetStatus}

    def open_pseudo(self) -> int:
        """Open pseudo positions of every set (counted without a per-set array: status() asks every second)."""
        return int(np.count_nonzero(self.book.slot_b[:, :, B_OPEN])) if len(self.book) else 0
