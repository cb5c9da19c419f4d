"""Standalone simulator: ``python -m cts_desktop.exchanges.simulator --port 8765 [--speed 10]``.

Prints one JSON line per created account (key and secret) so scripts can pick them up; control endpoints live
under ``/_sim/`` (state, step?ms=, speed?speed=, account?balance=&exchange=, fault?path=&kind=, clear-faults).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging

from cts_desktop.exchanges.simulator.market import SimulatorConfig
from cts_desktop.exchanges.simulator.server import SimulatorServer


async def _run(args: argparse.Namespace) -> None:
    server = SimulatorServer(SimulatorConfig(speed=args.speed))
    url = await server.start(args.port)
    for exchange in ("bybit", "bingx"):
        key = server.market.create_account(args.balance, exchange=exchange)
        print(json.dumps({"exchange": exchange, "url": url, "apiKey": key.key, "secret": key.secret}), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Loopback Bybit/BingX exchange simulator (127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0 = any free port)")
    parser.add_argument("--speed", type=float, default=1.0, help="market speed: 1 = real time, 0 = stepped only")
    parser.add_argument("--balance", type=float, default=10_000.0, help="USDT balance of the generated accounts")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args))


if __name__ == "__main__":
    main()
