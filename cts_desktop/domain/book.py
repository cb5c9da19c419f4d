"""The configuration-set book of one symbol: every set of the matrix as rows of arrays (Part 1 §3, §5, §6).

A *variant* is (indication type, parameter tuple, direction); it owns one row per configuration of the exit
matrix, so set ``s`` is (variant ``s // C``, configuration ``s % C``). Per set the book keeps up to
``max_open`` open pseudo positions (slots) and a ring of closed results: results are appended until the ring
holds L × (1 + t) of them, then it is cut back to the newest L (Part 1 §5).

Positions move through :func:`cts_desktop.domain.exits.bar_step` — the same rule as the backtest sweep — once
per price update (a tick is a bar with o = h = l = c) or per candle, for all sets in one compiled loop. The
order inside one update is: exits first, then entries; a set that closed a position in this update ignores a
signal of the same update (Part 1 §1).

Per open slot the book also accumulates *time in drawdown*: the time during which the position's price was on
the losing side of its entry (sampled at each update), which the Real gate averages.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from enum import IntEnum

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
# Rings are compact because they dominate memory (sets × L × (1 + t) entries, ~16 bytes each):
# float32 (result as a fraction of entry notional, fees included; time in drawdown in seconds) and
# uint32 whole epoch seconds (entry time, close time).
R_RESULT, R_UW = range(2)
T_ENTRY, T_CLOSE = range(2)
# per-set scalars (float): last entry time, last exit time
S_LAST_ENTRY, S_LAST_EXIT = range(2)


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
    slot_f: FloatArray, slot_b: npt.NDArray[np.bool_], ring_r: npt.NDArray[np.float32],
    ring_t: npt.NDArray[np.uint32], count: npt.NDArray[np.int64],
    total: npt.NDArray[np.int64], set_f: FloatArray, closed_now: npt.NDArray[np.int64],
    timeout: float, fee: float, keep: int,
) -> int:
    """Walk one bar (or tick) for every open slot; append closed results to the rings. Returns #closed."""
    n_sets, n_slots = slot_b.shape[0], slot_b.shape[1]
    cap = ring_r.shape[1]
    closed = 0
    for s in range(n_sets):
        if direction[s] > 0:
            so, sh, sl_, sc = o, h, lo, c
        else:
            so, sh, sl_, sc = -o, -lo, -h, -c
        for k in range(n_slots):
            if not slot_b[s, k, B_OPEN]:
                continue
            f = slot_f[s, k]
            if sc < f[F_ENTRY]:
                f[F_UW] += t - f[F_LAST]
            f[F_LAST] = t
            reason, price, stop, best, armed = bar_step(
                so, sh, sl_, sc, t - f[F_T0], f[F_STOP], f[F_BEST], slot_b[s, k, B_ARMED], f[F_TP],
                trailing[s], f[F_ARM], f[F_TDIST], timeout,
            )
            if reason == 0:
                f[F_STOP] = stop
                f[F_BEST] = best
                slot_b[s, k, B_ARMED] = armed
                continue
            i = count[s]
            ring_r[s, i, R_RESULT] = result_fraction(f[F_ENTRY], price, fee)
            ring_r[s, i, R_UW] = f[F_UW]
            ring_t[s, i, T_ENTRY] = np.uint32(np.floor(f[F_T0]))
            ring_t[s, i, T_CLOSE] = np.uint32(np.floor(t))
            count[s] = i + 1
            total[s] += 1
            if count[s] == cap:
                ring_r[s, :keep] = ring_r[s, cap - keep : cap].copy()
                ring_t[s, :keep] = ring_t[s, cap - keep : cap].copy()
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
    n_slots = slot_b.shape[1]
    for c in range(n_cfg):
        s = first + c
        if not allowed[s] or set_f[s, S_LAST_EXIT] == t or t - set_f[s, S_LAST_ENTRY] < cooldown:
            continue
        for k in range(n_slots):
            if slot_b[s, k, B_OPEN]:
                continue
            stop, tpl, arm, tdist = levels(entry, tp[c], sl[c], ts[c], tst[c], pc)
            f = slot_f[s, k]
            f[F_ENTRY] = entry
            f[F_STOP] = stop
            f[F_BEST] = entry
            f[F_TP] = tpl
            f[F_ARM] = arm
            f[F_TDIST] = tdist
            f[F_T0] = t
            f[F_UW] = 0.0
            f[F_LAST] = t
            slot_b[s, k, B_OPEN] = True
            slot_b[s, k, B_ARMED] = False
            set_f[s, S_LAST_ENTRY] = t
            opened += 1
            break
    return opened


