"""Standalone simulator: ``python -m cts_desktop.exchanges.simulator --port 8765 [--speed 10] [--data-dir DIR]
[--clock-offset-ms MS] [--no-rate-limits]``.

Each venue's request budgets per IP and per key are on (``rate_limits.py``: Bybit's 600 per 5 s per IP and 10–50/s per
key and endpoint with its ``X-Bapi-Limit*`` headers, BingX's as documented); ``--no-rate-limits`` turns them off.

Prints one JSON line per created account (key and secret, and the control token) so scripts can pick them up;
control endpoints live under ``/_sim/`` (state, step?ms=, speed?speed=, account?balance=&exchange=, fault?path=&kind=,
clear-faults, clock?offset_ms=) and need the header ``X-Sim-Token: <controlToken>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
from pathlib import Path

from cts_desktop.exchanges.simulator.market import SimulatorConfig
from cts_desktop.exchanges.simulator.server import SimulatorServer


async def _run(args: argparse.Namespace) -> None:
    config = SimulatorConfig(speed=args.speed, data_dir=args.data_dir, clock_offset_ms=args.clock_offset_ms,
                             rate_limits=args.rate_limits)
    server = SimulatorServer(config)
    url = await server.start(args.port)
    for exchange in ("bybit", "bingx"):
        key = server.market.create_account(args.balance, exchange=exchange)
        print(json.dumps({"exchange": exchange, "url": url, "apiKey": key.key, "secret": key.secret,
                          "controlToken": server.control_token}), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Loopback Bybit/BingX exchange simulator (127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0 = any free port)")
    parser.add_argument("--speed", type=float, default=1.0, help="market speed: 1 = real time, 0 = stepped only")
    parser.add_argument("--data-dir", type=Path, default=None, help="replay dataset (default: the shipped one)")
    parser.add_argument("--balance", type=float, default=10_000.0, help="USDT balance of the generated accounts")
    parser.add_argument("--clock-offset-ms", type=int, default=0,
                        help="the venue's clock ahead of this computer's by MS (behind when negative): its server "
                             "time and its receive-window check use the shifted clock")
    parser.add_argument("--no-rate-limits", dest="rate_limits", action="store_false",
                        help="answer every request: no per-IP or per-key budget (the venues' budgets are on otherwise)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args))


if __name__ == "__main__":
    main()
