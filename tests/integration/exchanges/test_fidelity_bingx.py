"""Fidelity kit, BingX: every response the simulator gives compared field by field (names, JSON types, nesting) with
the venue's recorded bodies in ``../shared/data/exchange-fixtures/bingx``, and every refusal it gives against the
venue's error catalogue (code and text).

Bodies are read raw (aiohttp, signed here the way the venue documents it), so a number that ccxt would accept as a
string still counts as a difference. Each endpoint is held to its own recording (JKorf's BingX.Net samples, mostly
the venue's documentation examples): a field the recording has and the simulator lacks fails. A field it adds, or
one typed otherwise, passes only when another real recording of the same object has it so (:data:`SIBLINGS`: the
venue's other endpoints returning that object, ccxt's recorded responses of it) — never by a hand-written list.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import pytest_asyncio

from cts_desktop.exchanges.simulator import SimulatorServer
from cts_desktop.exchanges.simulator.account import SimErrorKind
from cts_desktop.exchanges.simulator.auth import AuthFailure
from cts_desktop.exchanges.simulator.bingx_api import AUTH_ERRORS, SIM_ERRORS
from tests.helpers.waiting import until

FIXTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "exchange-fixtures" / "bingx"
REST = FIXTURES / "jkorf-bingx-net" / "rest"
WS = FIXTURES / "jkorf-bingx-net" / "ws"
CATALOGUE = FIXTURES / "docs" / "error-codes.json"

pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared exchange fixtures not present")


# ---- shapes ------------------------------------------------------------------------------------------------------
def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "list" if isinstance(value, list) else "object"


def differences(real: Any, ours: Any, where: str = "") -> list[str]:
    """Where ``ours`` differs from ``real`` in names, JSON types or nesting (a recorded null matches anything;
    every element of a list is compared with the recording's first)."""
    if real is None:
        return []
    if kind(real) != kind(ours):
        return [f"{where or '<body>'}: {kind(ours)} instead of {kind(real)}"]
    if isinstance(real, dict):
        out = [f"{where}.{k}: missing" for k in real if k not in ours]
        out += [f"{where}.{k}: not in the recording" for k in ours if k not in real]
        for k in real:
            if k in ours:
                out += differences(real[k], ours[k], f"{where}.{k}")
        return out
    if isinstance(real, list) and real:
        if not ours:
            return [f"{where}[]: empty, cannot compare"]
        return [d for item in ours for d in differences(real[0], item, f"{where}[]")][:20]
    return []


def recorded(name: str) -> Any:
    return json.loads((REST / name).read_text())["response"]


def ccxt_recorded(method: str, description_part: str) -> list[Any]:
    """ccxt's recorded venue bodies (its static tests) of ``method`` whose description mentions the part."""
    entries = json.loads((FIXTURES / "ccxt-static" / "responses.json").read_text())["responses"]
    return [e["httpResponse"] for e in entries if e["method"] == method and description_part in e["description"]]


def ccxt_contract_infos() -> list[Any]:
    markets = json.loads((FIXTURES / "ccxt-static" / "markets.json").read_text())["markets"]
    return [m["info"] for m in markets.values() if m.get("swap") and m.get("linear")]


def _path(diff: str) -> str:
    return diff.rsplit(": ", 1)[0]


def unexplained(name: str, ours: Any) -> list[str]:
    """Differences from the endpoint's recording that no sibling recording of the same object explains."""
    extract, siblings = SIBLINGS.get(name, (lambda body: body, list))
    mine = differences(recorded(name), ours)
    recordings = siblings()
    others = [differences(sibling, extract(ours)) for sibling in recordings]
    out = []
    for diff in mine:
        if diff.endswith(": missing"):
            out.append(diff)
            continue
        inner = _path(diff)[len(_prefix(name)):]
        if not any(all(_path(d) != inner and not inner.startswith(_path(d) + ".") for d in other)
                   and _has(other_body, inner) for other, other_body in zip(others, recordings, strict=True)):
            out.append(diff)
    return out


def _has(body: Any, path: str) -> bool:
    """Whether the recorded object has the field at ``path`` (``.a[].b`` notation)."""
    node = body
    for part in [p for p in path.split(".") if p]:
        name, is_list = part.removesuffix("[]"), part.endswith("[]")
        if not isinstance(node, dict) or name not in node:
            return False
        node = node[name]
        if is_list:
            if not node:
                return False
            node = node[0]
    return True


def _prefix(name: str) -> str:
    return PREFIXES.get(name, "")


def _order_of(body: Any) -> Any:
    data = body["data"]
    return data["order"] if "order" in data else data["orders"][0]


def _order_siblings() -> list[Any]:
    own = [recorded(f"Trading/{n}.json") for n in ("GetOrder", "GetOpenOrders", "GetClosedOrders", "CancelOrder")]
    swap = ccxt_recorded("fetchOrder", "swap") + ccxt_recorded("fetchClosedOrders", "Swap")
    return [_order_of(b) for b in own + swap]


def _first(body: Any) -> Any:
    return body["data"][0]


# endpoint -> (the object inside its body, other real recordings of that object)
SIBLINGS: dict[str, tuple[Any, Any]] = {
    **{f"Trading/{n}.json": (_order_of, _order_siblings)
       for n in ("GetOrder", "GetOpenOrders", "GetClosedOrders", "CancelOrder")},
    "Trading/GetPositions.json": (_first, lambda: [_first(b) for b in ccxt_recorded("fetchPositions", "position")]),
    "ExchangeData/GetContracts.json": (_first, ccxt_contract_infos),
    "ExchangeData/GetFundingRate.json": (lambda b: b["data"], lambda: [
        b["data"] for b in ccxt_recorded("fetchFundingRate", "") if isinstance(b["data"], dict)]),
    "Account/GetMarginMode.json": (lambda b: b["data"], lambda: [
        b["data"] for b in ccxt_recorded("fetchMarginMode", "")]),
    "Account/GetIncomes.json": (_first, lambda: [_first(b) for b in ccxt_recorded("fetchFundingHistory", "")]),
    "Trading/GetUserTrades.json": (lambda b: b["data"]["fill_orders"][0], lambda: [
        b["data"]["fill_orders"][0] for b in ccxt_recorded("fetchMyTrades", "Swap")]),
}
PREFIXES = {
    **{f"Trading/{n}.json": ".data.order" for n in ("GetOrder", "CancelOrder")},
    **{f"Trading/{n}.json": ".data.orders[]" for n in ("GetOpenOrders", "GetClosedOrders")},
    "Trading/GetPositions.json": ".data[]",
    "ExchangeData/GetContracts.json": ".data[]",
    "ExchangeData/GetFundingRate.json": ".data",
    "Account/GetMarginMode.json": ".data",
    "Account/GetIncomes.json": ".data[]",
    "Trading/GetUserTrades.json": ".data.fill_orders[]",
}


# ---- a signed raw client -----------------------------------------------------------------------------------------
@dataclass
class Raw:
    session: aiohttp.ClientSession
    base: str
    key: str
    secret: str
    statuses: list[int] = field(default_factory=list)

    async def call(self, method: str, path: str, params: dict[str, Any] | None = None, signed: bool = True,
                   offset_ms: int = 0) -> Any:
        query = dict(params or {})
        headers = {}
        if signed:
            query["timestamp"] = int(time.time() * 1000) + offset_ms
            text = urlencode(sorted(query.items()))
            sig = hmac.new(self.secret.encode(), text.encode(), hashlib.sha256).hexdigest()
            url = f"{self.base}{path}?{text}&signature={sig}"
            headers["X-BX-APIKEY"] = self.key
        else:
            url = f"{self.base}{path}?{urlencode(sorted(query.items()))}"
        async with self.session.request(method, url, headers=headers) as resp:
            self.statuses.append(resp.status)
            body = await resp.read()
            return json.loads(body) if body else None


@pytest_asyncio.fixture
async def raw(sim: SimulatorServer) -> AsyncIterator[Raw]:
    key = sim.market.create_account(10_000, exchange="bingx")
    async with aiohttp.ClientSession() as session:
        client = Raw(session, sim.base_url, key.key, key.secret)
        # some state for the lists to show: a filled market order (a position, a fill), a resting limit order
        placed = await client.call("POST", "/openApi/swap/v2/trade/order", {
            "symbol": "BTC-USDT", "side": "BUY", "positionSide": "BOTH", "type": "MARKET", "quantity": "0.01",
            "clientOrderID": "fid-market"})
        assert placed["code"] == 0, placed
        resting = await client.call("POST", "/openApi/swap/v2/trade/order", {
            "symbol": "BTC-USDT", "side": "BUY", "positionSide": "BOTH", "type": "LIMIT", "quantity": "0.01",
            "price": f"{round(sim.market.price('BTC') * 0.9, 1)}", "clientOrderID": "fid-limit"})
        assert resting["code"] == 0, resting
        yield client


# ---- REST: one recorded body per endpoint the simulator serves ---------------------------------------------------
BTC = {"symbol": "BTC-USDT"}
REST_CASES: list[tuple[str, str, str, dict[str, Any], bool]] = [
    ("ExchangeData/GetContracts.json", "GET", "/openApi/swap/v2/quote/contracts", {}, False),
    ("ExchangeData/GetTicker.json", "GET", "/openApi/swap/v2/quote/ticker", BTC, False),
    ("ExchangeData/GetKlines.json", "GET", "/openApi/swap/v3/quote/klines", {**BTC, "interval": "1m", "limit": 3},
     False),
    ("ExchangeData/GetFundingRate.json", "GET", "/openApi/swap/v2/quote/premiumIndex", BTC, False),
    ("ExchangeData/GetLastTradePrice.json", "GET", "/openApi/swap/v1/ticker/price", BTC, False),
    ("Account/GetBalances.json", "GET", "/openApi/swap/v3/user/balance", {}, True),
    ("Account/GetLeverage.json", "GET", "/openApi/swap/v2/trade/leverage", BTC, True),
    ("Account/GetMarginMode.json", "GET", "/openApi/swap/v2/trade/marginType", BTC, True),
    ("Account/GetPositionMode.json", "GET", "/openApi/swap/v1/positionSide/dual", {}, True),
    ("Account/GetIncomes.json", "GET", "/openApi/swap/v2/user/income", {}, True),
    ("Account/SetLeverage.json", "POST", "/openApi/swap/v2/trade/leverage", {**BTC, "side": "BOTH", "leverage": 5},
     True),
    ("Account/StartUserStream.json", "POST", "/openApi/user/auth/userDataStream", {}, True),
    ("Trading/GetPositions.json", "GET", "/openApi/swap/v2/user/positions", BTC, True),
    ("Trading/GetOpenOrders.json", "GET", "/openApi/swap/v2/trade/openOrders", BTC, True),
    ("Trading/GetClosedOrders.json", "GET", "/openApi/swap/v2/trade/allOrders", {**BTC, "limit": 10}, True),
    ("Trading/GetOrder.json", "GET", "/openApi/swap/v2/trade/order", {**BTC, "clientOrderId": "fid-market"}, True),
    ("Trading/GetUserTrades.json", "GET", "/openApi/swap/v2/trade/allFillOrders", BTC, True),
    ("Trading/PlaceOrder.json", "POST", "/openApi/swap/v2/trade/order",
     {**BTC, "side": "SELL", "positionSide": "BOTH", "type": "MARKET", "quantity": "0.01"}, True),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("name", "method", "path", "params", "signed"), REST_CASES,
                         ids=[c[0].split("/")[1].removesuffix(".json") for c in REST_CASES])
async def test_rest_body_has_the_recorded_shape(
    raw: Raw, name: str, method: str, path: str, params: dict[str, Any], signed: bool
) -> None:
    ours = await raw.call(method, path, params, signed)
    assert unexplained(name, ours) == []


@pytest.mark.asyncio
async def test_cancel_and_cancel_replace_bodies_have_the_recorded_shape(raw: Raw, sim: SimulatorServer) -> None:
    price = f"{round(sim.market.price('BTC') * 0.85, 1)}"
    order = {**BTC, "side": "BUY", "positionSide": "BOTH", "type": "LIMIT", "quantity": "0.01", "price": price}
    replaced = await raw.call("POST", "/openApi/swap/v1/trade/cancelReplace",
                              {**order, "cancelClientOrderID": "fid-limit", "cancelReplaceMode": "STOP_ON_FAILURE"})
    assert unexplained("Trading/CancelReplaceOrder.json", replaced) == []
    new_id = replaced["data"]["newOrderResponse"]["orderId"]
    cancelled = await raw.call("DELETE", "/openApi/swap/v2/trade/order", {**BTC, "orderId": new_id})
    assert unexplained("Trading/CancelOrder.json", cancelled) == []


@pytest.mark.asyncio
async def test_listen_key_extend_and_delete_answer_with_an_empty_body(raw: Raw) -> None:
    key = (await raw.call("POST", "/openApi/user/auth/userDataStream"))["listenKey"]
    assert await raw.call("PUT", "/openApi/user/auth/userDataStream", {"listenKey": key}) is None
    assert await raw.call("DELETE", "/openApi/user/auth/userDataStream", {"listenKey": key}) is None
    assert raw.statuses[-2:] == [200, 200]


# ---- websocket: the recorded pushes and subscription answers -----------------------------------------------------
WS_CASES = ["Ticker", "Klines", "PartialBook", "Trades", "Price", "MarkPrice", "BookPrice"]


@pytest.mark.asyncio
@pytest.mark.parametrize("name", WS_CASES)
async def test_websocket_push_has_the_recorded_shape(sim: SimulatorServer, name: str) -> None:
    fixture = json.loads((WS / f"{name}.json").read_text())
    data_type = fixture["sent"][0]["dataType"].replace("ETH-USDT", "BTC-USDT")
    url = sim.base_url.replace("http://", "ws://", 1) + "/swap-market"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str(json.dumps({"id": "fid", "reqType": "sub", "dataType": data_type}))
        answer = await _frame(ws, lambda b: b.get("id") == "fid")
        assert differences(fixture["received"][0], answer) == []
        await until(lambda: sim.bingx_ws.subscribed[data_type] == 1, 5, "the subscription")
        sim.market.step(5 * 60_000)  # the price moves: a trade for the trade stream
        push = await _frame(ws, lambda b: b.get("dataType") == data_type)
    assert differences(fixture["updates"][0], push) == []


async def _frame(ws: aiohttp.ClientWebSocketResponse, wanted: Any) -> dict[str, Any]:
    while True:
        msg = await ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.BINARY
        text = gzip.decompress(msg.data).decode()
        if text != "Ping" and wanted(body := json.loads(text)):
            return body  # type: ignore[no-any-return]


# ---- errors against the catalogue --------------------------------------------------------------------------------
def catalogue() -> dict[int, str]:
    return {e["code"]: e["message"] for e in json.loads(CATALOGUE.read_text())["business_error_codes"]}


def real_errors() -> dict[int, dict[str, Any]]:
    """The first complete real error body recorded for each code (the venue's own wording wins over the docs')."""
    entries = json.loads((FIXTURES / "docs" / "error-responses.json").read_text())["errors"]
    out: dict[int, dict[str, Any]] = {}
    for e in entries:
        if not e.get("body_is_partial"):
            out.setdefault(e["code"], e["body"])
    return out


def expected_text(code: int) -> str | None:
    real = real_errors().get(code)
    return real["msg"] if real else catalogue().get(code)


# Codes the simulator answers with that neither the swap catalogue nor a recorded body has (other doc pages).
UNCATALOGUED = {109425, 101400, 101205}


@pytest.mark.parametrize("failure", list(AuthFailure))
def test_auth_refusals_use_the_venues_code_and_text(failure: AuthFailure) -> None:
    code, text = AUTH_ERRORS[failure]
    assert text == expected_text(code)


@pytest.mark.parametrize("kind_", [k for k in SimErrorKind if SIM_ERRORS[k][0]])
def test_business_refusals_use_the_venues_code_and_text(kind_: SimErrorKind) -> None:
    code, text = SIM_ERRORS[kind_]
    if code in UNCATALOGUED:
        pytest.skip(f"{code} is in neither the swap catalogue nor a recorded body")
    assert text == expected_text(code)


@pytest.mark.asyncio
async def test_refusal_bodies_have_the_recorded_shape(raw: Raw, sim: SimulatorServer) -> None:
    """A wrong key (100413) and a leverage above the maximum (101414): the bodies as recorded / catalogued."""
    wrong = Raw(raw.session, raw.base, "nobody", raw.secret)
    refused = await wrong.call("GET", "/openApi/swap/v3/user/balance")
    assert differences(real_errors()[100413], refused) == [] and refused["msg"] == expected_text(100413)
    top = int(float(sim.market.instruments["BTC"].max_leverage))
    too_high = await raw.call("POST", "/openApi/swap/v2/trade/leverage", {**BTC, "side": "BOTH", "leverage": top + 1})
    assert too_high["code"] == 101414
    assert fnmatch.fnmatchcase(too_high["msg"], catalogue()[101414]) and str(top) in too_high["msg"]
    assert differences(real_errors()[101204], too_high) == []  # the business-refusal envelope: code, msg, data {}
