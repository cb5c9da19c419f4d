"""The configuration-set book of one symbol: every set of the matrix as rows of arrays (Part 1 §3, §5, §6).

A *variant* is (indication type, parameter tuple, direction); it owns one row per configuration of the exit
matrix, so set ``s`` is (variant ``s // C``, configuration ``s % C``). Per set the book keeps up to
``max_open`` open pseudo positions (slots) and a ring of closed results: results are appended until the ring
holds L × (1 + t) of them, then it is cut back to the newest L (Part 1 §5). A ring takes memory in chunks of
:data:`CHUNK` entries as its results arrive (most sets hold far fewer than L × (1 + t): a set that fails its first
phase stops at ten); ``ring_r`` / ``ring_t`` still read and write them as whole (sets, L × (1 + t), 2) arrays.

Positions move through :func:`cts_desktop.domain.exits.bar_step` — the same rule as the backtest sweep — once
per price update (a tick is a bar with o = h = l = c) or per candle, for all sets in one compiled loop. The
order inside one update is: exits first, then entries; a set that closed a position in this update ignores a
signal of the same update (Part 1 §1).

Per open slot the book also accumulates *time in drawdown*: the time during which the position's price was on
the losing side of its entry (sampled at each update), which the Real gate averages.
"""

from __future__ import annotations

import io
import lzma
import zipfile
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from cts_desktop.domain.bars import LONG, SHORT, FloatArray
from cts_desktop.domain.exits import ExitParams, bar_step, levels, result_fraction
from cts_desktop.domain.jit import kernel
from cts_desktop.domain.matrix import ExitMatrix

VariantKey = tuple[str, tuple[float, ...], int]


class SetStatus(IntEnum):
    """Status of a configuration set (rules in :mod:`cts_desktop.domain.gates`)."""

    EVALUATING = 0
    ACTIVE = 1
    PAUSED = 2
    FAILED = 3


# slot fields (float): entry, stop, best, tp level, arming level, trailing distance, entry time, time in
# drawdown, last update time — all prices in signed space
F_ENTRY, F_STOP, F_BEST, F_TP, F_ARM, F_TDIST, F_T0, F_UW, F_LAST = range(9)
N_SLOT_F = 9
# slot flags
B_OPEN, B_ARMED = range(2)
# Ring entries are compact because they dominate memory (up to sets × L × (1 + t) entries, 16 bytes each):
# float32 (result as a fraction of entry notional, fees included; time in drawdown in seconds) and
# uint32 whole epoch seconds (entry time, close time).
R_RESULT, R_UW = range(2)
T_ENTRY, T_CLOSE = range(2)
# per-set scalars (float): last entry time, last exit time
S_LAST_ENTRY, S_LAST_EXIT = range(2)
# Rings live in chunks of CHUNK entries taken from one pool per book as a set's results arrive (a per-set table
# says where each chunk of its ring is): a set holds memory for the results it has, not for the L × (1 + t) it may
# reach. The pool is allocated zeroed for every chunk every set could take (calloc: pages not yet used cost
# nothing) and handed out in order, so the used memory is the first ``used`` chunks. Chunk 0 stays zero: a table
# entry 0 is a chunk not taken yet, which reads as never-written entries (zeros), as the whole rings did.
CHUNK = 16


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


