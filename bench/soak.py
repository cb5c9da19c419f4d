"""Soak: the app left running for N simulated hours on Replay at high speed — memory, disk and loop lag per hour.

Headless (the services and the coordinator, as ``cts-desktop --headless`` runs them) or, with ``--gui``, the whole
window offscreen at 1366×768 on the Dashboard. The engine trades ``--symbols`` real series on paper (BTC, ETH, SOL
repeated under N names, as ``bench/engine_lag.py`` builds them) against the simulator in its own process at
``--speed`` (×120: one simulated hour is 30 s of wall time), at the default settings unless ``--set key=value``
says otherwise (``--days`` of prehistory). Per simulated hour it prints the RSS of the app process (warm-up workers
are reported apart while they run), the data folder's size (everything in it: the database, its WAL, the backups,
the logs) and the event-loop stall p99 (a 10-ms probe: how late it wakes); ``--holders`` adds the largest holders
of memory (set books, the engines' queues, Python objects by type, resident memory by mapping — anonymous, C heap,
each library — and glibc's heap: in use and free in its arenas) and with ``--gui`` the window's (Qt objects by
class, item models' rows, the chart's bars, cached pictures, scene items and marker atlas, the types that grew
since the last hour), ``--trace-alloc`` the largest live allocations by the project's line that made them (slow).
The last line:

``warm-up S s; RSS MB steady, growth P %/h; disk MB after 1 h, MB/day; stall p99 MS ms``

— RSS steady is the median over the hours after the first, growth the fitted slope over those hours relative to
it, disk after the first hour and its fitted growth per simulated day. Periodic backups follow the simulated clock
(the "Backup interval" is in simulated hours), so a simulated day holds a day's backups; the other timers (book
snapshots every ten minutes, the retention cleanup, the size cap) run on wall time.

``--reuse FOLDER`` starts again on the data folder a ``--keep`` run printed: a restart, whose warm-up restores the
stored book snapshots and replays only the minutes since, on a database that needs no migration.

Usage: ``python bench/soak.py [--symbols 8] [--hours 24] [--speed 120] [--gui] [--days 5] [--holders]
[--keep] [--reuse FOLDER] [--set key=value ...]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("DBUS_SESSION_BUS_ADDRESS", "disabled:")
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "cts_desktop.storage.keyring_memory.MemoryKeyring")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import make_dataset, pct, probe, simulator_process  # noqa: E402
from memory_map import native_holders  # noqa: E402

MB = 1024 * 1024


def folder_size(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file():
                total += path.stat().st_size
    return total


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs (0 with fewer than two points)."""
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def holders(engines: dict[str, Any]) -> list[str]:
    """The largest holders of memory this run knows of, largest first."""
    rows: list[tuple[int, str]] = []
    for engine in engines.values():
        pipelines = getattr(engine, "pipelines", {}).values()
        books = sum(p.book.memory() for p in pipelines)
        whole = sum(p.book.ring_r.nbytes + p.book.ring_t.nbytes for p in pipelines)
        results = sum(int(p.book.count.sum()) for p in pipelines)
        rows.append((books, f"set books of {engine.config.id}: {books / MB:.1f} MB held ({results:,} results "
                            f"stored; whole rings would take {whole / MB:.1f} MB)"))
        store = getattr(engine, "store", None)
        if store is not None:
            pending = sum(len(v) for v in store.dirty.values())
            rows.append((0, f"sets waiting to be stored: {pending}, pseudo results waiting: "
                            f"{len(store.pending_results)}"))
    counts = Counter(type(o).__name__ for o in gc.get_objects())
    rows += [(0, "objects by type: " + ", ".join(f"{name} {n}" for name, n in counts.most_common(8)))]
    packages = Counter(name.partition(".")[0] for name in list(sys.modules))
    rows += [(0, f"modules imported: {len(sys.modules)}; by package: "
                 + ", ".join(f"{name} {n}" for name, n in packages.most_common(10)))]
    rows += [(0, line) for line in native_holders()]
    return [text for _, text in sorted(rows, key=lambda r: -r[0])]


_last_types: Counter[str] = Counter()


def type_growth(limit: int = 8) -> str:
    """Python objects by type that grew most since the last call (all tracked objects the first time)."""
    global _last_types
    counts = Counter(type(o).__name__ for o in gc.get_objects())
    grown = (counts - _last_types) if _last_types else counts
    _last_types = counts
    return (f"Python objects {sum(counts.values()):,}, grown most: "
            + ", ".join(f"{name} +{n:,}" for name, n in grown.most_common(limit)))


