"""Sizing on the recorded real markets of Bybit and BingX (parsed by ccxt, rules built by the app's MarketCatalog):
exact lot steps, never above the risk budget, never a step short, the market's minimum and maximum respected, and
ccxt's own ``amount_to_precision`` leaves every quantity as it is (issue 14 item 5).

The oracle is exact rational arithmetic (``fractions.Fraction``) on the numbers as they print."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from functools import cache
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from cts_desktop.domain.sizing import VolumeSettings, size_position
from cts_desktop.engine.market_rules import MarketCatalog
from cts_desktop.exchanges.models import MarketInfo
from tests.helpers.fixture_markets import bingx_client, bybit_client, linear_swaps


@cache
def catalogs() -> dict[str, MarketCatalog]:
    out = {}
    for client in (bybit_client(), bingx_client()):
        infos = {s: MarketInfo.from_ccxt(client.markets[s]) for s in linear_swaps(client)}
        out[client.id] = MarketCatalog(client, infos)
    return out


def markets() -> list[tuple[str, str]]:
    return [(exchange, symbol) for exchange, catalog in catalogs().items() for symbol in catalog.markets]


def exact(value: Any) -> Fraction:
    return Fraction(Decimal(repr(value)) if isinstance(value, float) else Decimal(value))


def test_the_recorded_markets_are_all_there() -> None:
    assert len(markets()) == 12  # 8 Bybit linear perpetuals, 4 BingX USDT swaps
    btc = catalogs()["bybit"].rules("BTC/USDT:USDT")
    assert (btc.step, btc.min_amount, btc.min_notional, btc.max_amount) == (
        Decimal("0.001"), Decimal("0.001"), Decimal(5), Decimal(1190))


SETTINGS = st.builds(
    VolumeSettings,
    base_volume_factor=st.integers(1, 20).map(lambda k: k * 5 / 10),  # 0.5–10 step 0.5, as the settings store holds
    connection_volume_factor=st.integers(1, 100).map(lambda k: k / 10),  # 0.1–10 step 0.1
    positions_average=st.integers(2, 30).map(lambda k: k * 10),  # 20–300 step 10
    risk_percent=st.integers(1, 6).map(lambda k: float(k * 5)),  # 5–30 step 5
    use_max_leverage=st.booleans(),
    leverage_percent=st.integers(1, 20).map(lambda k: float(k * 5)),
    min_volume_enforcement=st.booleans(),
)


@settings(max_examples=600, deadline=None)
@given(market=st.sampled_from(markets()), ticks=st.integers(1, 10**8), cents=st.integers(1, 10**10),
       volume=SETTINGS)
@example(market=("bybit", "BTC/USDT:USDT"), ticks=101_167, cents=20_233_4, volume=VolumeSettings())  # 0.002, not 0.001
@example(market=("bingx", "ADA/USDT:USDT"), ticks=16_697, cents=2_003_64, volume=VolumeSettings())  # 12, not 11
@example(market=("bingx", "LTC/USDT:USDT"), ticks=10, cents=300, volume=VolumeSettings())  # 0.3 USDT at 0.1: minimum
def test_sizes_on_real_markets_are_exact(market: tuple[str, str], ticks: int, cents: int,
                                         volume: VolumeSettings) -> None:
    exchange, symbol = market
    catalog = catalogs()[exchange]
    raw = catalog.client.markets[symbol]
    price = float(Decimal(ticks) * Decimal(repr(raw["precision"]["price"])))  # a price on the tick grid, as ccxt has it
    balance = float(Decimal(cents) / 1000)  # what the adapter reads from ccxt: a float
    rules = catalog.rules(symbol)
    s = size_position(balance, price, rules, volume)  # floats are read as they print
    step, unit = exact(raw["precision"]["amount"]), exact(price) * exact(raw["contractSize"])
    budget = (exact(balance) * exact(volume.base_volume_factor) * exact(volume.connection_volume_factor) * 100
              / (volume.positions_average * exact(volume.risk_percent)))
    floor = (budget / unit // step) * step
    assert Fraction(s.calculated_quantity) == floor  # rounded down once, exactly
    minimum, maximum = exact(raw["limits"]["amount"]["min"] or 0), raw["limits"]["amount"]["max"]
    min_cost = exact(raw["limits"]["cost"]["min"] or 0)
    if s.skipped:
        assert s.quantity == 0
        assert not volume.min_volume_enforcement and (floor < minimum or floor * unit < min_cost or floor == 0)
        return
    quantity = Fraction(s.quantity)
    assert quantity > 0 and quantity % step == 0
    assert Decimal(catalog.amount(symbol, s.quantity)) == s.quantity  # ccxt sends exactly this quantity
    assert quantity >= minimum and quantity * unit >= min_cost
    assert maximum is None or quantity <= exact(maximum)
    assert Fraction(s.notional) == quantity * unit
    if not s.adjusted:
        assert quantity * unit <= budget < (quantity + step) * unit  # never above the budget, never a step short
    elif maximum is not None and floor > exact(maximum):
        assert quantity == (exact(maximum) // step) * step and "maximum" in s.reason
    else:  # raised: the smallest valid quantity, one step less would break a minimum
        smaller = quantity - step
        assert floor < quantity and (smaller <= 0 or smaller < minimum or smaller * unit < min_cost)