@kernel(inline=True)
def ring_at(chunks: npt.NDArray[np.int32], s: int, i: int) -> int:
    """The pool row of entry ``i`` of set ``s`` (in the zero chunk if the set never wrote that far)."""
    return int(chunks[s, i // CHUNK]) * CHUNK + i % CHUNK


@kernel(inline=True)
def ring_put(pool_r: npt.NDArray[np.float32], pool_t: npt.NDArray[np.uint32], chunks: npt.NDArray[np.int32],
             used: npt.NDArray[np.int64], s: int, i: int, result: float, uw: float, t0: float, t1: float) -> int:
    """Write entry ``i`` of set ``s`` (result, time in drawdown, entry and close time), taking the next chunk of
    the pool when it starts a new one; returns its pool row."""
    c = i // CHUNK
    k = chunks[s, c]
    if k == 0:
        k = used[0]
        used[0] = k + 1
        chunks[s, c] = k
    a = int(k) * CHUNK + i % CHUNK
    pool_r[a, R_RESULT] = result
    pool_r[a, R_UW] = uw
    pool_t[a, T_ENTRY] = np.uint32(np.floor(t0))
    pool_t[a, T_CLOSE] = np.uint32(np.floor(t1))
    return a


@kernel(inline=True)
def ring_cut(pool_r: npt.NDArray[np.float32], pool_t: npt.NDArray[np.uint32], chunks: npt.NDArray[np.int32],
             s: int, cap: int, keep: int) -> None:
    """``ring[s, :keep] = ring[s, cap - keep : cap]`` (the ring is full: every chunk below ``cap`` exists; each
    source lies above its target, so copying upwards reads every source before it is overwritten)."""
    for j in range(keep):
        a = ring_at(chunks, s, j)
        b = ring_at(chunks, s, cap - keep + j)
        pool_r[a, 0] = pool_r[b, 0]
        pool_r[a, 1] = pool_r[b, 1]
        pool_t[a, 0] = pool_t[b, 0]
        pool_t[a, 1] = pool_t[b, 1]


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


@kernel(inline=True)
def open_slot(slot_f: FloatArray, slot_b: npt.NDArray[np.bool_], set_f: FloatArray, s: int, entry: float, t: float,
              tp: float, sl: float, ts: float, tst: float, pc: float) -> bool:
    """Open a pseudo position of set ``s`` at ``entry`` (signed price) in its first free slot; False when all are
    taken. The live book's :func:`_open` and the batch warm-up's replay both open through it."""
    for k in range(slot_b.shape[1]):
        if slot_b[s, k, B_OPEN]:
            continue
        stop, tpl, arm, tdist = levels(entry, tp, sl, ts, tst, pc)
        slot_f[s, k, F_ENTRY] = entry
        slot_f[s, k, F_STOP] = stop
        slot_f[s, k, F_BEST] = entry
        slot_f[s, k, F_TP] = tpl
        slot_f[s, k, F_ARM] = arm
        slot_f[s, k, F_TDIST] = tdist
        slot_f[s, k, F_T0] = t
        slot_f[s, k, F_UW] = 0.0
        slot_f[s, k, F_LAST] = t
        slot_b[s, k, B_OPEN] = True
        slot_b[s, k, B_ARMED] = False
        set_f[s, S_LAST_ENTRY] = t
        return True
    return False


# LZMA preset of a snapshot: 1 (a 1-MB dictionary) packs a book within 15 % of 6 in a tenth of the time
SNAPSHOT_PRESET = 1
_XZ_MAGIC = b"\xfd7zXZ\x00"


class SnapshotCopy:
    """A snapshot of a book taken in steps, then encoded off the owner's thread.

    :meth:`copy_step` copies the next rows of every array (call it on the thread that owns the book, between its
    updates; a row is one set, and sets never read each other, so rows copied at different moments still restore
    a book whose every set is consistent). Rows added after the copy began are left out. :meth:`encode` only
    touches the copies: it compresses them into the bytes of :meth:`SetBook.restore` and may run in a worker
    thread (lzma releases the GIL).

    The bytes are an uncompressed .npz packed whole with xz (LZMA): the rings' index columns repeat in runs far
    longer than deflate's 32-KB window (the sets of one variant closed on the same prices), and LZMA's
    dictionary finds them — a snapshot is a fifteenth of the .npz with deflated members it was, and takes less
    time to make (issue 18: 0.2 MB instead of 3.3 MB for a symbol at the defaults). Those older snapshots still
    restore.

    The rings are stored as the chunks each set took, set by set, field by field (:func:`_ring_columns`): about
    half the bytes of whole rings. Snapshots of whole rings (``ring_r`` / ``ring_t`` members, taken before the
    chunks) still restore."""

    def __init__(self, book: SetBook) -> None:
        self.book = book
        self.rows = len(book)
        self.done_rows = 0
        keys = list(book.variants)
        m = book.matrix
        self._header: dict[str, np.ndarray] = {
            "variant_types": np.array([k[0] for k in keys], dtype=str),
            "variant_params": np.array([repr(tuple(float(x) for x in k[1])) for k in keys], dtype=str),
            "variant_dirs": np.array([k[2] for k in keys], dtype=np.int64),
            "matrix": np.stack([m.tp, m.sl, m.trail_start, m.trail_stop]),
            "ring_shape": np.array([book.params.capacity, CHUNK], dtype=np.int64),
        }
        self._parts: dict[str, list[np.ndarray]] = {name: [] for name in SetBook.ARRAYS if name not in RINGS}
        self._taken: list[np.ndarray] = []
        self._entries_r: list[np.ndarray] = []
        self._entries_t: list[np.ndarray] = []

    @property
    def complete(self) -> bool:
        return self.done_rows >= self.rows

    def copy_step(self, max_rows: int) -> bool:
        """Copy up to ``max_rows`` more rows; True once every row is copied."""
        start = self.done_rows
        stop = min(self.rows, start + max(1, max_rows))
        for name, parts in self._parts.items():
            parts.append(getattr(self.book, name)[start:stop].copy())
        table = self.book.chunks[start:stop]
        ids = table[table != 0].astype(np.int64)  # each set's chunks are the first ones of its table row
        self._taken.append(np.count_nonzero(table, axis=1).astype(np.int32))
        self._entries_r.append(self.book.pool_r.reshape(-1, CHUNK, 2)[ids].reshape(-1, 2))
        self._entries_t.append(self.book.pool_t.reshape(-1, CHUNK, 2)[ids].reshape(-1, 2))
        self.done_rows = stop
        return self.complete

    def encode(self, preset: int = SNAPSHOT_PRESET) -> bytes:
        """The xz-packed .npz bytes (LZMA ``preset``, see :data:`SNAPSHOT_PRESET`)."""
        if not self.complete:
            raise RuntimeError("snapshot copy is not complete")
        arrays = {**self._header, **{name: np.concatenate(parts) if parts else getattr(self.book, name)[:0].copy()
                                     for name, parts in self._parts.items()}}
        arrays["ring_taken"] = np.concatenate(self._taken) if self._taken else np.zeros(0, dtype=np.int32)
        entries_r = np.concatenate(self._entries_r) if self._entries_r else np.zeros((0, 2), dtype=np.float32)
        entries_t = np.concatenate(self._entries_t) if self._entries_t else np.zeros((0, 2), dtype=np.uint32)
        arrays.update(_ring_columns(entries_r, entries_t))
        out = io.BytesIO()
        with lzma.LZMAFile(out, "w", format=lzma.FORMAT_XZ, preset=preset) as packed, \
                zipfile.ZipFile(packed, "w", compression=zipfile.ZIP_STORED) as archive:  # streamed: no raw copy
            for name, array in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
        return out.getvalue()


def _npz_bytes(data: bytes) -> bytes:
    """The .npz of a stored snapshot: unpacked when xz-packed, as it is when an older .npz (deflated members)."""
    return lzma.decompress(data, format=lzma.FORMAT_XZ) if data.startswith(_XZ_MAGIC) else data


RINGS = ("ring_r", "ring_t")


RING_COLUMNS = ("result", "uw", "close", "entry")  # the four fields of a ring entry, as stored in a snapshot


def _ring_columns(entries_r: npt.NDArray[np.float32], entries_t: npt.NDArray[np.uint32]) -> dict[str, np.ndarray]:
    """Ring entries (E, 2 + 2) as four columns, each a table of its distinct 32-bit patterns and one index per entry
    (results repeat: a stop or a target hit at its level gives the same fraction again and again; times repeat
    across the sets that entered on the same indication), which deflate packs far tighter than raw entries.
    :func:`_ring_entries` gives back every bit."""
    columns = (entries_r[:, R_RESULT], entries_r[:, R_UW], entries_t[:, T_CLOSE], entries_t[:, T_ENTRY])
    out: dict[str, np.ndarray] = {}
    for name, column in zip(RING_COLUMNS, columns, strict=True):
        values, index = np.unique(np.ascontiguousarray(column).view(np.uint32), return_inverse=True)
        out[f"ring_{name}_values"] = values
        out[f"ring_{name}_index"] = index.astype(np.uint16 if values.size <= 1 << 16 else np.uint32)
    return out


def _ring_entries(z: Any) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.uint32]]:
    def column(name: str) -> npt.NDArray[np.uint32]:
        values: npt.NDArray[np.uint32] = np.asarray(z[f"ring_{name}_values"], dtype=np.uint32)
        return values[np.asarray(z[f"ring_{name}_index"], dtype=np.int64)]

    result, uw, close, entry = (column(name) for name in RING_COLUMNS)
    entries_r = np.empty((result.size, 2), dtype=np.float32)
    entries_t = np.empty((result.size, 2), dtype=np.uint32)
    entries_r[:, R_RESULT] = result.view(np.float32)
    entries_r[:, R_UW] = uw.view(np.float32)
    entries_t[:, T_CLOSE] = close
    entries_t[:, T_ENTRY] = entry
    return entries_r, entries_t


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
        with np.load(io.BytesIO(_npz_bytes(data)), allow_pickle=False) as z:
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
                book._set_chunks(z["ring_taken"], *_ring_entries(z))
            else:  # a snapshot of whole rings
                book._set_rings(z["ring_r"], z["ring_t"])
            for i, (kind, ptxt, d) in enumerate(
                zip(z["variant_types"].tolist(), z["variant_params"].tolist(), z["variant_dirs"].tolist(),
                    strict=True)
            ):
                values = tuple(float(x) for x in ptxt.strip("()").split(",") if x.strip())
                book.variants[(str(kind), values, int(d))] = i
        return book
