"""Every adapter operation through the real ccxt bybit / bingx classes against the loopback simulator."""

from __future__ import annotations

import itertools
import time

import pytest

from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.models import OrderRequest, OrderSide, OrderType, PositionSide, Trade
from cts_desktop.exchanges.simulator import SimulatorServer
from cts_desktop.exchanges.simulator.replay import CANDLE_MS
from tests.integration.exchanges.conftest import SYMBOL

HOUR = 3_600_000


def _account(sim: SimulatorServer, adapter: ExchangeAdapter):  # type: ignore[no-untyped-def]
    return sim.market.keyring.keys[adapter._credentials.api_key].account  # type: ignore[union-attr]


def market_buy(client_id: str, amount: float = 0.01, **kw: object) -> OrderRequest:
    return OrderRequest(SYMBOL, OrderSide.BUY, OrderType.MARKET, amount, client_id, **kw)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_markets_are_the_replay_contracts(adapter: ExchangeAdapter) -> None:
    markets = await adapter.markets()
    assert set(markets) == {"BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"}
    btc = markets[SYMBOL]
    assert btc.base == "BTC" and btc.quote == "USDT"
    assert btc.max_leverage == 100
    assert btc.min_amount == pytest.approx(0.001)
    assert await adapter.markets() is markets  # cached


@pytest.mark.asyncio
async def test_server_time_and_tickers(adapter: ExchangeAdapter, sim: SimulatorServer) -> None:
    assert abs(await adapter.server_time() - time.time() * 1000) < 5_000
    ticker = await adapter.ticker(SYMBOL)
    assert ticker.last == pytest.approx(sim.market.price("BTC"))
    assert ticker.high_24h is not None and ticker.low_24h is not None
    assert ticker.low_24h <= ticker.last <= ticker.high_24h
    tickers = await adapter.tickers()
    assert set(tickers) >= {"BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"}


@pytest.mark.asyncio
async def test_ohlcv_paginates_over_the_recorded_candles(adapter: ExchangeAdapter, sim: SimulatorServer) -> None:
    path = sim.market.path
    since = path.start_ms - 4 * 24 * HOUR  # 1,152 five-minute bars: more than one page on both exchanges
    candles = await adapter.ohlcv(SYMBOL, "5m", since=since, until=path.start_ms)
    assert len(candles) == 4 * 24 * 12
    assert all(b[0] - a[0] == CANDLE_MS for a, b in itertools.pairwise(candles))
    series = sim.market.series["BTC"]
    k = (since - path.origin_ms) // CANDLE_MS
    for i in (0, 500, 1151):  # served bars are the recorded candles, shifted in time
        _ts, o, h, lo, c, _ = candles[i]
        assert (o, h, lo, c) == pytest.approx(
            (series.opens[k + i], series.highs[k + i], series.lows[k + i], series.closes[k + i])
        )
    latest = await adapter.ohlcv(SYMBOL, "1h", limit=5)
    assert len(latest) == 5 and latest[-1][0] <= sim.market.now()


@pytest.mark.asyncio
async def test_balance_and_settings(adapter: ExchangeAdapter) -> None:
    bal = await adapter.balance()
    assert (bal.total, bal.free, bal.used) == (10_000, 10_000, 0)
    await adapter.set_leverage(SYMBOL, 5)
    await adapter.set_leverage(SYMBOL, 5)  # "not modified" counts as done
    await adapter.set_margin_mode(SYMBOL, "isolated")
    config = await adapter.account_config(SYMBOL)
    assert config.margin_mode == "isolated"
    assert config.max_leverage == 100
    await adapter.set_margin_mode(SYMBOL, "cross")
    await adapter.set_position_mode(True, SYMBOL)
    assert (await adapter.account_config(SYMBOL)).position_mode == "hedge"
    await adapter.set_position_mode(False, SYMBOL)
    assert (await adapter.account_config(SYMBOL)).position_mode == "one-way"


