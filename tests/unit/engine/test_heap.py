"""Once the first engine has started, the objects alive then are frozen out of the cyclic collector (a full
collection of them stalled the event loop ~100 ms); only once per process. Runs in a child interpreter so this test
process's own collector is left alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_settle_heap_freezes_the_live_objects_once() -> None:
    code = textwrap.dedent("""
        import gc
        from cts_desktop.engine.heap import settle_heap
        keep = [[i] for i in range(50_000)]  # long-lived objects the collector tracks
        assert gc.get_freeze_count() == 0
        assert settle_heap() is True
        frozen = gc.get_freeze_count()
        assert frozen >= 50_000, frozen
        assert settle_heap() is False and gc.get_freeze_count() == frozen
        print("ok", frozen)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")