def window_holders(window: Any) -> list[str]:
    """What the window holds (``--gui``): Qt objects by class, the rows of every item model, the chart's bars,
    cached pictures, scene items and marker atlas, asyncio tasks and threads."""
    import threading

    from PySide6.QtCore import QAbstractItemModel, QObject
    from PySide6.QtWidgets import QApplication

    children = window.findChildren(QObject)
    classes = Counter(type(o).__name__ for o in children)
    lines = [f"Qt objects under the window {len(children):,} (widgets in the app {len(QApplication.allWidgets()):,}): "
             + ", ".join(f"{name} {n}" for name, n in classes.most_common(6))]
    models = sorted(((m.rowCount(), m.objectName() or type(m).__name__) for m in children
                     if isinstance(m, QAbstractItemModel)), reverse=True)
    lines.append(f"item models {len(models)}, rows {sum(r for r, _ in models):,}; largest: "
                 + ", ".join(f"{name} {rows}" for rows, name in models[:5]))
    panel = window.dashboard.chart_panel if hasattr(window, "dashboard") else None
    if panel is not None:
        chart = panel.chart
        atlas = {kind: len(item.fragmentAtlas) for kind, item in chart.markers.items()}
        spots = {kind: len(item.data) for kind, item in chart.markers.items()}
        lines.append(f"chart: {chart.n:,} bars (room for {chart._cap:,}), pictures {len(chart.candles._pictures)} + "
                     f"{len(chart.volumes._pictures)}, scene items {len(chart.view.scene().items())}, level lines "
                     f"{len(chart.level_lines)}, markers {spots}, marker atlas entries {atlas}")
    tasks = len(asyncio.all_tasks())
    lines.append(f"asyncio tasks {tasks}, threads {threading.active_count()}")
    lines.append(type_growth())
    return lines


def allocations(limit: int = 12) -> list[str]:
    """The largest live allocations Python and numpy made since the start (``--trace-alloc``), by the project's
    innermost line on their stack."""
    import tracemalloc

    sites: Counter[str] = Counter()
    blocks: Counter[str] = Counter()
    for stat in tracemalloc.take_snapshot().statistics("traceback"):
        frames = list(stat.traceback)  # oldest first
        ours = [f for f in frames if "cts_desktop" in f.filename]
        frame = (ours or frames)[-1]
        where = f"{frame.filename.split('cts_desktop/')[-1]}:{frame.lineno}"
        sites[where] += stat.size
        blocks[where] += stat.count
    return [f"{size / MB:8.1f} MB in {blocks[where]:,} blocks at {where}" for where, size in sites.most_common(limit)]


def simulated_backups(services: Any, speed: float) -> None:
    """Periodic backups on the simulated clock: the scheduler sees time pass ``speed`` times faster and looks every
    simulated minute."""
    from datetime import UTC, datetime

    scheduler = services.safety.scheduler
    start = datetime.now(UTC)
    scheduler.clock = lambda: start + (datetime.now(UTC) - start) * speed
    scheduler.tick_s = max(0.5, 60.0 / speed)


