"""The connection test's log and messages for good keys, bad key, bad secret, IP, skewed clock, no network."""

from __future__ import annotations

import socket

import pytest

from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.capabilities import RateLimit
from cts_desktop.exchanges.connection_test import ConnectionProblem, ConnectionTestStatus, run_connection_test
from cts_desktop.exchanges.errors import RetryPolicy
from cts_desktop.exchanges.models import Credentials
from cts_desktop.exchanges.simulator import SimulatorServer
from tests.integration.exchanges.conftest import EXCHANGES, make_adapter


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange_id", EXCHANGES)
async def test_good_keys_pass_with_a_full_log(sim: SimulatorServer, exchange_id: str) -> None:
    async with make_adapter(sim, exchange_id, balance=2_500) as ad:
        result = await run_connection_test(ad)
    assert result.status is ConnectionTestStatus.PASSED, result.log_text()
    assert result.balance is not None and result.balance.total == pytest.approx(2_500)
    assert result.btc_price == pytest.approx(sim.market.price("BTC"))
    assert result.market_count == 3
    assert result.account is not None and result.account.position_mode == "one-way"
    assert result.account.margin_mode == "cross" and result.account.max_leverage == 100
    assert abs(result.clock_offset_ms or 0) < 2_000
    assert [line.step for line in result.log] == [
        "server time",
        "public price",
        "signed balance",
        "account config",
        "markets",
    ]
    assert all(line.ok and line.duration_ms >= 0 for line in result.log)
    assert "2,500.00" in result.message
    text = result.log_text()
    assert "USDT total 2,500.00, free 2,500.00, used 0.00" in text
    assert ad._credentials is not None and ad._credentials.secret not in text


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange_id", EXCHANGES)
@pytest.mark.parametrize(
    ("case", "problem", "phrase"),
    [
        ("bad_key", ConnectionProblem.BAD_KEY, "does not know this API key"),
        ("bad_secret", ConnectionProblem.BAD_SECRET, "secret does not match"),
        ("ip", ConnectionProblem.IP_NOT_WHITELISTED, "whitelist"),
    ],
)
async def test_each_credential_problem_has_its_own_message(
    sim: SimulatorServer, exchange_id: str, case: str, problem: ConnectionProblem, phrase: str
) -> None:
    if case == "bad_key":
        ad = make_adapter(sim, exchange_id, api_key="AbCdEf123456")
    elif case == "bad_secret":
        ad = make_adapter(sim, exchange_id, secret="secret-that-is-wrong")
    else:
        ad = make_adapter(sim, exchange_id)
    async with ad:
        if case == "ip":
            sim.market.keyring.keys[ad._credentials.api_key].allowed_ips = ["203.0.113.9"]  # type: ignore[union-attr]
        result = await run_connection_test(ad)
    assert result.status is ConnectionTestStatus.FAILED
    assert result.problem is problem
    assert phrase in result.message
    assert [line.ok for line in result.log] == [True, True, False]
    assert result.log[-1].step == "signed balance" and result.log[-1].message == result.message
    assert "secret-that-is-wrong" not in result.log_text() and "AbCdEf123456" not in result.log_text()


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange_id", EXCHANGES)
async def test_a_skewed_clock_is_measured_corrected_and_named(sim: SimulatorServer, exchange_id: str) -> None:
    """This computer's clock two minutes behind the exchange's: the exchange would refuse every signed request; the
    test measures the offset first, the signed steps carry the corrected time, and the first line says how far off
    the clock is."""
    sim.set_clock_offset(120_000)
    async with make_adapter(sim, exchange_id) as ad:
        result = await run_connection_test(ad)
    assert result.status is ConnectionTestStatus.PASSED, result.log_text()
    assert result.clock_offset_ms == pytest.approx(120_000, abs=500)
    assert "clock is 120.0 s behind" in result.log[0].message and "time synchronisation" in result.log[0].message


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange_id", EXCHANGES)
async def test_no_network_is_reported_as_such(exchange_id: str) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    ad = ExchangeAdapter(
        exchange_id,
        Credentials("k", "s"),
        api_url=dead_url,
        rate_limit=RateLimit(1000, 600_000, 4),
        retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02),
        timeout_ms=1_000,
    )
    async with ad:
        result = await run_connection_test(ad)
    assert result.problem is ConnectionProblem.NETWORK_DOWN
    assert "Cannot reach" in result.message
    assert len(result.log) == 1 and result.log[0].step == "server time" and not result.log[0].ok


@pytest.mark.asyncio
async def test_exchange_down_is_not_called_a_network_problem(sim: SimulatorServer) -> None:
    async with make_adapter(sim, "bybit", attempts=2) as ad:
        sim.faults.add("/v5/market/time", "http_5xx", count=None)
        result = await run_connection_test(ad)
    assert result.problem is ConnectionProblem.EXCHANGE_UNAVAILABLE
