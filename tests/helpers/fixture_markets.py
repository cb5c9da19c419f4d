"""The recorded real markets of both exchanges (``tests/data/exchange``, copies of ../shared/data/exchange-fixtures)
parsed by ccxt's own market code, as the app's ``load_markets`` would parse them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ccxt

DATA = Path(__file__).resolve().parents[1] / "data" / "exchange"


def bybit_client() -> Any:
    """A sync ccxt ``bybit`` whose markets are the 8 recorded linear perpetuals (BTC, ETH, LTC, ADA, XRP, …)."""
    linear = json.loads((DATA / "bybit" / "instruments-info.json").read_text())["linear"]
    client = ccxt.bybit()

    def recorded(params: dict[str, Any] | None = None) -> dict[str, Any]:
        items = [] if (params or {}).get("status") == "PreLaunch" else linear
        result = {"category": "linear", "list": items, "nextPageCursor": ""}
        return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 0}

    client.publicGetV5MarketInstrumentsInfo = recorded
    client.set_markets(client.fetch_future_markets({"category": "linear"}))
    return client


def bingx_client() -> Any:
    """A sync ccxt ``bingx`` whose markets are the 4 recorded USDT swaps (BTC, LTC, ADA, SOL), parsed from their raw
    ``/openApi/swap/v2/quote/contracts`` items."""
    stored = json.loads((DATA / "bingx" / "markets.json").read_text())["markets"]
    client = ccxt.bingx()
    client.set_markets([client.parse_market(m["info"]) for m in stored.values() if m.get("swap")])
    return client


def linear_swaps(client: Any) -> list[str]:
    return sorted(s for s, m in client.markets.items() if m.get("swap") and m.get("linear"))
