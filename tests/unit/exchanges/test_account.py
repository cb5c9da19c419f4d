"""Simulated account rules: fills, fees, one-way/hedge positions, reduce-only, TP/SL, funding, client ids."""

from __future__ import annotations

import pytest

from cts_desktop.exchanges.simulator.account import Account, OrderStatus, SimError, SimErrorKind, SimOrder
from cts_desktop.exchanges.simulator.replay import load_dataset

TAKER, MAKER = 0.00055, 0.0002


def _account(hedge: bool = False, wallet: float = 10_000) -> Account:
    inst = {b: s.instrument for b, s in load_dataset().items()}
    return Account(inst, wallet, TAKER, MAKER, hedge_mode=hedge)


def _order(
    side: str,
    qty: float,
    cid: str = "",
    otype: str = "Market",
    price: float | None = None,
    idx: int = 0,
    reduce_only: bool = False,
    tp: float | None = None,
    sl: float | None = None,
) -> SimOrder:
    return SimOrder("", cid, "BTC", side, otype, qty, price, idx, reduce_only, 0, take_profit=tp, stop_loss=sl)


def test_market_round_trip_pays_taker_fee_twice_and_realises_pnl() -> None:
    acc = _account()
    acc.place(_order("Buy", 0.1), 50_000, 1)
    acc.place(_order("Sell", 0.1), 51_000, 2)
    fees = 0.1 * 50_000 * TAKER + 0.1 * 51_000 * TAKER
    assert acc.wallet == pytest.approx(10_000 + 100 - fees)
    assert acc.position("BTC", 0).size == 0


def test_one_way_position_flips_through_zero() -> None:
    acc = _account()
    acc.place(_order("Buy", 0.1), 50_000, 1)
    acc.place(_order("Sell", 0.3), 49_000, 2)
    pos = acc.position("BTC", 0)
    assert (pos.side, pos.size, pos.entry) == ("Sell", pytest.approx(0.2), 49_000)


def test_hedge_mode_needs_position_index_and_keeps_both_sides() -> None:
    acc = _account(hedge=True)
    with pytest.raises(SimError) as info:
        acc.place(_order("Buy", 0.1), 50_000, 1)
    assert info.value.kind is SimErrorKind.BAD_PARAM
    acc.place(_order("Buy", 0.1, idx=1), 50_000, 1)
    acc.place(_order("Sell", 0.2, idx=2), 50_000, 1)
    assert acc.position("BTC", 1).size == pytest.approx(0.1) and acc.position("BTC", 2).size == pytest.approx(0.2)


def test_reduce_only_without_position_is_refused_and_capped_otherwise() -> None:
    acc = _account()
    with pytest.raises(SimError) as info:
        acc.place(_order("Sell", 0.1, reduce_only=True), 50_000, 1)
    assert info.value.kind is SimErrorKind.REDUCE_ONLY_REJECTED
    acc.place(_order("Buy", 0.1), 50_000, 1)
    acc.place(_order("Sell", 0.5, reduce_only=True), 50_000, 2)
    assert acc.position("BTC", 0).size == 0


def test_duplicate_client_id_and_insufficient_balance() -> None:
    acc = _account(wallet=100)
    acc.place(_order("Buy", 0.001, cid="a"), 50_000, 1)
    with pytest.raises(SimError) as dup:
        acc.place(_order("Buy", 0.001, cid="a"), 50_000, 1)
    assert dup.value.kind is SimErrorKind.DUPLICATE_CLIENT_ID
    with pytest.raises(SimError) as poor:
        acc.place(_order("Buy", 1.0, cid="b"), 50_000, 1)
    assert poor.value.kind is SimErrorKind.INSUFFICIENT_BALANCE


def test_resting_limit_fills_as_maker_when_price_crosses() -> None:
    acc = _account()
    order = acc.place(_order("Buy", 0.1, otype="Limit", price=49_000), 50_000, 1)
    assert order.status is OrderStatus.NEW
    acc.on_price("BTC", 50_000, 49_500, 2)
    assert order.status is OrderStatus.NEW
    acc.on_price("BTC", 49_500, 48_900, 3)
    assert order.status is OrderStatus.FILLED and order.avg_price == 49_000
    assert acc.executions[-1].is_maker and acc.executions[-1].fee == pytest.approx(0.1 * 49_000 * MAKER)


def test_stop_loss_triggers_at_its_level_and_tp_sl_must_be_on_the_right_side() -> None:
    acc = _account()
    with pytest.raises(SimError):
        acc.place(_order("Buy", 0.1, tp=49_000), 50_000, 1)
    acc.place(_order("Buy", 0.1, tp=52_000, sl=49_000), 50_000, 1)
    acc.on_price("BTC", 50_000, 48_000, 2)  # gaps through the stop within one step
    assert acc.position("BTC", 0).size == 0
    closing = acc.executions[-1]
    assert closing.price == 49_000 and closing.realised_pnl == pytest.approx(-100)


def test_funding_long_pays_positive_rate_short_receives() -> None:
    acc = _account(hedge=True)
    acc.place(_order("Buy", 0.1, idx=1), 50_000, 1)
    acc.place(_order("Sell", 0.1, idx=2), 50_000, 1)
    before = acc.wallet
    acc.settle_funding("BTC", 50_000, 0.0001, 2)
    pays = [e.fee for e in acc.executions if e.exec_type == "Funding"]
    assert sorted(pays) == pytest.approx([-0.5, 0.5])
    assert acc.wallet == pytest.approx(before)


def test_leverage_rules() -> None:
    acc = _account()
    acc.set_leverage("BTC", 20)
    with pytest.raises(SimError) as same:
        acc.set_leverage("BTC", 20)
    assert same.value.kind is SimErrorKind.LEVERAGE_NOT_MODIFIED
    with pytest.raises(SimError):
        acc.set_leverage("SOL", 50)  # SOL's recorded cap is 5x
