"""The bytes a configuration-set book is stored as (the engine's book snapshots): taken in steps on the thread
that owns the book, encoded off it, read back by :meth:`cts_desktop.domain.book.SetBook.restore`."""

from __future__ import annotations

import io
import lzma
import zipfile
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from cts_desktop.domain.book_layout import CHUNK, R_RESULT, R_UW, T_CLOSE, T_ENTRY
from cts_desktop.domain.jit import kernel
from cts_desktop.domain.matrix import ExitMatrix


class SnapshotSource(Protocol):
    """What a snapshot reads of a book (:class:`cts_desktop.domain.book.SetBook`; named here by its shape, so the
    book can import this module)."""

    @property
    def ARRAYS(self) -> tuple[str, ...]: ...  # the book's class constant

    @property
    def variants(self) -> dict[tuple[str, tuple[float, ...], int], int]: ...

    @property
    def matrix(self) -> ExitMatrix: ...

    @property
    def chunks(self) -> npt.NDArray[np.int32]: ...

    @property
    def params(self) -> Any: ...

    @property
    def pool_r(self) -> npt.NDArray[np.float32]: ...

    @property
    def pool_t(self) -> npt.NDArray[np.uint32]: ...

    def __len__(self) -> int: ...

# LZMA preset of a snapshot: 1 (a 1-MB dictionary) packs a book within 15 % of 6 in a tenth of the time
SNAPSHOT_PRESET = 1
_XZ_MAGIC = b"\xfd7zXZ\x00"


class SnapshotCopy:
    """A snapshot of a book taken in steps, then encoded off the owner's thread.

    :meth:`copy_step` copies the next rows of every array (call it on the thread that owns the book, between its
    updates; a row is one set, and sets never read each other, so rows copied at different moments still restore
    a book whose every set is consistent). Rows added after the copy began are left out. :meth:`encode` only
    touches the copies: it compresses them into the bytes ``SetBook.restore`` reads and may run in a worker thread
    (lzma releases the GIL).

    The bytes are an uncompressed .npz packed whole with xz (LZMA): the rings' index columns repeat in runs far
    longer than deflate's 32-KB window (the sets of one variant closed on the same prices), and LZMA's
    dictionary finds them — a snapshot is a fifteenth of the .npz with deflated members it was, and takes less
    time to make (issue 18: 0.2 MB instead of 3.3 MB for a symbol at the defaults). Those older snapshots still
    restore.

    The rings are stored as the chunks each set took, set by set, field by field (:func:`ring_columns`): about
    half the bytes of whole rings. Snapshots of whole rings (``ring_r`` / ``ring_t`` members, taken before the
    chunks) still restore."""

    def __init__(self, book: SnapshotSource) -> None:
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
        self._parts: dict[str, list[np.ndarray]] = {name: [] for name in book.ARRAYS if name not in RINGS}
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
        arrays.update(ring_columns(entries_r, entries_t))
        out = io.BytesIO()
        with lzma.LZMAFile(out, "w", format=lzma.FORMAT_XZ, preset=preset) as packed, \
                zipfile.ZipFile(packed, "w", compression=zipfile.ZIP_STORED) as archive:  # streamed: no raw copy
            for name, array in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
        return out.getvalue()


def npz_bytes(data: bytes) -> bytes:
    """The .npz of a stored snapshot: unpacked when xz-packed, as it is when an older .npz (deflated members)."""
    return lzma.decompress(data, format=lzma.FORMAT_XZ) if data.startswith(_XZ_MAGIC) else data


RINGS = ("ring_r", "ring_t")


RING_COLUMNS = ("result", "uw", "close", "entry")  # the four fields of a ring entry, as stored in a snapshot


def ring_columns(entries_r: npt.NDArray[np.float32], entries_t: npt.NDArray[np.uint32]) -> dict[str, np.ndarray]:
    """Ring entries (E, 2 + 2) as four columns, each a table of its distinct 32-bit patterns and one index per entry
    (results repeat: a stop or a target hit at its level gives the same fraction again and again; times repeat
    across the sets that entered on the same indication), which deflate packs far tighter than raw entries.
    :func:`ring_entries` gives back every bit."""
    columns = (entries_r[:, R_RESULT], entries_r[:, R_UW], entries_t[:, T_CLOSE], entries_t[:, T_ENTRY])
    out: dict[str, np.ndarray] = {}
    for name, column in zip(RING_COLUMNS, columns, strict=True):
        values, index = distinct(np.ascontiguousarray(column).view(np.uint32))
        out[f"ring_{name}_values"] = values
        out[f"ring_{name}_index"] = index.astype(np.uint16 if values.size <= 1 << 16 else np.uint32)
    return out


def distinct(column: npt.NDArray[np.uint32]) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """``np.unique(column, return_inverse=True)``, bit for bit, in linear time: a hash table finds the distinct
    values (a book has a million entries and a few thousand distinct patterns per column), then only those are
    sorted. numpy sorts the whole column (a fifth of a second per symbol, every snapshot)."""
    first, codes = _first_seen(column)
    order = np.argsort(first, kind="stable")
    rank = np.empty(first.size, dtype=np.int64)
    rank[order] = np.arange(first.size)
    return first[order], rank[codes]


@kernel()
def _first_seen(column: npt.NDArray[np.uint32]) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """The distinct values of ``column`` in the order they first appear, and each entry's position among them
    (open addressing, linear probing; the table doubles at half full)."""
    n = column.size
    size = 1024
    keys = np.zeros(size, dtype=np.uint32)
    slot = np.full(size, -1, dtype=np.int64)
    first = np.empty(n, dtype=np.uint32)
    codes = np.empty(n, dtype=np.int64)
    k = 0
    for i in range(n):
        x = column[i]
        h = (np.uint64(x) * np.uint64(2654435761)) & np.uint64(size - 1)
        while slot[h] >= 0 and keys[h] != x:
            h = (h + np.uint64(1)) & np.uint64(size - 1)
        if slot[h] >= 0:
            codes[i] = slot[h]
            continue
        keys[h] = x
        slot[h] = k
        first[k] = x
        codes[i] = k
        k += 1
        if 2 * k > size:  # rehash into a table twice the size
            size *= 2
            keys = np.zeros(size, dtype=np.uint32)
            slot = np.full(size, -1, dtype=np.int64)
            for j in range(k):
                g = (np.uint64(first[j]) * np.uint64(2654435761)) & np.uint64(size - 1)
                while slot[g] >= 0:
                    g = (g + np.uint64(1)) & np.uint64(size - 1)
                keys[g] = first[j]
                slot[g] = j
    return first[:k].copy(), codes


def ring_entries(z: Any) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.uint32]]:
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
