"""Fidelity kit, Bybit: every simulator response type against the recorded real bodies, field by field (names,
types, nesting), and every error the simulator answers against Bybit's catalogue.

References (../shared/data/exchange-fixtures/bybit, see its README):
* ``jkorf-bybit-net``: one body per endpoint / topic with real types (mostly Bybit's documentation examples);
* ``ccxt-static``: bodies recorded from the live venue by ccxt (names only: ccxt stores every value as a string);
* ``nautilus-ws``: websocket control messages;
* ``docs/error-codes.json`` (the V5 catalogue) and ``docs/error-responses.json`` (real error bodies).

A simulator field must be in a reference body of its type; every field of the JKorf body must be in the simulator's,
with the same JSON type, except where :data:`KNOWN` says why not.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from cts_desktop.exchanges.simulator import SimulatorServer
from cts_desktop.exchanges.simulator.auth import ApiKey, AuthFailure
from cts_desktop.exchanges.simulator.bybit_api import AUTH_ERRORS, SIM_ERRORS
from cts_desktop.exchanges.simulator.bybit_ws_private import auth_signature
from cts_desktop.exchanges.simulator.order_checks import VENUE_ERRORS
from tests.integration.exchanges.conftest import stock_client

FIXTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "exchange-fixtures" / "bybit"
if not FIXTURES.exists():  # a worktree next to shared/, or the main checkout with shared/ beside it
    FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "data" / "exchange-fixtures" / "bybit"
pytestmark = pytest.mark.skipif(not FIXTURES.exists(), reason="the shared exchange fixtures are not next to the tree")

# field path -> why the simulator differs from the JKorf body on purpose
KNOWN: dict[str, str] = {
    "GetPositions.result.list[].mmrSysUpdateTime": "live position/list says mmrSysUpdatedTime (ccxt's recording, "
                                                    "and the position topic); the docs example has a typo",
}
# error texts the simulator answers that differ from the catalogue's, each seen from the live venue
OBSERVED_TEXTS: dict[tuple[int, str], str] = {
    (10002, "invalid request, please check your server timestamp or recv_window param"):
        "the live answer to a timestamp outside the receive window (the catalogue paraphrases it)",
    (10001, "leverage invalid"): "10001 carries the failing parameter on the live venue",
    (10001, "params error: symbol invalid"): "10001 carries the failing parameter on the live venue",
    (10001, "The number of contracts exceeds minimum limit allowed"): "pybit issues #244/#284 quote the live text",
    (10001, "The number of contracts exceeds maximum limit allowed"): "pybit issues #244/#284 quote the live text",
    (3400045, "Set margin mode failed"): "/v5/account/set-margin-mode's own code (its docs), text of 110073",
}


def _load(*parts: str) -> Any:
    return json.loads(FIXTURES.joinpath(*parts).read_text())


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def names(value: Any) -> Any:
    """Field names only (ccxt's recordings stringify every value)."""
    if isinstance(value, dict):
        return {k: names(v) for k, v in value.items()}
    if isinstance(value, list):
        merged: dict[str, Any] = {}
        for item in value:
            if isinstance(item, dict):
                merged.update(names(item))
        return [merged] if merged else []
    return None


def differences(label: str, recorded: Any, simulated: Any, also_named: list[Any] = ()) -> list[str]:
    """What differs between a recorded body (types) and the simulator's; ``also_named`` are further real bodies
    whose field names the simulator may use."""
    problems: list[str] = []

    def walk(path: str, rec: Any, sim: Any, others: list[Any]) -> None:
        if isinstance(rec, dict) and isinstance(sim, dict):
            allowed = set(rec).union(*(set(o) for o in others if isinstance(o, dict)))
            for key in set(rec) - set(sim):
                if f"{path}.{key}" not in KNOWN:
                    problems.append(f"{path}.{key}: missing")
            problems.extend(f"{path}.{key}: not in any recorded body" for key in set(sim) - allowed)
            for key in set(rec) & set(sim):
                walk(f"{path}.{key}", rec[key], sim[key],
                     [o[key] for o in others if isinstance(o, dict) and key in o])
        elif isinstance(rec, list) and isinstance(sim, list):
            if rec and sim:
                walk(path + "[]", rec[0], sim[0], [o[0] for o in others if isinstance(o, list) and o])
        elif shape(rec) != shape(sim) and not (rec is None or sim is None):
            problems.append(f"{path}: recorded {shape(rec)}, simulator {shape(sim)}")

    walk(label, recorded, simulated, [names(o) for o in also_named])
    return problems


def _ccxt_recorded(method: str, description_part: str = "") -> list[Any]:
    entries = _load("ccxt-static", "responses.json")["responses"]
    return [e["httpResponse"] for e in entries if e["method"] == method and description_part in e["description"]]


@pytest_asyncio.fixture
async def bybit(sim: SimulatorServer) -> AsyncIterator[tuple[Any, ApiKey]]:
    client, key = stock_client(sim, "bybit")
    try:
        yield client, key
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_rest_bodies_match_the_recorded_ones(sim: SimulatorServer, bybit: tuple[Any, ApiKey]) -> None:
    c, _ = bybit
    last = sim.market.price("BTC")
    resting = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.01",
               "price": f"{round(last * 0.9, 1):.1f}", "orderLinkId": "fidelity-1"}
    created = await c.privatePostV5OrderCreate(resting)
    order_id = created["result"]["orderId"]
    bodies: dict[str, tuple[Any, list[Any]]] = {
        "Trading/PlaceOrder": (created, _ccxt_recorded("createOrder")),
        "Trading/GetOrders": (await c.privateGetV5OrderRealtime({"category": "linear"}),
                              _ccxt_recorded("fetchOpenOrder")),
        "Trading/EditOrder": (await c.privatePostV5OrderAmend({"category": "linear", "symbol": "BTCUSDT",
                                                               "orderId": order_id, "qty": "0.02"}),
                              _ccxt_recorded("editOrder")),
        "Trading/CancelOrder": (await c.privatePostV5OrderCancel({"category": "linear", "symbol": "BTCUSDT",
                                                                  "orderId": order_id}), []),
    }
    for side, extra in (("Buy", {}), ("Sell", {"reduceOnly": True}), ("Buy", {})):
        await c.privatePostV5OrderCreate({"category": "linear", "symbol": "BTCUSDT", "side": side,
                                          "orderType": "Market", "qty": "0.01", **extra})
    bodies.update({
        "Trading/GetOrderHistory": (await c.privateGetV5OrderHistory({"category": "linear"}),
                                    _ccxt_recorded("fetchClosedOrder")),
        "Trading/GetUserTrades": (await c.privateGetV5ExecutionList({"category": "linear"}),
                                  _ccxt_recorded("fetchMyTrades", "swap")),
        "Trading/GetPositions": (await c.privateGetV5PositionList({"category": "linear", "symbol": "BTCUSDT"}),
                                 _ccxt_recorded("fetchPositions")),
        "Trading/GetClosedProfitLoss": (await c.privateGetV5PositionClosedPnl({"category": "linear"}),
                                        _ccxt_recorded("fetchPositionHistory")),
        "Trading/SetTradingStop": (await c.privatePostV5PositionTradingStop(
            {"category": "linear", "symbol": "BTCUSDT", "positionIdx": 0,
             "takeProfit": f"{round(last * 1.5, 1):.1f}"}), []),
        "Account/GetBalances": (await c.privateGetV5AccountWalletBalance({"accountType": "UNIFIED"}),
                                _ccxt_recorded("fetchBalance")),
        "Account/GetFeeRate": (await c.privateGetV5AccountFeeRate({"category": "linear"}), []),
        "Account/SetLeverage": (await c.privatePostV5PositionSetLeverage(
            {"category": "linear", "symbol": "BTCUSDT", "buyLeverage": "5", "sellLeverage": "5"}), []),
        "Account/GetApiKeyInfo": (await c.privateGetV5UserQueryApi(), []),
        "ExchangeData/GetLinearInverseTickers": (await c.publicGetV5MarketTickers(
            {"category": "linear", "symbol": "BTCUSDT"}), _ccxt_recorded("fetchTicker", "swap")),
        "ExchangeData/GetKlines": (await c.publicGetV5MarketKline(
            {"category": "linear", "symbol": "BTCUSDT", "interval": "5"}), _ccxt_recorded("fetchOHLCV")),
        "ExchangeData/GetFundingRateHistory": (await c.publicGetV5MarketFundingHistory(
            {"category": "linear", "symbol": "BTCUSDT"}), []),
        "ExchangeData/GetLinearInverseSymbols": (await c.publicGetV5MarketInstrumentsInfo(
            {"category": "linear", "symbol": "BTCUSDT"}),
            [{"result": {"list": _load("ccxt-static", "instruments-info.json")["linear"]}}]),
    })
    problems = []
    for name, (body, real) in bodies.items():
        recorded = _load("jkorf-bybit-net", "rest", f"{name}.json")["response"]
        problems += differences(name.split("/")[1], recorded, body, real)
    assert problems == []


