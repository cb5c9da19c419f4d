"""Engine cycle lag and CPU with many symbols on the Replay simulator (issue 5's ``bench/engine_lag.py``).

The shipped replay dataset has three real series (BTC, ETH, SOL USDT-perp 5 m). To load the engine with N symbols
the benchmark writes a temporary dataset in which those three real series are repeated under N names (same
contract specifications as their source), so every symbol is real market data; the copies move together.
One connection trades them on paper at the default settings (prehistory 1 day) with the simulator at ×speed.

Reported after warm-up, over a measuring window: main-loop cycle time p50/p99 (one cycle = one drained batch of
price updates), price lag p50/p99 (exchange timestamp of the oldest price in a batch → processed), the number of
price updates, and the process CPU (psutil; 100 % = one core).

Usage: ``python bench/engine_lag.py [--symbols 50] [--speed 10] [--seconds 60]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("PYTHON_KEYRING_BACKEND", "cts_desktop.storage.keyring_memory.MemoryKeyring")

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
        entry = dict(by_base[base])
        entry["base"] = name
        for key in list(entry):
            if isinstance(entry[key], str) and entry[key].startswith(base):
                entry[key] = entry[key].replace(base, name, 1)
        instruments.append(entry)
        names.append(name)
        for suffix in ("_5m.csv.gz", "_funding.csv.gz"):
            src = source / f"{base}USDT{suffix}"
            if src.exists():
                shutil.copyfile(src, target / f"{name}USDT{suffix}")
    (target / "instruments.json").write_text(json.dumps({"instruments": instruments}))
    return names


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run(symbols: int, speed: float, seconds: float) -> None:
    import psutil

    from cts_desktop.engine.status import EngineState
    from cts_desktop.exchanges.adapter import ExchangeAdapter
    from cts_desktop.exchanges.capabilities import RateLimit
    from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID
    from cts_desktop.exchanges.models import Credentials
    from cts_desktop.exchanges.simulator import SimulatorConfig, SimulatorServer
    from cts_desktop.services import AppOptions, Services

    work = Path(tempfile.mkdtemp(prefix="cts-bench-"))
    data = work / "replay"
    data.mkdir()
    names = make_dataset(data, symbols)
    server = SimulatorServer(SimulatorConfig(speed=speed, data_dir=data))
    url = await server.start()
    key = server.market.create_account(10_000.0, exchange="bybit")
    services = Services(AppOptions(data_dir=work / "app", console_log=False, log_level="warning"))
    services.start(asyncio.get_running_loop())
    trading = services.trading
    config = trading.store.get(REPLAY_CONNECTION_ID)
    assert config is not None
    trading.store.save(replace(config, is_live_trade=False))
    services.settings.set_many({"overall.use_main_symbols": True, "overall.main_symbols": names,
                                "overall.forced_symbols": [], "overall.symbol_count": min(30, symbols),
                                "overall.prehistoric_days": 1})

    async def adapter_for(_config: object) -> ExchangeAdapter:
        return ExchangeAdapter("bybit", Credentials(key.key, key.secret), api_url=url,
                               rate_limit=RateLimit(200, 60_000, 8))

    trading.coordinator.adapters = adapter_for
    started = time.perf_counter()
    await trading.coordinator.start()
    await trading.coordinator.wait_started(3600)
    warm = time.perf_counter() - started
    engine = trading.coordinator.engines[REPLAY_CONNECTION_ID]
    assert engine.state is EngineState.RUNNING, engine.last_error
    proc = psutil.Process()
    proc.cpu_percent(None)
    engine.lag_ms.clear()
    meter = engine.meters["main"]
    meter.durations = type(meter.durations)(maxlen=100_000)
    cycles0, updates0 = meter.cycles, engine.feed.updates if engine.feed else 0
    await asyncio.sleep(seconds)
    cpu = proc.cpu_percent(None)
    durations = list(meter.durations)
    lags = list(engine.lag_ms)
    updates = (engine.feed.updates if engine.feed else 0) - updates0
    print(f"symbols traded            {len(engine.symbols)} (of {symbols} requested; {', '.join(SOURCES)} real series "
          f"repeated)")
    print(f"replay speed              x{speed:g}; feed: {engine.feed.mode if engine.feed else '-'}")
    print(f"start (markets+history)   {warm:8.1f} s")
    print(f"measured window           {seconds:8.1f} s, {meter.cycles - cycles0} cycles, {updates} price updates")
    print(f"main cycle   p50 / p99    {pct(durations, 0.5):8.2f} / {pct(durations, 0.99):8.2f} ms")
    print(f"price lag    p50 / p99    {pct(lags, 0.5):8.1f} / {pct(lags, 0.99):8.1f} ms")
    print(f"process CPU               {cpu:8.1f} % (100 % = one core)")
    print(f"mean cycle                {statistics.fmean(durations) if durations else float('nan'):8.2f} ms")
    await trading.close()
    services.close()
    await server.stop()
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    asyncio.run(run(args.symbols, args.speed, args.seconds))


if __name__ == "__main__":
    main()
