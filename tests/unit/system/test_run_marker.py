"""The run marker: a clean end leaves nothing, a run that did not end cleanly is found at the next start."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cts_desktop.system.run_marker import MARKER_FILE, RunMarker, UncleanExit


def test_clean_end_then_unclean_end(tmp_path: Path) -> None:
    marker = RunMarker(tmp_path)
    assert marker.begin("window") is None  # first run
    marker.end()
    assert not (tmp_path / MARKER_FILE).exists()
    assert RunMarker(tmp_path).begin("headless") is None  # the run before ended cleanly
    before = time.time()
    os.utime(tmp_path / MARKER_FILE, (before + 30, before + 30))  # its last heartbeat
    found = RunMarker(tmp_path).begin("window")  # the headless run never ended: killed
    assert found is not None
    assert found.pid == os.getpid() and found.mode == "headless"
    assert found.last_seen == before + 30
    assert "ended without a clean stop" in found.describe() and "(headless, pid" in found.describe()


def test_heartbeat_moves_the_last_seen_time(tmp_path: Path) -> None:
    marker = RunMarker(tmp_path)
    marker.begin("window")
    os.utime(marker.path, (1_000_000.0, 1_000_000.0))
    marker.beat()
    found = marker.read()
    assert found is not None and found.last_seen > time.time() - 60


def test_a_marker_cut_short_by_the_crash_still_tells_the_time(tmp_path: Path) -> None:
    (tmp_path / MARKER_FILE).write_text('{"pid": 12')
    found = RunMarker(tmp_path).begin("window")
    assert found is not None and found.pid is None and found.mode == "unknown mode"


def test_the_time_reads_as_a_person_would() -> None:
    noon = time.mktime((2026, 12, 8, 12, 3, 0, 0, 0, -1))
    exit_ = UncleanExit(1, "window", noon - 3600, noon)
    assert exit_.at(now=noon + 600) == "12:03"
    assert exit_.at(now=noon + 2 * 86_400) == "2026-12-08 12:03"
