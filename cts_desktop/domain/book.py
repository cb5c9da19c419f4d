"""The configuration-set book of one symbol: every set of the matrix as rows of arrays (Part 1 §3, §5, §6).

A *variant* is (indication type, parameter tuple, direction); it owns one row per configuration of the exit
matrix, so set ``s`` is (variant ``s // C``, configuration ``s % C``). Per set the book keeps up to
``max_open`` open pseudo positions (slots) and a ring of closed results: results are appended until the ring
holds L × (1 + t) of them, then it is cut back to the newest L (Part 1 §5). A ring takes memory in chunks of the
pool (:mod:`cts_desktop.domain.book_layout`) as its results arrive (most sets hold far fewer than L × (1 + t): a
set that fails its first phase stops at ten); ``ring_r`` / ``ring_t`` still read and write them as whole (sets,
L × (1 + t), 2) arrays. Snapshots: :mod:`cts_desktop.domain.book_snapshot`.

Positions move through :func:`cts_desktop.domain.exits.bar_step` — the same rule as the backtest sweep — once
per price update (a tick is a bar with o = h = l = c) or per candle, for all sets in one compiled loop. The
order inside one update is: exits first, then entries; a set that closed a position in this update ignores a
signal of the same update (Part 1 §1).

Per open slot the book also accumulates *time in drawdown*: the time during which the position's price was on
the losing side of its entry (sampled at each update), which the Real gate averages.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from cts_desktop.domain.bars import LONG, SHORT, FloatArray
from cts_desktop.domain.book_layout import (
    B_ARMED,
    B_OPEN,
    CHUNK,
    F_ARM,
    F_BEST,
    F_ENTRY,
    F_LAST,
    F_STOP,
    F_T0,
    F_TDIST,
    F_TP,
    F_UW,
    N_SLOT_F,
    R_RESULT,
    R_UW,
    S_LAST_ENTRY,
    S_LAST_EXIT,
    T_CLOSE,
    T_ENTRY,
    open_slot,
    ring_cut,
    ring_put,
)
from cts_desktop.domain.book_snapshot import RINGS, SnapshotCopy, npz_bytes, ring_entries
from cts_desktop.domain.exits import ExitParams, bar_step, result_fraction
from cts_desktop.domain.jit import kernel
from cts_desktop.domain.matrix import ExitMatrix

VariantKey = tuple[str, tuple[float, ...], int]


class SetStatus(IntEnum):
    """Status of a configuration set (rules in :mod:`cts_desktop.domain.gates`)."""

    EVALUATING = 0
    ACTIVE = 1
    PAUSED = 2
    FAILED = 3


@dataclass(frozen=True, slots=True)
class BookParams:
    """Settings the book needs (the engine fills them from the settings schema)."""

    exit: ExitParams
    max_open: int = 2  # per set and direction (Part 1 §6)
    history: int = 250  # L
    trim_threshold: float = 0.2  # t: trim back to L when L × (1 + t) results are stored
    cooldown_s: float = 1.0  # position cooldown per set

    def __post_init__(self) -> None:
        if self.max_open < 1 or self.history < 1 or self.trim_threshold < 0:
            raise ValueError("max_open and history must be >= 1, trim threshold >= 0")

    @property
    def capacity(self) -> int:
        return self.history + max(1, round(self.history * self.trim_threshold))


@kernel()
def _update(
    o: float, h: float, lo: float, c: float, t: float,
    direction: npt.NDArray[np.int8], trailing: npt.NDArray[np.bool_],
    slot_f: FloatArray, slot_b: npt.NDArray[np.bool_], pool_r: npt.NDArray[np.float32],
    pool_t: npt.NDArray[np.uint32], chunks: npt.NDArray[np.int32], used: npt.NDArray[np.int64],
    count: npt.NDArray[np.int64], total: npt.NDArray[np.int64], set_f: FloatArray,
    closed_now: npt.NDArray[np.int64], timeout: float, fee: float, cap: int, keep: int,
) -> int:
    """Walk one bar (or tick) for every open slot; append closed results to the rings. Returns #closed."""
    n_sets, n_slots = slot_b.shape[0], slot_b.shape[1]
    closed = 0
    for s in range(n_sets):
        if direction[s] > 0:
            so, sh, sl_, sc = o, h, lo, c
        else:
            so, sh, sl_, sc = -o, -lo, -h, -c
        for k in range(n_slots):
            if not slot_b[s, k, B_OPEN]:
                continue
            if sc < slot_f[s, k, F_ENTRY]:
                slot_f[s, k, F_UW] += t - slot_f[s, k, F_LAST]
            slot_f[s, k, F_LAST] = t
            reason, price, stop, best, armed = bar_step(
                so, sh, sl_, sc, t - slot_f[s, k, F_T0], slot_f[s, k, F_STOP], slot_f[s, k, F_BEST],
                slot_b[s, k, B_ARMED], slot_f[s, k, F_TP], trailing[s], slot_f[s, k, F_ARM], slot_f[s, k, F_TDIST],
                timeout,
            )
            if reason == 0:
                slot_f[s, k, F_STOP] = stop
                slot_f[s, k, F_BEST] = best
                slot_b[s, k, B_ARMED] = armed
                continue
            i = count[s]
            ring_put(pool_r, pool_t, chunks, used, s, i, result_fraction(slot_f[s, k, F_ENTRY], price, fee),
                     slot_f[s, k, F_UW], slot_f[s, k, F_T0], t)
            count[s] = i + 1
            total[s] += 1
            if count[s] == cap:
                ring_cut(pool_r, pool_t, chunks, s, cap, keep)
                count[s] = keep
            slot_b[s, k, B_OPEN] = False
            slot_b[s, k, B_ARMED] = False
            set_f[s, S_LAST_EXIT] = t
            closed_now[s] += 1
            closed += 1
    return closed