class SnapshotCopy:
    """A snapshot of a book taken in steps, then encoded off the owner's thread.

    :meth:`copy_step` copies the next rows of every array (call it on the thread that owns the book, between its
    updates; a row is one set, and sets never read each other, so rows copied at different moments still restore
    a book whose every set is consistent). Rows added after the copy began are left out. :meth:`encode` only
    touches the copies: it compresses them into the .npz bytes of :meth:`SetBook.restore` and may run in a worker
    thread (zlib releases the GIL)."""

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
        }
        self._parts: dict[str, list[np.ndarray]] = {name: [] for name in SetBook.ARRAYS}

    @property
    def complete(self) -> bool:
        return self.done_rows >= self.rows

    def copy_step(self, max_rows: int) -> bool:
        """Copy up to ``max_rows`` more rows; True once every row is copied."""
        start = self.done_rows
        stop = min(self.rows, start + max(1, max_rows))
        for name, parts in self._parts.items():
            parts.append(getattr(self.book, name)[start:stop].copy())
        self.done_rows = stop
        return self.complete

    def encode(self, level: int = 1) -> bytes:
        """The .npz bytes (deflate ``level``: 1 compresses the mostly-empty rings almost as well as 6, ~4x faster)."""
        if not self.complete:
            raise RuntimeError("snapshot copy is not complete")
        arrays = {**self._header, **{name: np.concatenate(parts) if parts else getattr(self.book, name)[:0].copy()
                                     for name, parts in self._parts.items()}}
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
            for name, array in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
        return out.getvalue()


def _pack_ring(ring: npt.NDArray[np.generic]) -> tuple[tuple[int, ...], str, npt.NDArray[np.int64], np.ndarray]:
    """A (sets, capacity, 2) ring as (shape, dtype, entries kept per set, the kept entries in order): per set the
    entries up to its last one with a non-zero bit, so :func:`_unpack_ring` gives back the same bytes."""
    shape, cap = ring.shape, ring.shape[1]
    if ring.size == 0:
        return shape, ring.dtype.str, np.zeros(shape[0], dtype=np.int64), ring.reshape(0, *shape[2:])
    nonzero = (ring.view(f"u{ring.dtype.itemsize}") != 0).any(axis=2)
    last = np.where(nonzero.any(axis=1), cap - np.argmax(nonzero[:, ::-1], axis=1), 0).astype(np.int64)
    return shape, ring.dtype.str, last, ring[np.arange(cap) < last[:, None]]


def _unpack_ring(shape: tuple[int, ...], dtype: str, last: npt.NDArray[np.int64], kept: np.ndarray) -> np.ndarray:
    ring: np.ndarray = np.zeros(shape, dtype=np.dtype(dtype))  # calloc: the never-written entries cost nothing
    entry_bytes = ring.itemsize * int(np.prod(shape[2:], dtype=np.int64))
    if kept.size == 0:
        return ring
    if entry_bytes != 8 or not kept.flags.c_contiguous:
        ring[np.arange(shape[1]) < last[:, None]] = kept
        return ring
    # one 8-byte unit per entry, scattered by flat index: ~3x faster than a boolean mask over the whole ring
    # (this runs in the GUI process while it loads a worker's book)
    cap = shape[1]
    first = np.repeat(np.arange(shape[0], dtype=np.int64) * cap, last)
    within = np.arange(first.size, dtype=np.int64) - np.repeat(np.cumsum(last) - last, last)
    ring.view(np.uint64).reshape(-1)[first + within] = kept.view(np.uint64).reshape(-1)
    return ring


