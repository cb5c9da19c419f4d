"""Engine cycle lag and CPU with many symbols on the Replay simulator (issue 5's ``bench/engine_lag.py``).

The shipped replay dataset has three real series (BTC, ETH, SOL USDT-perp 5 m). To load the engine with N symbols
the benchmark writes a temporary dataset in which those three real series are repeated under N names (same
contract specifications as their source), so every symbol is real market data; the copies move together.
One connection trades them on paper at the default settings (``--days`` of prehistory, default: the setting's
default, 5) with the simulator at ×speed, in its own process (as a real exchange is elsewhere); at most
``overall.symbol_count``'s maximum (30) symbols are traded.

Reported for the start (markets + history warm-up, which runs in worker processes): wall time, CPU of this process
and of the warm-up workers, and the event-loop stall (a probe task sleeping 10 ms: how late it wakes — what a GUI
would feel). Then, over a measuring window: main-loop cycle time p50/p99 (one cycle = one drained batch of price
updates), price lag p50/p99 (exchange timestamp of the oldest price in a batch → processed), the number of price
updates, the event-loop stall and the process CPU (psutil; 100 % = one core); ``--settle`` seconds of trading
before that window are reported apart (the first persist after the warm-up writes every set the warm-up touched).

Usage: ``python bench/engine_lag.py [--symbols 50] [--speed 10] [--seconds 60] [--days 5] [--settle 0]
[--trace-stalls]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("PYTHON_KEYRING_BACKEND", "cts_desktop.storage.keyring_memory.MemoryKeyring")

from benchlib import SOURCES, StallTracer, ThreadCpu, make_dataset, pct, probe, simulator_process


def children_cpu(proc: object, exclude: int) -> float:
    """CPU seconds of the child processes (the warm-up workers), the simulator's process (``exclude``) left out."""
    import psutil

    assert isinstance(proc, psutil.Process)
    total = 0.0
    for child in proc.children(recursive=True):
        if child.pid == exclude:
            continue
        try:
            t = child.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


