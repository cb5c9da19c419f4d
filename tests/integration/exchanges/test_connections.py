"""Connections service over the protocols, the Replay runtime, and symbol selection against the simulator."""

from __future__ import annotations

import pytest

from cts_desktop.exchanges.connections import ConnectionRuleError, ConnectionService
from cts_desktop.exchanges.models import OrderRequest, OrderSide, OrderType
from cts_desktop.exchanges.replay_connection import ReplayOptions, ReplayRuntime
from cts_desktop.exchanges.simulator import SimulatorServer
from cts_desktop.exchanges.symbols import SymbolOrder, SymbolSelectionConfig, SymbolSelector, select_symbols
from tests.integration.exchanges.conftest import SYMBOL, make_adapter
from tests.unit.exchanges.memory_stores import MemoryConnectionStore, MemorySecretStore


def _service() -> tuple[ConnectionService, MemoryConnectionStore, MemorySecretStore]:
    store, secrets = MemoryConnectionStore(), MemorySecretStore()
    return ConnectionService(store, secrets), store, secrets


def test_predefined_connections_are_created_once_and_disabled() -> None:
    service, store, _ = _service()
    created = service.ensure_predefined()
    assert sorted(c.name for c in created) == ["BingX X01", "Bybit X03"]
    assert all(not c.is_enabled and c.is_predefined for c in store.list())
    assert service.ensure_predefined() == []
    with pytest.raises(ConnectionRuleError):
        service.set_enabled(created[0].id, True)


def test_generic_connection_needs_a_swap_exchange() -> None:
    service, _, _ = _service()
    config = service.create("OKX main", "okx")
    assert config.exchange_id == "okx" and not config.is_enabled
    with pytest.raises(ConnectionRuleError):
        service.create("OKX main", "okx")
    with pytest.raises(ConnectionRuleError):
        service.create("Nope", "no-such-exchange")


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange_id", ["bybit", "bingx"])
async def test_keys_then_passing_test_enable_and_new_keys_disable(sim: SimulatorServer, exchange_id: str) -> None:
    service, store, secrets = _service()
    service.ensure_predefined()
    config = next(c for c in store.list() if c.exchange_id == exchange_id)
    key = sim.market.create_account(1_234, exchange=exchange_id)
    service.set_credentials(config.id, key.key, "wrong-secret")
    failed = await service.test(config.id, api_url=sim.base_url)
    assert not failed.passed and not service.get(config.id).is_enabled
    service.set_credentials(config.id, key.key, key.secret)
    result = await service.test(config.id, api_url=sim.base_url)
    assert result.passed, result.log_text()
    saved = service.get(config.id)
    assert saved.is_enabled and saved.last_test is not None and saved.last_test.balance_total == pytest.approx(1_234)
    assert key.secret not in repr(saved) and all(key.secret != v for v in vars(saved).values())
    assert secrets.get(config.id, "secret") == key.secret
    service.set_credentials(config.id, key.key, key.secret)
    assert not service.get(config.id).is_enabled
    service.delete(config.id)
    assert secrets.get(config.id, "api_key") is None and store.get(config.id) is None


@pytest.mark.asyncio
async def test_replay_runtime_generates_keys_once_and_trades_offline() -> None:
    store, secrets = MemoryConnectionStore(), MemorySecretStore()
    runtime = ReplayRuntime(secrets, ReplayOptions(speed=0))
    config = runtime.ensure_connection(store)
    assert config.is_replay and config.is_enabled
    first_key = secrets.get(config.id, "api_key")
    assert first_key and runtime.ensure_connection(store).id == config.id
    url = await runtime.start()
    try:
        assert url.startswith("http://127.0.0.1:")
        async with runtime.adapter() as adapter:
            assert (await adapter.balance()).total == pytest.approx(10_000)
            order = await adapter.place_order(OrderRequest(SYMBOL, OrderSide.BUY, OrderType.MARKET, 0.01, "replay-1"))
            assert order.filled == pytest.approx(0.01)
    finally:
        await runtime.stop()
    again = ReplayRuntime(secrets, ReplayOptions(speed=0))
    assert again.credentials().api_key == first_key


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange_id", ["bybit", "bingx"])
async def test_symbol_selection_orders(sim: SimulatorServer, exchange_id: str) -> None:
    async with make_adapter(sim, exchange_id) as ad:
        tickers = await ad.tickers()
        by_volume = sorted(tickers, key=lambda s: -(tickers[s].quote_volume_24h or 0))
        sel = await select_symbols(ad, SymbolSelectionConfig(count=2, forced=("SOL",)))
        assert sel.symbols[0] == "SOL/USDT:USDT"
        assert sel.symbols[1:] == [s for s in by_volume if s != "SOL/USDT:USDT"][:2]
        alpha = await select_symbols(ad, SymbolSelectionConfig(order=SymbolOrder.ALPHABETICAL, count=2, forced=()))
        assert alpha.symbols == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
        vol = await select_symbols(ad, SymbolSelectionConfig(order=SymbolOrder.VOLATILITY, count=3, forced=()))
        scores = [score for _, score in vol.ranked]
        assert scores == sorted(scores, reverse=True) and scores[0] > 0
        main = await select_symbols(
            ad, SymbolSelectionConfig(use_main_symbols=True, main=("ETH", "DOGE", "BTC"), forced=("XRP",))
        )
        assert main.symbols == ["ETH/USDT:USDT", "BTC/USDT:USDT"]
        selector = SymbolSelector(ad, SymbolSelectionConfig(count=1, forced=()))
        first = await selector.current()
        assert await selector.current() is first


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange_id", ["bybit", "bingx"])
async def test_a_volatility_period_longer_than_a_page_measures_every_minute_of_it(sim: SimulatorServer,
                                                                                  exchange_id: str) -> None:
    """System › Volatility calculation period 24 h: σ of the last 1,440 one-minute closes, fetched over as many pages
    as the exchange needs (one page — Bybit's 1,000 — made it 16.7 h), equal to the σ of the simulator's own last
    1,440 bars."""
    from cts_desktop.exchanges.symbols import volatility

    async with make_adapter(sim, exchange_id) as ad:
        sel = await select_symbols(ad, SymbolSelectionConfig(order=SymbolOrder.VOLATILITY, count=3, forced=(),
                                                             volatility_period_ms=24 * 3_600_000))
        measured = dict(sel.ranked)
        for symbol in ("BTC/USDT:USDT", "ETH/USDT:USDT"):
            bars = sim.market.klines(symbol.split("/")[0], 60_000, None, None, 1440)
            expected = volatility([bar.close for bar in bars])
            assert measured[symbol] == pytest.approx(expected, rel=1e-3), symbol