@pytest.mark.asyncio
async def test_market_order_with_tp_sl_fills_and_is_found_by_client_id(
    adapter: ExchangeAdapter, sim: SimulatorServer
) -> None:
    last = sim.market.price("BTC")
    order = await adapter.place_order(
        market_buy("mkt-1", take_profit=round(last * 1.02, 1), stop_loss=round(last * 0.98, 1))
    )
    assert order.client_id == "mkt-1" and order.status == "closed"
    assert order.filled == pytest.approx(0.01) and order.average == pytest.approx(last)
    again = await adapter.order_by_client_id(SYMBOL, "mkt-1")
    assert again.id == order.id
    by_id = await adapter.fetch_order(SYMBOL, order.id)
    assert by_id.client_id == "mkt-1"
    (pos,) = await adapter.positions([SYMBOL])
    assert pos.side is PositionSide.LONG and pos.contracts == pytest.approx(0.01)
    assert pos.entry_price == pytest.approx(last)
    (trade,) = await adapter.my_trades(SYMBOL)
    assert trade.order_id == order.id
    walked = await adapter.my_trades(SYMBOL, since=int(time.time() * 1000) - 20 * 24 * HOUR)  # 3 windows
    assert [t.order_id for t in walked] == [order.id]
    assert trade.fee == pytest.approx(0.01 * last * 0.00055)
    bal = await adapter.balance()
    assert bal.total == pytest.approx(10_000 - 0.01 * last * 0.00055, abs=1e-6)
    assert bal.used > 0


@pytest.mark.asyncio
async def test_more_own_fills_than_a_page_are_all_read(adapter: ExchangeAdapter, sim: SimulatorServer) -> None:
    """Bybit answers at most the newest 100 own fills: a sync that fell more than a page behind, or the look-back
    from an old position's opening, missed the older ones (a position stayed open in the DB forever)."""
    since = sim.market.now() - 1000  # BingX stamps fills to the second
    ids = []
    for k in range(137):
        side = OrderSide.BUY if k % 2 == 0 else OrderSide.SELL
        order = await adapter.place_order(OrderRequest(SYMBOL, side, OrderType.MARKET, 0.001, f"page-{k}"))
        ids.append(order.id)
        sim.market.step(10)  # the stepped market's clock stays behind the wall clock the adapter asks "until"
    trades = await adapter.my_trades(SYMBOL, since=since)
    assert_every_fill_once_oldest_first(trades, ids)
    walked = await adapter.my_trades(SYMBOL, since=since - 20 * 24 * HOUR)  # through three history windows
    assert walked == trades
    assert await adapter.my_trades(SYMBOL, since=since, limit=5) == trades[-5:]


def assert_every_fill_once_oldest_first(trades: list[Trade], placed: list[str]) -> None:
    """One fill per placed order, in exchange time; orders placed within the same millisecond share a stamp and
    their order among themselves is the exchange's to choose."""
    assert sorted(t.order_id or "" for t in trades) == sorted(placed)
    stamps = [t.timestamp or 0 for t in trades]
    assert stamps == sorted(stamps)
    by_order = {t.order_id: t.timestamp or 0 for t in trades}
    in_placing_order = [by_order[order_id] for order_id in placed]
    assert in_placing_order == sorted(in_placing_order)


@pytest.mark.asyncio
async def test_limit_order_rests_and_cancels_by_client_id(adapter: ExchangeAdapter, sim: SimulatorServer) -> None:
    price = round(sim.market.price("BTC") * 0.8, 1)
    order = await adapter.place_order(OrderRequest(SYMBOL, OrderSide.BUY, OrderType.LIMIT, 0.01, "lim-1", price))
    assert order.status == "open" and order.price == pytest.approx(price)
    assert [o.client_id for o in await adapter.open_orders(SYMBOL)] == ["lim-1"]
    await adapter.cancel_order(SYMBOL, client_id="lim-1")
    assert await adapter.open_orders(SYMBOL) == []
    assert (await adapter.order_by_client_id(SYMBOL, "lim-1")).status == "canceled"


@pytest.mark.asyncio
async def test_exchange_side_stop_loss_closes_the_position(adapter: ExchangeAdapter, sim: SimulatorServer) -> None:
    last = sim.market.price("BTC")
    tp, sl = round(last * 1.004, 1), round(last * 0.996, 1)
    entry = await adapter.place_order(market_buy("tpsl-1", take_profit=tp, stop_loss=sl))
    for _ in range(96):  # up to 8 hours of replay, one 5-minute step at a time
        sim.market.step(CANDLE_MS)
        if not await adapter.positions([SYMBOL]):
            break
    assert await adapter.positions([SYMBOL]) == []
    trades = await adapter.my_trades(SYMBOL)
    assert len(trades) == 2
    (exit_trade,) = [t for t in trades if t.order_id != entry.id]
    exit_price = exit_trade.price
    assert exit_price == pytest.approx(tp) or exit_price == pytest.approx(sl)


