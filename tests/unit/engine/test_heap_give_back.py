"""Free heap memory goes back to the system after a warm-up or a snapshot (glibc's malloc_trim): a process that
runs for weeks does not keep the peak of every transient copy resident."""

from __future__ import annotations

import sys

import psutil
import pytest

from cts_desktop.engine import heap

MB = 1024 * 1024


@pytest.mark.skipif(not sys.platform.startswith("linux") or heap._TRIM is None, reason="glibc only")
def test_freed_blocks_between_live_ones_leave_the_resident_set() -> None:
    process = psutil.Process()
    blocks, pins = [], []
    for _ in range(2_000):  # 64 KB blocks on the heap (below the mmap threshold), each pinned by a small one after it
        blocks.append(bytearray(64 * 1024))
        pins.append(bytearray(64))
    for block in blocks:
        block[::4096] = b"\x01" * len(block[::4096])  # touch every page
    del blocks
    before = process.memory_info().rss
    assert heap.give_back()
    after = process.memory_info().rss
    assert before - after > 60 * MB  # most of the 125 MB freed between the pins
    assert len(pins) == 2_000