async def run(symbols: int, speed: float, seconds: float, days: int | None, trace: bool = False,
              settle: float = 0.0) -> None:
    import psutil

    from cts_desktop.events.status import EngineState
    from cts_desktop.exchanges.adapter import ExchangeAdapter
    from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID
    from cts_desktop.exchanges.models import Credentials
    from cts_desktop.exchanges.replay_connection import loopback_adapter
    from cts_desktop.services import AppOptions, Services

    work = Path(tempfile.mkdtemp(prefix="cts-bench-"))
    data = work / "replay"
    data.mkdir()
    names = make_dataset(data, symbols)
    exits = contextlib.ExitStack()
    sim = exits.enter_context(simulator_process(data, speed))
    services = Services(AppOptions(data_dir=work / "app", console_log=False, log_level="warning"))
    services.start(asyncio.get_running_loop())
    trading = services.trading
    config = trading.store.get(REPLAY_CONNECTION_ID)
    assert config is not None
    trading.store.save(replace(config, is_live_trade=False))
    values: dict[str, object] = {"overall.use_main_symbols": True, "overall.main_symbols": names,
                                 "overall.forced_symbols": [], "overall.symbol_count": min(30, symbols)}
    if days is not None:
        values["overall.prehistoric_days"] = days
    services.settings.set_many(values)
    days = int(str(services.settings.values()["overall.prehistoric_days"]))

    async def adapter_for(_config: object) -> ExchangeAdapter:
        return loopback_adapter("bybit", Credentials(sim.key, sim.secret), sim.url)

    trading.coordinator.adapters = adapter_for
    proc = psutil.Process()
    cpu0, workers0 = sum(proc.cpu_times()[:2]), children_cpu(proc, sim.pid)
    start_stalls: list[float] = []
    start_stop = asyncio.Event()
    tracer = StallTracer() if trace else None
    start_probe = asyncio.create_task(probe(start_stop, start_stalls, tracer=tracer))
    threads = ThreadCpu()
    started = time.perf_counter()
    await trading.coordinator.start()
    await trading.coordinator.wait_started(7200)
    warm = time.perf_counter() - started
    start_stop.set()
    await start_probe
    start_cpu, start_workers = sum(proc.cpu_times()[:2]) - cpu0, children_cpu(proc, sim.pid) - workers0
    threads.report(warm, top=5)  # this process's threads while starting
    engine = trading.coordinator.engines[REPLAY_CONNECTION_ID]
    assert engine.state is EngineState.RUNNING, engine.last_error
    stalls: list[float] = []
    stop = asyncio.Event()
    if tracer is not None:
        tracer.phase = "settle"
    settle_stalls: list[float] = []
    if settle > 0:  # the first persist after the warm-up writes every set the warm-up touched
        settle_stop = asyncio.Event()
        settle_probe = asyncio.create_task(probe(settle_stop, settle_stalls, tracer=tracer))
        await asyncio.sleep(settle)
        settle_stop.set()
        await settle_probe
    if tracer is not None:
        tracer.phase = "trade"
    trade_probe = asyncio.create_task(probe(stop, stalls, tracer=tracer))
    proc.cpu_percent(None)
    engine.lag_ms.clear()
    meter = engine.meters["main"]
    meter.durations = type(meter.durations)(maxlen=100_000)
    cycles0, updates0 = meter.cycles, engine.feed.updates if engine.feed else 0
    await asyncio.sleep(seconds)
    cpu = proc.cpu_percent(None)
    stop.set()
    await trade_probe
    durations = list(meter.durations)
    lags = list(engine.lag_ms)
    updates = (engine.feed.updates if engine.feed else 0) - updates0
    print(f"symbols traded            {len(engine.symbols)} (of {symbols} requested; {', '.join(SOURCES)} real series "
          f"repeated)")
    print(f"replay speed              x{speed:g}; feed: {engine.feed.mode if engine.feed else '-'}")
    print(f"start (markets+history)   {warm:8.1f} s for {days} day(s) of 1 m history per symbol; CPU: this process "
          f"{start_cpu:.1f} s, warm-up workers {start_workers:.1f} s")
    print(f"loop stall while starting p50 {pct(start_stalls, 0.5):.2f} / p99 {pct(start_stalls, 0.99):.2f} ms (max "
          f"{max(start_stalls, default=0):.1f} ms, {len(start_stalls)} probes of 10 ms)")
    if settle > 0:
        print(f"loop stall, first {settle:g} s  p50 {pct(settle_stalls, 0.5):.2f} / p99 "
              f"{pct(settle_stalls, 0.99):.2f} ms (max {max(settle_stalls, default=0):.1f} ms; not in the window)")
    print(f"measured window           {seconds:8.1f} s, {meter.cycles - cycles0} cycles, {updates} price updates")
    print(f"main cycle   p50 / p99    {pct(durations, 0.5):8.2f} / {pct(durations, 0.99):8.2f} ms")
    print(f"price lag    p50 / p99    {pct(lags, 0.5):8.1f} / {pct(lags, 0.99):8.1f} ms")
    print(f"loop stall   p50 / p99    {pct(stalls, 0.5):8.2f} / {pct(stalls, 0.99):8.2f} ms (max "
          f"{max(stalls, default=0):.1f} ms)")
    print(f"process CPU               {cpu:8.1f} % (100 % = one core)")
    print(f"mean cycle                {statistics.fmean(durations) if durations else float('nan'):8.2f} ms")
    if tracer is not None:
        tracer.stop()
        tracer.report()
    try:
        await trading.close()
    except Exception as error:  # reported, not hidden: the numbers above stand
        print(f"closing the engine failed: {type(error).__name__}: {str(error).splitlines()[0]}")
    services.close()
    exits.close()
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--days", type=int, default=None, help="prehistoric days (default: the setting's default)")
    parser.add_argument("--trace-stalls", action="store_true", help="sample where the event loop stalls")
    parser.add_argument("--settle", type=float, default=0.0, help="seconds of trading before the measured window")
    args = parser.parse_args()
    asyncio.run(run(args.symbols, args.speed, args.seconds, args.days, args.trace_stalls, args.settle))


if __name__ == "__main__":
    main()
