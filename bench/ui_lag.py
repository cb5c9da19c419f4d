"""GUI responsiveness while the engine trades: event-loop stalls of the qasync loop and the chart's redraw time.

Part 1 — the whole app (services, main window at 1366×768 on the Dashboard, offscreen) with the coordinator
trading N symbols on paper against the simulator at ×speed, in its own process (as a real exchange is
elsewhere). The shipped replay dataset has three real
series (BTC, ETH, SOL); the benchmark writes a temporary dataset repeating them under N names (as
``bench/engine_lag.py`` does), so every symbol is real market data — the copies move together.
A probe task sleeps 10 ms in a loop; how late it wakes is the stall that a click or a repaint would wait.
The engine's prices reach the Dashboard through the batched bridge (5 flushes a second), the chart follows the
first symbol live and the window's 2-s refresh timer runs as in the app.

Part 2 — the candlestick chart alone with 10,000 real 5-minute candles (``../shared/data`` or, in a fresh clone,
``tests/data``): first paint of the visible window, a live tick (update + repaint) at 1-s cadence, and a paint of
all 10,000 bars (first time: every chunk picture is built; then cached).

Matrix: ``--matrix narrow`` (the default here) trades 12 exit configurations per indication variant (TP 2/4/8 ×
SL 0.5/1.0 × trailing off/(0.6, 0.2)) with Direction and Move over ranges 3–6 (once chosen because the default
settings' history warm-up took about four minutes per symbol-day); ``--matrix default`` measures the shipped
defaults (924 configurations per variant, all indications), whose warm-up now costs seconds per symbol-day and
runs in worker processes (``cts_desktop/engine/warmup.py``), not in the GUI process. ``--days`` sets the prehistory
(default 1 day here; the app's default is 5). ``--trace-stalls MS`` samples where the loop thread is during
stalls longer than MS.

Usage: ``python bench/ui_lag.py [--symbols 20] [--speed 10] [--seconds 60] [--matrix narrow|default] [--days 1]
[--trace-stalls 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("DBUS_SESSION_BUS_ADDRESS", "disabled:")
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "cts_desktop.storage.keyring_memory.MemoryKeyring")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from benchlib import (  # noqa: E402
    StallTracer,
    ThreadCpu,
    make_dataset,
    pct,
    probe,
    simulator_process,
    timed_application,
)
from PySide6.QtWidgets import QApplication  # noqa: E402  (PySide6 before qasync)

NARROW = {
    "indications.activity.enabled": False, "indications.active.enabled": False,
    "indications.direction.range_min": 3, "indications.direction.range_max": 6,
    "indications.move.range_min": 3, "indications.move.range_max": 6,
    "strategy.tp_factors": [2, 4, 8], "strategy.sl_ratios": [0.5, 1.0], "strategy.trailing_starts": [0.6],
    "strategy.trailing_stops": [0.2],
}





async def engine_part(symbols: int, speed: float, seconds: float, matrix: str, days: int = 1,
                      trace_ms: float | None = None, switch_ms: float | None = None) -> None:
    from cts_desktop.app import GuiApp, create_qapp
    from cts_desktop.exchanges.adapter import ExchangeAdapter
    from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID
    from cts_desktop.exchanges.models import Credentials
    from cts_desktop.exchanges.replay_connection import loopback_adapter
    from cts_desktop.services import AppOptions, Services

    work = Path(tempfile.mkdtemp(prefix="cts-ui-bench-"))
    data = work / "replay"
    data.mkdir()
    names = make_dataset(data, symbols)
    exits = contextlib.ExitStack()
    sim = exits.enter_context(simulator_process(data, speed))
    level = os.environ.get("CTS_BENCH_LOG", "warning")
    services = Services(AppOptions(data_dir=work / "app", console_log=False, log_level=level))
    services.settings.set_many({"overall.use_main_symbols": True, "overall.main_symbols": names,
                                "overall.forced_symbols": [], "overall.symbol_count": min(50, symbols),
                                "overall.prehistoric_days": days, **(NARROW if matrix == "narrow" else {})})
    create_qapp()
    if switch_ms is not None:  # instead of the app's (cts_desktop.app.GIL_SWITCH_INTERVAL_S)
        sys.setswitchinterval(switch_ms / 1000)
    print(f"GIL switch interval       {sys.getswitchinterval() * 1000:g} ms", flush=True)
    gui = GuiApp(services)
    gui.window.resize(1366, 768)
    gui.show()
    gui.start(asyncio.get_running_loop())
    trading = await gui.app.load_trading()
    config = trading.store.get(REPLAY_CONNECTION_ID)
    assert config is not None
    trading.store.save(replace(config, is_live_trade=False))

    async def adapter_for(_config: object) -> ExchangeAdapter:
        return loopback_adapter("bybit", Credentials(sim.key, sim.secret), sim.url)

    trading.coordinator.adapters = adapter_for
    dash = gui.window.dashboard
    started = time.perf_counter()
    print("starting the engine …", flush=True)
    start_stalls: list[float] = []
    start_stop = asyncio.Event()
    tracer = StallTracer(trace_ms / 1000, period=min(0.01, trace_ms / 2000)) if trace_ms else None
    start_probe = asyncio.create_task(probe(start_stop, start_stalls, tracer=tracer))
    await dash.run_command("start")
    await trading.coordinator.wait_started(3600)
    start_stop.set()
    await start_probe
    print(f"engine started in {time.perf_counter() - started:.1f} s", flush=True)
    warm = time.perf_counter() - started
    engine = trading.coordinator.engines[REPLAY_CONNECTION_ID]
    await dash.refresh()  # chart sources appear; the chart loads the first symbol
    await asyncio.sleep(3)
    chart = dash.ensure_chart()
    stalls: list[float] = []
    stop = asyncio.Event()
    flushes0, events0, cycles0 = gui.window.bridge.flushes, gui.window.bridge.events_in, engine.meters["main"].cycles
    if tracer is not None:
        tracer.phase = "run"
    threads = ThreadCpu()
    qt_app = QApplication.instance()
    if hasattr(qt_app, "report"):
        qt_app.enabled = True  # type: ignore[attr-defined]
    task = asyncio.create_task(probe(stop, stalls, tracer=tracer))
    await asyncio.sleep(seconds)
    stop.set()
    await task
    bridge = gui.window.bridge
    print(f"symbols traded            {len(engine.symbols)} (of {symbols} requested; BTC/ETH/SOL real series "
          f"repeated), paper, simulator x{speed:g}, {matrix} matrix")
    print(f"engine start              {warm:8.1f} s (markets + {days} day(s) of history per symbol)")
    print(f"measured window           {seconds:8.1f} s: {engine.meters['main'].cycles - cycles0} main cycles, "
          f"{bridge.events_in - events0} bus events → {bridge.flushes - flushes0} bridge flushes")
    print(f"chart                     {chart.source[1] if chart.source else '-'}: {chart.chart.n} bars")
    print(f"event-loop stall p50/p99  {pct(stalls, 0.5):8.2f} / {pct(stalls, 0.99):8.2f} ms "
          f"(max {max(stalls):.1f} ms, {len(stalls)} probes of 10 ms)")
    print(f"stall while starting      p50 {pct(start_stalls, 0.5):.2f} / p99 {pct(start_stalls, 0.99):.2f} ms "
          f"(max {max(start_stalls, default=0):.1f} ms, {len(start_stalls)} probes): history warm-up in worker "
          f"processes")
    threads.report(seconds)
    if hasattr(qt_app, "report"):
        qt_app.enabled = False  # type: ignore[attr-defined]
        qt_app.report(seconds)  # type: ignore[attr-defined]
    if tracer is not None:
        tracer.stop()
        tracer.report()
    await gui.shutdown()
    services.close()
    exits.close()
    shutil.rmtree(work, ignore_errors=True)


def chart_part() -> None:
    from cts_desktop.application.dashboard_data import CandleSeries
    from cts_desktop.ui.charts.chart import CandleChart

    shared = ROOT.parent / "shared" / "data" / "candles" / "bybit_BTCUSDT-PERP_5m.csv"
    if shared.exists():
        d = np.loadtxt(shared, delimiter=",", skiprows=1)[-10_000:]
        source = str(shared)
    else:
        source = str(ROOT / "tests" / "data" / "bybit_BTCUSDT-PERP_5m_last10000.csv.gz")
        d = np.loadtxt(source, delimiter=",", skiprows=1)
    series = CandleSeries("BTC/USDT:USDT", "5m", d[:, 0].astype(np.int64), d[:, 1], d[:, 2], d[:, 3], d[:, 4],
                          d[:, 5])
    chart = CandleChart("dark")
    chart.resize(1000, 520)
    chart.show()
    started = time.perf_counter()
    chart.set_series(series)
    chart.grab()
    first = (time.perf_counter() - started) * 1000
    ticks = []
    last = int(series.ts[-1])
    for k in range(300):  # one tick a second of wall time, 5 minutes of it (a new bar every 300)
        t0 = time.perf_counter()
        chart.on_price(float(series.close[-1]) + (k % 7) - 3, last + 1000 * (k + 1))
        chart.grab()
        ticks.append((time.perf_counter() - t0) * 1000)
    chart.price.setXRange(0, chart.n, padding=0)
    t0 = time.perf_counter()
    chart.grab()
    all_first = (time.perf_counter() - t0) * 1000
    repaints = []
    for _ in range(10):
        t0 = time.perf_counter()
        chart.grab()
        repaints.append((time.perf_counter() - t0) * 1000)
    print(f"chart data                {len(series)} real 5 m candles from {source}")
    print(f"chart first paint         {first:8.1f} ms (set_series + paint of the newest 160 bars)")
    print(f"live tick + repaint       p50 {pct(ticks, 0.5):.1f} ms, p99 {pct(ticks, 0.99):.1f} ms ({len(ticks)} ticks)")
    print(f"all 10,000 bars           first {all_first:.1f} ms (every chunk built), then "
          f"{statistics.median(repaints):.1f} ms (cached)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--matrix", choices=("narrow", "default"), default="narrow")
    parser.add_argument("--days", type=int, default=1, help="prehistoric days of 1 m history per symbol")
    parser.add_argument("--chart-only", action="store_true")
    parser.add_argument("--profile-qt", action="store_true",
                        help="time every Qt event by type and receiver (adds overhead; compare runs with each other)")
    parser.add_argument("--switch-interval", type=float, default=None, metavar="MS",
                        help="sys.setswitchinterval for this run (the app sets 1 ms; Python's default is 5)")
    parser.add_argument("--trace-stalls", type=float, default=None, metavar="MS",
                        help="sample where the GUI loop thread is while it stalls longer than MS")
    args = parser.parse_args()
    import qasync

    app = QApplication.instance() or (timed_application([]) if args.profile_qt else QApplication([]))
    chart_part()
    if args.chart_only:
        return
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(engine_part(args.symbols, args.speed, args.seconds, args.matrix, args.days,
                                            args.trace_stalls, args.switch_interval))


if __name__ == "__main__":
    main()
