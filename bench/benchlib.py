"""What the engine and GUI lag benchmarks share: a dataset of N real replay series, the 10-ms event-loop probe, a
stall tracer and percentiles."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOURCES = ("BTC", "ETH", "SOL")


def make_dataset(target: Path, count: int) -> list[str]:
    from cts_desktop.exchanges.simulator.replay import default_replay_dir

    source = default_replay_dir()
    spec = json.loads((source / "instruments.json").read_text())
    by_base = {i["base"]: i for i in spec["instruments"]}
    instruments, names = [], []
    for k in range(count):
        base = SOURCES[k % len(SOURCES)]
        name = base if k < len(SOURCES) else f"{base}{k:02d}"
        # every string field naming the source (base, symbols) names the copy; replacing once per field (the
        # base used to be set first and then replaced again: "BTC03" became "BTC0303", which has no candle file,
        # so only the three source series were ever traded)
        entry = {key: (value.replace(base, name, 1) if isinstance(value, str) and value.startswith(base) else value)
                 for key, value in by_base[base].items()}
        instruments.append(entry)
        names.append(name)
        for suffix in ("_5m.csv.gz", "_funding.csv.gz"):
            src = source / f"{base}USDT{suffix}"
            if src.exists():
                shutil.copyfile(src, target / f"{name}USDT{suffix}")
    (target / "instruments.json").write_text(json.dumps({"instruments": instruments}))
    return names


class ThreadCpu:
    """CPU seconds per thread of this process over a window: which threads compete with the event loop for the GIL
    (a thread running Python holds it; the loop thread waits up to the switch interval each time it takes it
    back). Python threads are named; others (Qt's, numba's) are shown by their native id."""

    def __init__(self) -> None:
        self.start = self._times()

    @staticmethod
    def _times() -> dict[int, float]:
        import psutil

        return {t.id: t.user_time + t.system_time for t in psutil.Process().threads()}

    def report(self, seconds: float, top: int = 8) -> None:
        import threading

        names = {t.native_id: t.name for t in threading.enumerate()}
        end = self._times()
        used = sorted(((end[k] - self.start.get(k, 0.0), k) for k in end), reverse=True)
        groups: dict[str, float] = {}
        for cpu, tid in used:
            name = names.get(tid, f"native {tid}")
            if name.startswith("asyncio_"):
                name = "asyncio.to_thread pool"
            groups[name] = groups.get(name, 0.0) + cpu
        print(f"CPU by thread ({seconds:.0f} s window):")
        for name, cpu in sorted(groups.items(), key=lambda item: -item[1])[:top]:
            print(f"  {name:28s} {cpu:7.2f} s  ({cpu / seconds * 100:5.1f} % of a core)")


def timed_application(argv: list[str]) -> Any:
    """``--profile-qt``: a QApplication whose ``notify`` times every event it delivers, by event type and receiver
    class, exclusive of nested events (a window's UpdateRequest contains its widgets' Paint events). Delivering every
    event through Python costs some speed, so stall figures taken with it are only comparable with each other."""
    import collections

    from PySide6.QtWidgets import QApplication

    class TimedApplication(QApplication):
        def __init__(self, args: list[str]) -> None:
            super().__init__(args)
            self.enabled = False
            self.exclusive: collections.defaultdict[str, float] = collections.defaultdict(float)
            self.counts: collections.Counter[str] = collections.Counter()
            self.worst: dict[str, float] = {}
            self._nested: list[float] = []

        def notify(self, receiver: Any, event: Any) -> bool:
            if not self.enabled:
                return super().notify(receiver, event)
            self._nested.append(0.0)
            started = time.perf_counter()
            try:
                return super().notify(receiver, event)
            finally:
                took = time.perf_counter() - started
                own = took - self._nested.pop()
                if self._nested:
                    self._nested[-1] += took
                key = f"{event.type().name} → {type(receiver).__name__}"
                self.exclusive[key] += own
                self.counts[key] += 1
                self.worst[key] = max(self.worst.get(key, 0.0), own)

        def report(self, seconds: float, top: int = 16) -> None:
            print(f"Qt events by exclusive time ({seconds:.0f} s window; event → receiver class):")
            for key, total in sorted(self.exclusive.items(), key=lambda item: -item[1])[:top]:
                print(f"  {total:7.3f} s  {self.counts[key]:7d}×  worst {self.worst[key] * 1000:6.1f} ms  {key}")

    return TimedApplication(argv)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def probe(stop: asyncio.Event, stalls: list[float], period: float = 0.010,
                tracer: StallTracer | None = None) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(period)
        now = time.perf_counter()
        stalls.append(max(0.0, (now - started - period) * 1000))
        if tracer is not None:
            tracer.beat = now


class StallTracer:
    """``--trace-stalls``: a watchdog thread samples the event-loop thread's stack every 50 ms while the loop has not
    woken the probe for more than ``threshold`` s, and counts where it was (the innermost project frames)."""

    def __init__(self, threshold: float = 0.2, period: float = 0.05) -> None:
        import collections
        import threading

        self.threshold = threshold
        self.period = period
        self.beat = time.perf_counter()
        self.phase = "start"
        self.samples: collections.Counter[tuple[str, str]] = collections.Counter()
        self.loop_thread = threading.get_ident()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="stall-tracer", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        import sys
        import traceback

        while not self._stop.wait(self.period):
            if time.perf_counter() - self.beat < self.threshold:
                continue
            frame = sys._current_frames().get(self.loop_thread)
            if frame is None:
                continue
            frames = traceback.extract_stack(frame)
            stack = [f for f in frames if "cts_desktop" in f.filename]
            where = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack[-4:]))
            if not where:  # outside the project: the innermost frames say whose code it was (Qt, asyncio, …)
                where = "(outside) " + " < ".join(
                    f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.name}" for f in reversed(frames[-3:]))
            self.samples[(self.phase, where)] += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def report(self) -> None:
        print(f"event-loop stalls > {self.threshold * 1000:.0f} ms, where the loop thread was (samples of "
              f"{self.period * 1000:.0f} ms):")
        for (phase, where), n in self.samples.most_common(12):
            print(f"  {phase:5s} {n * self.period:6.2f} s  {where}")


@dataclass(frozen=True)
class Simulator:
    pid: int
    url: str
    key: str
    secret: str


@contextlib.contextmanager
def simulator_process(data_dir: Path, speed: float) -> Iterator[Simulator]:
    """The loopback exchange in its own process, as a real exchange is elsewhere: its websocket pushes and HTTP
    handling then cost the measured process nothing (in-process they were a good part of the GUI loop's stalls)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cts_desktop.exchanges.simulator", "--speed", str(speed), "--data-dir", str(data_dir),
         "--no-rate-limits"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            account = json.loads(line)
            if account["exchange"] == "bybit":
                break
        else:
            raise RuntimeError("the simulator process exited before it listened")
        yield Simulator(proc.pid, account["url"], account["apiKey"], account["secret"])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