async def _frames(sim: SimulatorServer, path: str, sends: list[dict[str, Any]], wanted: int,
                  act: Any = None) -> list[dict[str, Any]]:
    """Send ``sends`` on a fresh socket, run ``act`` once everything was answered, collect ``wanted`` frames."""
    out: list[dict[str, Any]] = []
    url = sim.base_url.replace("http", "ws") + path
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        for message in sends:
            await ws.send_json(message)
            out.append(json.loads((await asyncio.wait_for(ws.receive(), 10)).data))
        if act is not None:
            await act()
        while len(out) < wanted:
            out.append(json.loads((await asyncio.wait_for(ws.receive(), 10)).data))
    return out


@pytest.mark.asyncio
async def test_private_stream_bodies_match_the_recorded_ones(sim: SimulatorServer,
                                                             bybit: tuple[Any, ApiKey]) -> None:
    c, key = bybit
    expires = str(sim.market.wall_ms() + 10_000)
    auth = {"op": "auth", "req_id": "1", "args": [key.key, expires, auth_signature(key.secret, expires)]}
    topics = ["order", "execution", "execution.fast", "position", "wallet"]

    async def trade() -> None:
        await c.privatePostV5OrderCreate({"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                          "orderType": "Market", "qty": "0.01"})

    frames = await _frames(sim, "/v5/private", [auth, {"op": "subscribe", "req_id": "2", "args": topics}],
                           2 + len(topics), trade)
    by_topic = {f["topic"]: f for f in frames if "topic" in f}
    assert set(by_topic) == set(topics)
    problems = []
    for topic, fixture in (("order", "Order"), ("execution", "UserTrades"), ("execution.fast", "MinimalUserTrades"),
                           ("position", "Position"), ("wallet", "Balance")):
        recorded = _load("jkorf-bybit-net", "ws", "Private", f"{fixture}.json")
        problems += differences(topic, recorded["updates"][0], by_topic[topic])
        if topic == "order":  # the recorded update is an option order: the linear one has the REST order's fields
            problems = [p for p in problems if not p.endswith("not in any recorded body")]
            rest = _load("jkorf-bybit-net", "rest", "Trading", "GetOrders.json")["response"]["result"]["list"][0]
            extra = set(by_topic[topic]["data"][0]) - set(recorded["updates"][0]["data"][0]) - set(rest)
            assert extra <= {"marketUnit", "createType"}  # in the live recordings of orders (ccxt's)
    problems += differences("auth", recorded["received"][0], frames[0])
    problems += differences("subscribe", _load("nautilus-ws", "ws_subscription_ack.json"), frames[1])
    assert problems == []


@pytest.mark.asyncio
async def test_refusals_and_public_bodies_match_the_recorded_ones(sim: SimulatorServer) -> None:
    frames = await _frames(sim, "/v5/private", [{"op": "auth", "args": ["nokey", "1", "x"]}], 1)
    assert differences("auth failure", _load("nautilus-ws", "ws_auth_failure.json"), frames[0]) == []
    sub = {"op": "subscribe", "args": ["nonsense.BTCUSDT", "tickers.BTCUSDT", "publicTrade.BTCUSDT"]}

    async def move() -> None:
        sim.market.step(3_600_000)

    frames = await _frames(sim, "/v5/public/linear", [sub], 5, move)
    failure = next(f for f in frames if f.get("success") is False)
    recorded_failure = _load("nautilus-ws", "ws_subscription_failure.json")
    assert failure["ret_msg"] == recorded_failure["ret_msg"].replace("invalid.topic", "nonsense")
    assert differences("subscribe failure", {**recorded_failure, "req_id": ""}, failure) == []
    ticker = next(f for f in frames if f.get("topic") == "tickers.BTCUSDT")
    trade = next(f for f in frames if f.get("topic") == "publicTrade.BTCUSDT")
    linear = ("jkorf-bybit-net", "ws", "Linear")
    assert differences("tickers", _load(*linear, "Ticker.json")["updates"][0], ticker) == []
    assert differences("publicTrade", _load(*linear, "Trades.json")["updates"][0], trade) == []


def test_every_error_answer_is_in_the_catalogue() -> None:
    catalogue = {e["code"]: e["message"] for e in _load("docs", "error-codes.json")["sections"]["UTA"]}
    recorded = {(e["body"]["retCode"], e["body"]["retMsg"]) for e in _load("docs", "error-responses.json")["errors"]}
    answers = {*AUTH_ERRORS.values(), *SIM_ERRORS.values(), *VENUE_ERRORS["bybit"].values(),
               (10006, "Too many visits!")}
    assert AuthFailure.UNKNOWN_KEY in AUTH_ERRORS
    unexplained = [
        (code, text) for code, text in answers
        if (code, text) not in recorded and catalogue.get(code) != text and (code, text) not in OBSERVED_TEXTS
    ]
    assert unexplained == []
    assert all(code in catalogue or (code, text) in OBSERVED_TEXTS for code, text in answers)