class SetBook:
    """All configuration sets of one symbol. Not thread-safe: one owner (the symbol's pipeline) mutates it."""

    def __init__(self, matrix: ExitMatrix, params: BookParams) -> None:
        self.matrix = matrix
        self.params = params
        self.n_cfg = len(matrix)
        self.variants: dict[VariantKey, int] = {}
        k, cap = params.max_open, params.capacity
        # per-set arrays: (shape of one row, dtype, fill). The public attributes are views of the first len(self)
        # rows of buffers that grow by doubling, so adding variants one by one stays linear overall.
        self._spec: dict[str, tuple[tuple[int, ...], type, float]] = {
            "direction": ((), np.int8, 0),
            "trailing": ((), np.bool_, 0),
            "slot_f": ((k, N_SLOT_F), np.float64, 0.0),
            "slot_b": ((k, 2), np.bool_, 0),
            "ring_r": ((cap, 2), np.float32, 0.0),
            "ring_t": ((cap, 2), np.uint32, 0),
            "count": ((), np.int64, 0),  # results stored in the ring
            "total": ((), np.int64, 0),  # results ever closed (drives the phases)
            "set_f": ((2,), np.float64, -np.inf),  # last entry / last exit time
            "status": ((), np.int8, 0),  # SetStatus
            "closed_now": ((), np.int64, 0),  # closed in the last update
        }
        self._rows = 0
        self._buf: dict[str, np.ndarray] = {}
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
        self._bind()

    def _bind(self) -> None:
        n = self._rows
        self.direction = self._buf["direction"][:n]
        self.trailing = self._buf["trailing"][:n]
        self.slot_f = self._buf["slot_f"][:n]
        self.slot_b = self._buf["slot_b"][:n]
        self.ring_r = self._buf["ring_r"][:n]
        self.ring_t = self._buf["ring_t"][:n]
        self.count = self._buf["count"][:n]
        self.total = self._buf["total"][:n]
        self.set_f = self._buf["set_f"][:n]
        self.status = self._buf["status"][:n]
        self.closed_now = self._buf["closed_now"][:n]

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
                o, h, low, c, time, self.direction, self.trailing, self.slot_f, self.slot_b, self.ring_r,
                self.ring_t, self.count, self.total, self.set_f, self.closed_now, e.timeout_s, e.fee,
                self.params.history,
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
        return np.asarray(self.ring_r[s, : self.count[s], R_RESULT], dtype=np.float64)

    def history(self, s: int) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Stored closed positions of set ``s``, oldest first: (result, entry time, close time, time in
        drawdown) — times in whole seconds."""
        n = self.count[s]
        r = np.asarray(self.ring_r[s, :n], dtype=np.float64)
        t = np.asarray(self.ring_t[s, :n], dtype=np.float64)
        return r[:, R_RESULT], t[:, T_ENTRY], t[:, T_CLOSE], r[:, R_UW]

    # -- transfer between processes ---------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, object]:
        """Pickle only what the book holds, uncompressed (the prehistory warm-up runs in a worker process and sends
        the book back): the used rows of every buffer, no spare capacity, and of each ring row only its entries up
        to the last one with a non-zero bit (rings are allocated whole — L × (1 + t) entries per set — but fill
        slowly). Loading is a few copies of memory, no decompression. The copy equals the original bit for bit,
        entries past ``count`` included."""
        state = self.__dict__.copy()
        for name in self._spec:
            state.pop(name, None)  # the bound views are rebuilt by __setstate__
        n = self._rows
        buffers: dict[str, object] = {}
        for name, buf in self._buf.items():
            used = np.ascontiguousarray(buf[:n])
            buffers[name] = _pack_ring(used) if name in ("ring_r", "ring_t") else used
        state["_buf"] = buffers
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        buffers = state.pop("_buf")
        assert isinstance(buffers, dict)
        self.__dict__.update(state)
        self._buf = {}
        for name, value in buffers.items():
            buf = _unpack_ring(*value) if isinstance(value, tuple) else value
            if not buf.flags.writeable:  # unpickled from read-only memory: own a writable copy
                buf = buf.copy()
            self._buf[name] = buf
        self._bind()

    # -- persistence -----------------------------------------------------------------------------------------
    ARRAYS = (
        "direction", "trailing", "slot_f", "slot_b", "ring_r", "ring_t", "count", "total", "set_f", "status",
    )

    def snapshot(self) -> bytes:
        """Compact, self-contained bytes (numpy .npz) the engine stores and :meth:`restore` reads back."""
        copy = SnapshotCopy(self)
        copy.copy_step(len(self))
        return copy.encode()

    @classmethod
    def restore(cls, data: bytes, params: BookParams) -> SetBook:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            mat = z["matrix"]
            book = cls(ExitMatrix(*(np.ascontiguousarray(mat[i]) for i in range(4))), params)
            if z["ring_r"].shape[1] != params.capacity or z["slot_b"].shape[1] != params.max_open:
                raise ValueError("snapshot was taken with another history length or concurrency limit")
            rows = int(z["count"].shape[0])
            book._rows = 0
            book._allocate(rows)
            book._rows = rows
            book._bind()
            for name in cls.ARRAYS:
                getattr(book, name)[...] = z[name]
            for i, (kind, ptxt, d) in enumerate(
                zip(z["variant_types"].tolist(), z["variant_params"].tolist(), z["variant_dirs"].tolist(),
                    strict=True)
            ):
                values = tuple(float(x) for x in ptxt.strip("()").split(",") if x.strip())
                book.variants[(str(kind), values, int(d))] = i
        return book
