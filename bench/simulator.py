"""Loopback exchange simulator: sustained requests/s, and the adapter's p50/p99 latency against it.

Run from the repository root:  /work/venv/bin/python bench/simulator.py [--seconds 10] [--calls 200]

The simulator runs as its own process (``python -m cts_desktop.exchanges.simulator``, real-time replay) so the
client and the server do not share one event loop. Part 1 hammers it with raw aiohttp requests from
``--workers`` concurrent workers: a public ticker and a signed Bybit wallet-balance (HMAC computed per request).
Part 2 times the project's ``ExchangeAdapter`` (real ccxt classes, throttle on, limits opened up to the
simulator's speed) for Bybit and BingX: ticker, balance, and a limit order placed (client id, look-up) then
cancelled. Prints one table; nothing is written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cts_desktop.exchanges.adapter import ExchangeAdapter  # noqa: E402
from cts_desktop.exchanges.capabilities import RateLimit  # noqa: E402
from cts_desktop.exchanges.models import Credentials, OrderRequest, OrderSide, OrderType  # noqa: E402
from cts_desktop.exchanges.simulator.auth import sign  # noqa: E402


def start_simulator() -> tuple[subprocess.Popen[str], dict[str, dict[str, str]]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cts_desktop.exchanges.simulator", "--port", "0", "--speed", "1", "--no-rate-limits"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    keys = {}
    for _ in range(2):
        info = json.loads(proc.stdout.readline())
        keys[info["exchange"]] = info
    return proc, keys


async def throughput(url: str, seconds: float, workers: int, signed: dict[str, str] | None) -> float:
    import aiohttp

    count = 0
    deadline = time.perf_counter() + seconds
    query = "accountType=UNIFIED"

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            if signed is None:
                path, headers = "/v5/market/tickers?category=linear&symbol=BTCUSDT", None
            else:
                ts = str(int(time.time() * 1000))
                headers = {
                    "X-BAPI-API-KEY": signed["apiKey"],
                    "X-BAPI-TIMESTAMP": ts,
                    "X-BAPI-RECV-WINDOW": "5000",
                    "X-BAPI-SIGN": sign(signed["secret"], ts + signed["apiKey"] + "5000" + query),
                }
                path = "/v5/account/wallet-balance?" + query
            async with session.get(url + path, headers=headers) as resp:
                body = await resp.json()
                assert body["retCode"] == 0, body
            count += 1

    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(workers)))
        return count / (time.perf_counter() - started)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def adapter_latency(
    exchange_id: str, url: str, key: dict[str, str], calls: int, throttle: bool
) -> dict[str, list[float]]:
    ad = ExchangeAdapter(
        exchange_id,
        Credentials(key["apiKey"], key["secret"]),
        api_url=url,
        rate_limit=RateLimit(10_000, 1_000_000, 16),
        ccxt_throttle=throttle,
    )
    out: dict[str, list[float]] = {"ticker": [], "balance": [], "limit place+cancel": []}
    symbol = "BTC/USDT:USDT"
    try:
        await ad.markets()
        last = (await ad.ticker(symbol)).last
        for i in range(calls):
            t = time.perf_counter()
            await ad.ticker(symbol)
            out["ticker"].append(time.perf_counter() - t)
            t = time.perf_counter()
            await ad.balance()
            out["balance"].append(time.perf_counter() - t)
            t = time.perf_counter()
            req = OrderRequest(
                symbol,
                OrderSide.BUY,
                OrderType.LIMIT,
                0.001,
                f"bench-{exchange_id}-{throttle}-{i}",
                round(last * 0.8, 1),
            )
            await ad.place_order(req)
            await ad.cancel_order(symbol, client_id=req.client_id)
            out["limit place+cancel"].append(time.perf_counter() - t)
    finally:
        await ad.close()
    return out


async def main(args: argparse.Namespace) -> None:
    proc, keys = start_simulator()
    url = keys["bybit"]["url"]
    try:
        print(f"simulator {url} (separate process), {args.workers} concurrent workers, {args.seconds:.0f} s each")
        public = await throughput(url, args.seconds, args.workers, None)
        signed = await throughput(url, args.seconds, args.workers, keys["bybit"])
        print(f"  sustained public ticker      : {public:8.0f} req/s")
        print(f"  sustained signed balance     : {signed:8.0f} req/s")
        for throttle in (False, True):
            label = "ccxt throttle ON (real-venue pacing)" if throttle else "ccxt throttle off (adapter + ccxt + wire)"
            print(f"adapter latency, {label}, {args.calls} calls each (ms):   p50      p99      max")
            for exchange_id in ("bybit", "bingx"):
                samples = await adapter_latency(exchange_id, url, keys[exchange_id], args.calls, throttle)
                for name, values in samples.items():
                    ms = [v * 1000 for v in values]
                    print(
                        f"  {exchange_id:6s} {name:20s}      {statistics.median(ms):7.2f}  {pct(ms, 0.99):7.2f}"
                        f"  {max(ms):7.2f}"
                    )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--calls", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
