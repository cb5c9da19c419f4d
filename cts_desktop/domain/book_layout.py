"""Where a configuration-set book keeps things in its arrays, and the compiled steps that work on them.

Per set: slots of open pseudo positions (float fields ``F_*`` and flags ``B_*``), per-set scalars (``S_*``) and a
ring of closed results kept in chunks of a pool (result and time in drawdown as float32 ``R_*``, entry and close
time as uint32 ``T_*``). :mod:`cts_desktop.domain.book` (the live book), :mod:`~cts_desktop.domain.book_replay`
(the batch warm-up) and :mod:`~cts_desktop.domain.book_stats` read and write them only through these names.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cts_desktop.domain.bars import FloatArray
from cts_desktop.domain.exits import levels
from cts_desktop.domain.jit import kernel

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