@kernel()
def _open(
    price: float, t: float, first: int, n_cfg: int, sign: int,
    tp: FloatArray, sl: FloatArray, ts: FloatArray, tst: FloatArray, pc: float,
    allowed: npt.NDArray[np.bool_], slot_f: FloatArray, slot_b: npt.NDArray[np.bool_], set_f: FloatArray,
    cooldown: float,
) -> int:
    """Open one position in every allowed set of one variant that has a free slot. Returns #opened."""
    entry = sign * price
    opened = 0
    for c in range(n_cfg):
        s = first + c
        if not allowed[s] or set_f[s, S_LAST_EXIT] == t or t - set_f[s, S_LAST_ENTRY] < cooldown:
            continue
        if open_slot(slot_f, slot_b, set_f, s, entry, t, tp[c], sl[c], ts[c], tst[c], pc):
            opened += 1
    return opened


class RingView:
    """One ring field pair of a book — ``ring_r`` (result, time in drawdown) or ``ring_t`` (entry, close time) —
    read and written as the (sets, L × (1 + t), 2) array the rings were before they moved into chunks: indexing
    gathers a dense copy of the rows asked for (never-written entries are zeros), assigning rewrites the rings.
    The engine's hot paths read the pool directly (:meth:`SetBook.entries` and the kernels)."""

    def __init__(self, book: SetBook, field: int) -> None:
        self._book = book
        self._field = field
        self.dtype = np.dtype(np.float32 if field == 0 else np.uint32)

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self._book), self._book.params.capacity, 2

    @property
    def ndim(self) -> int:
        return 3

    @property
    def nbytes(self) -> int:
        """Bytes of the dense array this view stands for (not what the pool holds: :meth:`SetBook.memory`)."""
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def __len__(self) -> int:
        return len(self._book)

    def dense(self, rows: slice | npt.NDArray[np.int64] | None = None) -> np.ndarray:
        return self._book._dense(self._field, rows)

    def __array__(self, dtype: npt.DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        out = self.dense()
        return out if dtype is None else out.astype(dtype)

    def __getitem__(self, key: Any) -> np.ndarray:
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) and key else (key, ())
        if (isinstance(first, slice) and len(rest) == 2 and rest[0] == slice(None)
                and isinstance(rest[1], int | np.integer)):  # one field of whole rings: gather only that field
            return self._book._dense_field(self._field, first, int(rest[1]))
        if isinstance(first, slice | int | np.integer):
            rows = first if isinstance(first, slice) else slice(int(first), int(first) + 1 or None)
            part = self.dense(rows)
            if not isinstance(first, slice):
                part = part[0]
            return part[rest] if rest else part
        out: np.ndarray = self.dense()[key]
        return out

    def __setitem__(self, key: Any, value: Any) -> None:
        whole = self.dense()
        whole[key] = value
        other = self._book._dense(1 - self._field, None)
        self._book._set_rings(*((whole, other) if self._field == 0 else (other, whole)))

    def tobytes(self) -> bytes:
        return self.dense().tobytes()

    def astype(self, dtype: npt.DTypeLike) -> np.ndarray:
        return self.dense().astype(dtype)

    def copy(self) -> np.ndarray:
        return self.dense()