@pytest.mark.asyncio
async def test_funding_is_paid_every_eight_hours(adapter: ExchangeAdapter, sim: SimulatorServer) -> None:
    await adapter.place_order(market_buy("fund-1"))
    sim.market.step(17 * HOUR)  # crosses at least two settlements
    history = await adapter.funding_history(SYMBOL)
    assert len(history) >= 2
    assert all(p.amount != 0 for p in history)
    acc = _account(sim, adapter)
    paid = sum(e.fee for e in acc.executions if e.exec_type == "Funding")
    assert sum(p.amount for p in history) == pytest.approx(-paid, abs=1e-6)


@pytest.mark.asyncio
async def test_duplicate_client_id_returns_the_existing_order(adapter: ExchangeAdapter, sim: SimulatorServer) -> None:
    first = await adapter.place_order(market_buy("dup-1"))
    second = await adapter.place_order(market_buy("dup-1"))
    assert second.id == first.id
    acc = _account(sim, adapter)
    assert [o.client_id for o in acc.orders.values()].count("dup-1") == 1
    (pos,) = await adapter.positions([SYMBOL])
    assert pos.contracts == pytest.approx(0.01)


@pytest.mark.asyncio
async def test_hedge_mode_holds_long_and_short(adapter: ExchangeAdapter) -> None:
    await adapter.set_position_mode(True, SYMBOL)
    await adapter.place_order(market_buy("h-long", hedged=True))
    await adapter.place_order(OrderRequest(SYMBOL, OrderSide.SELL, OrderType.MARKET, 0.02, "h-short", hedged=True))
    sides = {p.side: p.contracts for p in await adapter.positions([SYMBOL])}
    assert sides == {PositionSide.LONG: pytest.approx(0.01), PositionSide.SHORT: pytest.approx(0.02)}
    await adapter.place_order(
        OrderRequest(SYMBOL, OrderSide.SELL, OrderType.MARKET, 0.01, "h-close", reduce_only=True, hedged=True)
    )
    sides = {p.side: p.contracts for p in await adapter.positions([SYMBOL])}
    assert sides == {PositionSide.SHORT: pytest.approx(0.02)}


@pytest.mark.asyncio
async def test_insufficient_funds_and_invalid_orders(adapter: ExchangeAdapter) -> None:
    from cts_desktop.exchanges.errors import InsufficientFundsError, InvalidOrderError

    with pytest.raises(InsufficientFundsError):
        await adapter.place_order(market_buy("big-1", amount=50.0))
    with pytest.raises(InvalidOrderError):
        await adapter.place_order(
            OrderRequest(SYMBOL, OrderSide.SELL, OrderType.MARKET, 0.01, "ro-1", reduce_only=True)
        )


@pytest.mark.asyncio
@pytest.mark.parametrize("hedged", [False, True])
async def test_position_tpsl_can_be_moved_and_then_triggers(
    adapter: ExchangeAdapter, sim: SimulatorServer, hedged: bool
) -> None:
    if hedged:
        await adapter.set_position_mode(True, SYMBOL)
    last = sim.market.price("BTC")
    await adapter.place_order(market_buy("move-1", hedged=hedged, stop_loss=round(last * 0.9, 1)))
    new_sl, new_tp = round(last * 0.996, 1), round(last * 1.004, 1)
    await adapter.set_position_tpsl(SYMBOL, PositionSide.LONG, new_tp, new_sl, hedged=hedged)
    await adapter.set_position_tpsl(SYMBOL, PositionSide.LONG, new_tp, new_sl, hedged=hedged)  # idempotent
    if adapter.exchange_id == "bingx":
        assert len(await adapter.open_orders(SYMBOL)) == 2  # one STOP_MARKET, one TAKE_PROFIT_MARKET
    for _ in range(96):
        sim.market.step(CANDLE_MS)
        if not await adapter.positions([SYMBOL]):
            break
    assert await adapter.positions([SYMBOL]) == []
    acc = _account(sim, adapter)
    closing = [e for e in acc.executions if e.exec_type == "Trade" and e.closed_size > 0]
    assert closing and closing[-1].price in (pytest.approx(new_sl), pytest.approx(new_tp))
    assert await adapter.open_orders(SYMBOL) == []  # the other leg went with the position