async def soak(args: argparse.Namespace) -> None:
    import psutil

    from cts_desktop.events.status import EngineState
    from cts_desktop.exchanges.adapter import ExchangeAdapter
    from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID
    from cts_desktop.exchanges.models import Credentials
    from cts_desktop.exchanges.replay_connection import loopback_adapter
    from cts_desktop.services import AppOptions, Services

    work = Path(args.reuse).parent if args.reuse else Path(tempfile.mkdtemp(prefix="cts-soak-"))
    data = work / "replay"
    data.mkdir(exist_ok=True)
    names = make_dataset(data, args.symbols)  # the same files again when reused
    app_dir = work / "app"
    exits = contextlib.ExitStack()
    sim = exits.enter_context(simulator_process(data, args.speed))
    services = Services(AppOptions(data_dir=app_dir, console_log=False, log_level=args.log_level))
    values: dict[str, object] = {"overall.use_main_symbols": True, "overall.main_symbols": names,
                                 "overall.forced_symbols": [], "overall.symbol_count": min(30, args.symbols),
                                 "overall.prehistoric_days": args.days}
    for item in args.set:
        key, _, text = item.partition("=")
        values[key] = json.loads(text)
    services.settings.set_many(values)
    simulated_backups(services, args.speed)
    gui = None
    if args.gui:
        from cts_desktop.app import GuiApp, create_qapp

        create_qapp()
        gui = GuiApp(services)
        gui.window.resize(1366, 768)
        gui.show()
        gui.start(asyncio.get_running_loop())
        trading = await gui.app.load_trading()
    else:
        services.start(asyncio.get_running_loop())
        trading = services.trading
    config = trading.store.get(REPLAY_CONNECTION_ID)
    assert config is not None
    trading.store.save(replace(config, is_live_trade=False))

    async def adapter_for(_config: object) -> ExchangeAdapter:
        return loopback_adapter("bybit", Credentials(sim.key, sim.secret), sim.url)

    trading.coordinator.adapters = adapter_for
    proc = psutil.Process()
    mode = "window (offscreen)" if gui is not None else "headless"
    print(f"soak: {mode}, {args.symbols} symbols, x{args.speed:g}, {args.hours} simulated h, {args.days} day(s) of "
          f"prehistory, data folder {app_dir}", flush=True)
    started = time.perf_counter()
    if gui is not None:
        await gui.window.dashboard.run_command("start")
    else:
        await trading.coordinator.start()
    await trading.coordinator.wait_started(7200)
    warm = time.perf_counter() - started
    engine = trading.coordinator.engines[REPLAY_CONNECTION_ID]
    if engine.state is not EngineState.RUNNING:  # a failed start is no soak
        raise SystemExit(f"the engine did not start: {engine.state.name}: {engine.last_error}")
    workers = sum(c.memory_info().rss for c in proc.children(recursive=True) if c.pid != sim.pid)
    print(f"warm-up {warm:.1f} s; RSS {proc.memory_info().rss / MB:.0f} MB (+ workers {workers / MB:.0f} MB); "
          f"disk {folder_size(app_dir) / MB:.1f} MB", flush=True)
    hour_s = 3600.0 / args.speed
    rss: list[float] = []
    disk: list[float] = []
    all_stalls: list[float] = []
    for hour in range(1, args.hours + 1):
        stalls: list[float] = []
        stop = asyncio.Event()
        task = asyncio.create_task(probe(stop, stalls))
        await asyncio.sleep(hour_s)
        stop.set()
        await task
        gc.collect()
        rss.append(proc.memory_info().rss / MB)
        disk.append(folder_size(app_dir) / MB)
        if hour > 1:
            all_stalls += stalls
        print(f"hour {hour:3d}: RSS {rss[-1]:7.1f} MB  disk {disk[-1]:7.1f} MB  stall p99 {pct(stalls, 0.99):6.1f} ms",
              flush=True)
        if args.holders:
            window = window_holders(gui.window) if gui is not None else []
            for line in holders(trading.coordinator.engines) + window:
                print(f"           {line}")
        if args.trace_alloc:
            for line in allocations():
                print(f"           {line}")
    later = list(range(1, len(rss)))  # the hours after the first
    steady = statistics.median(rss[1:]) if len(rss) > 1 else (rss[0] if rss else float("nan"))
    growth = slope([float(h) for h in later], [rss[h] for h in later]) / steady * 100 if later else 0.0
    per_day = slope([float(h) for h in later], [disk[h] for h in later]) * 24 if later else 0.0
    stall = pct(all_stalls, 0.99) if all_stalls else float("nan")
    if gui is not None:
        await gui.shutdown()
    else:
        with contextlib.suppress(Exception):
            await trading.coordinator.stop()
    services.close()
    exits.close()
    if args.keep or args.reuse:
        print(f"data folder kept: {app_dir}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    first_hour = disk[0] if disk else 0.0
    print(f"warm-up {warm:.0f} s; RSS {steady:.0f} MB steady, growth {growth:.1f} %/h; disk {first_hour:.0f} MB "
          f"after 1 h, {per_day:.0f} MB/day; stall p99 {stall:.1f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--symbols", type=int, default=8)
    parser.add_argument("--hours", type=int, default=24, help="simulated hours after the warm-up")
    parser.add_argument("--speed", type=float, default=120.0, help="simulator speed (x real time)")
    parser.add_argument("--days", type=int, default=5, help="prehistoric days (the setting's default: 5)")
    parser.add_argument("--gui", action="store_true", help="the whole window, offscreen")
    parser.add_argument("--holders", action="store_true", help="print the largest holders of memory every hour")
    parser.add_argument("--keep", action="store_true", help="keep the data folder (to look at what it holds)")
    parser.add_argument("--reuse", metavar="FOLDER", help="start again on a data folder a --keep run left (a restart: "
                                                          "its database, book snapshots and candles); kept")
    parser.add_argument("--trace-alloc", action="store_true",
                        help="trace Python and numpy allocations (slow) and print the largest sites every hour")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="a setting for this run")
    parser.add_argument("--log-level", default="warning",
                        help="the app's log level (debug: per-symbol warm-up times in logs/cts-desktop.log; --keep)")
    args = parser.parse_args()
    if args.trace_alloc:
        import tracemalloc

        tracemalloc.start(16)
    if args.gui:
        import qasync
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication([])
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        with loop:
            loop.run_until_complete(soak(args))
    else:
        asyncio.run(soak(args))


if __name__ == "__main__":
    main()