class SetBook:
    """All configuration sets of one symbol. Not thread-safe: one owner (the symbol's pipeline) mutates it."""

    def __init__(self, matrix: ExitMatrix, params: BookParams) -> None:
        self.matrix = matrix
        self.params = params
        self.n_cfg = len(matrix)
        self.variants: dict[VariantKey, int] = {}
        k, cap = params.max_open, params.capacity
        self.n_chunks = -(-cap // CHUNK)  # chunks per ring
        # per-set arrays: (shape of one row, dtype, fill). The public attributes are views of the first len(self)
        # rows of buffers that grow by doubling, so adding variants one by one stays linear overall.
        self._spec: dict[str, tuple[tuple[int, ...], type, float]] = {
            "direction": ((), np.int8, 0),
            "trailing": ((), np.bool_, 0),
            "slot_f": ((k, N_SLOT_F), np.float64, 0.0),
            "slot_b": ((k, 2), np.bool_, 0),
            "chunks": ((self.n_chunks,), np.int32, 0),  # where each chunk of the set's ring is in the pool (0: none)
            "count": ((), np.int64, 0),  # results stored in the ring
            "total": ((), np.int64, 0),  # results ever closed (drives the phases)
            "set_f": ((2,), np.float64, -np.inf),  # last entry / last exit time
            "status": ((), np.int8, 0),  # SetStatus
            "closed_now": ((), np.int64, 0),  # closed in the last update
        }
        self._rows = 0
        self._buf: dict[str, np.ndarray] = {}
        # the ring pool: (results, times) per entry, chunks handed out in order; used[0] = chunks taken (chunk 0,
        # the zero chunk, included)
        self._pool_r: npt.NDArray[np.float32] = np.zeros((CHUNK, 2), dtype=np.float32)
        self._pool_t: npt.NDArray[np.uint32] = np.zeros((CHUNK, 2), dtype=np.uint32)
        self._used = np.ones(1, dtype=np.int64)
        self._allocate(0)

    def _allocate(self, capacity: int) -> None:
        for name, (shape, dtype, fill) in self._spec.items():
            # zero-filled buffers come from calloc: spare capacity costs no memory until rows are used
            size = (capacity, *shape)
            new: np.ndarray = np.zeros(size, dtype=dtype) if fill == 0 else np.full(size, fill, dtype=dtype)
            old = self._buf.get(name)
            if old is not None:
                new[: self._rows] = old[: self._rows]
            self._buf[name] = new
        self._grow_pool((1 + capacity * self.n_chunks) * CHUNK)
        self._bind()

    def _grow_pool(self, entries: int) -> None:
        """Room for ``entries`` pool entries: every chunk the sets could take (calloc'd; only used ones copied)."""
        if self._pool_r.shape[0] >= entries:
            return
        n = int(self._used[0]) * CHUNK
        pool_r = np.zeros((entries, 2), dtype=np.float32)
        pool_t = np.zeros((entries, 2), dtype=np.uint32)
        pool_r[:n] = self._pool_r[:n]
        pool_t[:n] = self._pool_t[:n]
        self._pool_r, self._pool_t = pool_r, pool_t

    def _bind(self) -> None:
        n = self._rows
        self.direction = self._buf["direction"][:n]
        self.trailing = self._buf["trailing"][:n]
        self.slot_f = self._buf["slot_f"][:n]
        self.slot_b = self._buf["slot_b"][:n]
        self.chunks = self._buf["chunks"][:n]
        self.count = self._buf["count"][:n]
        self.total = self._buf["total"][:n]
        self.set_f = self._buf["set_f"][:n]
        self.status = self._buf["status"][:n]
        self.closed_now = self._buf["closed_now"][:n]

    # -- rings -----------------------------------------------------------------------------------------------
    @property
    def ring_r(self) -> RingView:
        """Per set and stored result: (result as a fraction of entry notional, time in drawdown in seconds)."""
        return RingView(self, 0)

    @property
    def ring_t(self) -> RingView:
        """Per set and stored result: (entry time, close time), whole epoch seconds."""
        return RingView(self, 1)

    @property
    def pool_r(self) -> npt.NDArray[np.float32]:
        return self._pool_r

    @property
    def pool_t(self) -> npt.NDArray[np.uint32]:
        return self._pool_t

    def entries(self, rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64]
                ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.uint32]]:
        """Ring entries ``cols`` of sets ``rows`` (same shapes, broadcast): (``ring_r``, ``ring_t``) values, each of
        shape (*shape, 2) — zeros where a set never wrote."""
        cols = np.asarray(cols, dtype=np.int64)
        at = self.chunks[rows, cols // CHUNK].astype(np.int64) * CHUNK + cols % CHUNK
        return self._pool_r[at], self._pool_t[at]

    def _dense(self, field: int, rows: slice | npt.NDArray[np.int64] | None) -> np.ndarray:
        pool = self._pool_r if field == 0 else self._pool_t
        table = self.chunks if rows is None else self.chunks[rows]
        out = pool.reshape(-1, CHUNK, 2)[table]  # the zero chunk where none was taken
        return np.ascontiguousarray(out.reshape(table.shape[0], self.n_chunks * CHUNK, 2)[:, : self.params.capacity])

    def _dense_field(self, field: int, rows: slice, column: int) -> np.ndarray:
        pool = self._pool_r if field == 0 else self._pool_t
        table = self.chunks[rows]
        out: np.ndarray = pool.reshape(-1, CHUNK, 2)[:, :, column][table]  # a strided view: only this field
        return out.reshape(table.shape[0], self.n_chunks * CHUNK)[:, : self.params.capacity]

    def _set_rings(self, ring_r: npt.ArrayLike, ring_t: npt.ArrayLike) -> None:
        """Rewrite every ring from dense (sets, capacity, 2) arrays: each set takes the chunks up to its last one
        with a non-zero bit (so that the dense view gives back the same bytes), in set order."""
        n, cap, nch = len(self), self.params.capacity, self.n_chunks
        wide_r = np.zeros((n, nch * CHUNK, 2), dtype=np.float32)
        wide_t = np.zeros((n, nch * CHUNK, 2), dtype=np.uint32)
        wide_r[:, :cap] = ring_r
        wide_t[:, :cap] = ring_t
        written = ((wide_r.view(np.uint32) != 0) | (wide_t != 0)).any(axis=2).reshape(n, nch, CHUNK).any(axis=2)
        last = np.where(written.any(axis=1), nch - np.argmax(written[:, ::-1], axis=1), 0)
        take = np.arange(nch)[None, :] < last[:, None]
        taken = int(take.sum())
        table = np.zeros((n, nch), dtype=np.int32)
        table[take] = np.arange(1, 1 + taken, dtype=np.int32)
        self._pool_r = np.zeros((max(self._pool_r.shape[0], (1 + taken) * CHUNK), 2), dtype=np.float32)
        self._pool_t = np.zeros((self._pool_r.shape[0], 2), dtype=np.uint32)
        self._pool_r[CHUNK: (1 + taken) * CHUNK] = wide_r.reshape(n, nch, CHUNK, 2)[take].reshape(-1, 2)
        self._pool_t[CHUNK: (1 + taken) * CHUNK] = wide_t.reshape(n, nch, CHUNK, 2)[take].reshape(-1, 2)
        self.chunks[...] = table
        self._used[0] = 1 + taken

    def reserve_chunks(self) -> int:
        """Reserve every chunk the sets could still take (``len(self) × chunks per ring`` past those taken) for
        walks that run at once (:class:`~cts_desktop.domain.book_replay.BookReplay`): set ``s`` takes its new chunks
        from ``first + s × chunks per ring`` on. Returns ``first``; :meth:`compact` gives back what stayed unused."""
        first = int(self._used[0])
        self._grow_pool((first + len(self) * self.n_chunks) * CHUNK)
        self._used[0] = first + len(self) * self.n_chunks
        return first

    def compact(self) -> None:
        """Renumber the chunks taken into a fresh pool, in set order, without gaps."""
        taken = self.chunks != 0
        ids = self.chunks[taken].astype(np.int64)  # set by set, chunk by chunk
        k = int(ids.size)
        entries = max(1 + self._buf["chunks"].shape[0] * self.n_chunks, 1 + k) * CHUNK
        pool_r = np.zeros((entries, 2), dtype=np.float32)
        pool_t = np.zeros((entries, 2), dtype=np.uint32)
        pool_r.reshape(-1, CHUNK, 2)[1: 1 + k] = self._pool_r.reshape(-1, CHUNK, 2)[ids]
        pool_t.reshape(-1, CHUNK, 2)[1: 1 + k] = self._pool_t.reshape(-1, CHUNK, 2)[ids]
        self.chunks[taken] = np.arange(1, 1 + k, dtype=np.int32)
        self._pool_r, self._pool_t = pool_r, pool_t
        self._used[0] = 1 + k

    def _set_chunks(self, taken: npt.NDArray[np.int32], entries_r: npt.NDArray[np.float32],
                    entries_t: npt.NDArray[np.uint32]) -> None:
        """Rewrite every ring from the chunks each set took (``taken`` per set, their entries set by set)."""
        if taken.shape != (len(self),) or int(taken.sum()) * CHUNK != entries_r.shape[0] or (
                taken > self.n_chunks).any():
            raise ValueError("snapshot rings do not fit the book")
        k = int(taken.sum())
        self._grow_pool((1 + k) * CHUNK)
        self._pool_r[CHUNK: (1 + k) * CHUNK] = entries_r
        self._pool_t[CHUNK: (1 + k) * CHUNK] = entries_t
        table = np.zeros((len(self), self.n_chunks), dtype=np.int32)
        table[np.arange(self.n_chunks)[None, :] < taken[:, None]] = np.arange(1, 1 + k, dtype=np.int32)
        self.chunks[...] = table
        self._used[0] = 1 + k

    def memory(self) -> int:
        """Bytes the book's data takes: the used rows of every per-set buffer and the chunks taken from the pool."""
        n = self._rows
        per_set = sum(buf[:n].nbytes for buf in self._buf.values())
        return per_set + int(self._used[0]) * CHUNK * (self._pool_r.itemsize + self._pool_t.itemsize) * 2

    # -- structure -------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._rows

    def variant_rows(self, key: VariantKey) -> slice:
        v = self.variants[key]
        return slice(v * self.n_cfg, (v + 1) * self.n_cfg)

    def add_variant(self, key: VariantKey) -> int:
        """Rows for a new (type, params, direction); returns the variant index (existing ones are kept).
        Arrays taken from the book before this call may be stale afterwards: read them again."""
        if key in self.variants:
            return self.variants[key]
        if key[2] not in (LONG, SHORT):
            raise ValueError("variant direction must be +1 or -1")
        start, c = self._rows, self.n_cfg
        if start + c > self._buf["count"].shape[0]:
            self._allocate(max(2 * self._buf["count"].shape[0], start + c))
        self._rows = start + c
        self._bind()
        self.direction[start:] = key[2]
        self.trailing[start:] = self.matrix.trail_stop > 0
        self.variants[key] = len(self.variants)
        return self.variants[key]

    # -- updates ---------------------------------------------------------------------------------------------
    def update_bar(self, time: float, o: float, h: float, low: float, c: float) -> int:
        """Move every open position through one candle; returns the number of positions closed.
        ``closed_now`` counts per set what this update closed (the gates re-evaluate only those sets)."""
        self.closed_now[:] = 0
        if len(self) == 0:
            return 0
        e = self.params.exit
        return int(
            _update(
                o, h, low, c, time, self.direction, self.trailing, self.slot_f, self.slot_b, self._pool_r,
                self._pool_t, self.chunks, self._used, self.count, self.total, self.set_f, self.closed_now,
                e.timeout_s, e.fee, self.params.capacity, self.params.history,
            )
        )

    def update_price(self, time: float, price: float) -> int:
        """A price update is a bar with open = high = low = close."""
        return self.update_bar(time, price, price, price, price)

    def on_indication(
        self, key: VariantKey, time: float, price: float, allowed: npt.NDArray[np.bool_] | None = None
    ) -> int:
        """Open positions for a fired indication in every set of its variant that may open (not FAILED, or
        ``allowed`` if given — one flag per set of the book), has a free slot, is out of its cooldown and did
        not close in this update. A new variant gets its rows first (its sets start EVALUATING)."""
        v = self.add_variant(key)
        if allowed is None:
            allowed = self.status != SetStatus.FAILED
        elif allowed.shape != (len(self),):
            grown = np.ones(len(self), dtype=np.bool_)
            if allowed.shape[0] > len(self):
                raise ValueError("allowed has more flags than the book has sets")
            grown[: allowed.shape[0]] = allowed
            allowed = grown
        m = self.matrix
        return int(
            _open(
                price, time, v * self.n_cfg, self.n_cfg, key[2], m.tp, m.sl, m.trail_start, m.trail_stop,
                self.params.exit.pc, allowed, self.slot_f, self.slot_b, self.set_f, self.params.cooldown_s,
            )
        )

    # -- views -----------------------------------------------------------------------------------------------
    def open_count(self) -> npt.NDArray[np.int64]:
        return np.asarray(self.slot_b[:, :, B_OPEN].sum(axis=1), dtype=np.int64)

    def results(self, s: int) -> FloatArray:
        """Stored closed results of set ``s``, oldest first (fractions of entry notional)."""
        return self.history(s)[0]

    def history(self, s: int) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Stored closed positions of set ``s``, oldest first: (result, entry time, close time, time in
        drawdown) — times in whole seconds."""
        ring_r, ring_t = self.entries(np.full(int(self.count[s]), s), np.arange(int(self.count[s])))
        r = np.asarray(ring_r, dtype=np.float64)
        t = np.asarray(ring_t, dtype=np.float64)
        return r[:, R_RESULT], t[:, T_ENTRY], t[:, T_CLOSE], r[:, R_UW]

    # -- transfer between processes ---------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, object]:
        """Pickle only what the book holds, uncompressed (the prehistory warm-up runs in a worker process and sends
        the book back): the used rows of every buffer and the chunks taken from the ring pool, no spare capacity.
        Loading is a few copies of memory, no decompression. The copy equals the original bit for bit, entries
        past ``count`` included."""
        state = self.__dict__.copy()
        for name in self._spec:
            state.pop(name, None)  # the bound views are rebuilt by __setstate__
        n = self._rows
        state["_buf"] = {name: np.ascontiguousarray(buf[:n]) for name, buf in self._buf.items()}
        taken = int(self._used[0]) * CHUNK
        state["_pool_r"] = np.ascontiguousarray(self._pool_r[:taken])
        state["_pool_t"] = np.ascontiguousarray(self._pool_t[:taken])
        state["_pool_room"] = self._pool_r.shape[0]  # the copy gets the same room (untouched: costs nothing)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        buffers = state.pop("_buf")
        assert isinstance(buffers, dict)
        self.__dict__.update(state)
        self._buf = {}
        for name, value in buffers.items():
            assert isinstance(value, np.ndarray)
            self._buf[name] = value if value.flags.writeable else value.copy()  # read-only memory: own a copy
        self._used = self._used.copy()
        pool_r, pool_t = self._pool_r, self._pool_t  # the chunks taken, each pool as long as the other
        room = state.pop("_pool_room")
        assert isinstance(room, int)
        entries = max(room, pool_r.shape[0], (1 + self._rows * self.n_chunks) * CHUNK)
        self.__dict__.pop("_pool_room", None)
        self._pool_r = np.zeros((entries, 2), dtype=np.float32)  # calloc'd room for every chunk
        self._pool_t = np.zeros((entries, 2), dtype=np.uint32)
        self._pool_r[: pool_r.shape[0]] = pool_r
        self._pool_t[: pool_t.shape[0]] = pool_t
        self._bind()

    # -- persistence -----------------------------------------------------------------------------------------
    ARRAYS = (
        "direction", "trailing", "slot_f", "slot_b", "ring_r", "ring_t", "count", "total", "set_f", "status",
    )

    def snapshot(self) -> bytes:
        """Compact, self-contained bytes (an xz-packed numpy .npz) the engine stores and :meth:`restore` reads back."""
        copy = SnapshotCopy(self)
        copy.copy_step(len(self))
        return copy.encode()

    @classmethod
    def restore(cls, data: bytes, params: BookParams) -> SetBook:
        with np.load(io.BytesIO(npz_bytes(data)), allow_pickle=False) as z:
            mat = z["matrix"]
            book = cls(ExitMatrix(*(np.ascontiguousarray(mat[i]) for i in range(4))), params)
            shape = z["ring_shape"].tolist() if "ring_shape" in z.files else [z["ring_r"].shape[1], CHUNK]
            if shape != [params.capacity, CHUNK] or z["slot_b"].shape[1] != params.max_open:
                raise ValueError("snapshot was taken with another history length or concurrency limit")
            rows = int(z["count"].shape[0])
            book._rows = 0
            book._allocate(rows)
            book._rows = rows
            book._bind()
            for name in cls.ARRAYS:
                if name not in RINGS:
                    getattr(book, name)[...] = z[name]
            if "ring_taken" in z.files:
                book._set_chunks(z["ring_taken"], *ring_entries(z))
            else:  # a snapshot of whole rings
                book._set_rings(z["ring_r"], z["ring_t"])
            for i, (kind, ptxt, d) in enumerate(
                zip(z["variant_types"].tolist(), z["variant_params"].tolist(), z["variant_dirs"].tolist(),
                    strict=True)
            ):
                values = tuple(float(x) for x in ptxt.strip("()").split(",") if x.strip())
                book.variants[(str(kind), values, int(d))] = i
        return book
