"""The exchange clock (issue 14 item 6): the round-trip-corrected offset, the skew state with its log lines once per
change, measurements only when due, and the offset really reaching the timestamp ccxt signs — Bybit and BingX, in
``ccxt.async_support`` and in ``ccxt.pro``."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from cts_desktop.events.status import describe_offset
from cts_desktop.exchanges.capabilities import capabilities_for
from cts_desktop.exchanges.clock import ExchangeClock, install
from cts_desktop.exchanges.errors import TemporaryError


class FakeTime:
    """A local clock that only moves when told, and an exchange whose clock is ``skew`` ahead of it; each server
    time request takes ``legs`` (out, back) ms."""

    def __init__(self, skew: int, legs: list[tuple[int, int]]) -> None:
        self.local = 1_800_000_000_000
        self.skew = skew
        self.legs = legs
        self.requests = 0

    def now(self) -> int:
        return self.local

    async def server(self) -> int:
        out, back = self.legs[self.requests % len(self.legs)]
        self.requests += 1
        self.local += out
        stamp = self.local + self.skew
        self.local += back
        return stamp


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_offset_is_the_round_trip_midpoint_of_the_fastest_sample() -> None:
    fake = FakeTime(3_000, [(40, 400), (5, 7), (300, 20)])  # asymmetric legs; the middle sample is the fastest
    clock = ExchangeClock("bybit", fake.server, fake.now, samples=3)
    reading = run(clock.measure())
    assert fake.requests == 3 and reading.rtt_ms == 12
    assert reading.offset_ms == 3_000 - 1  # error = (out − back) / 2 of the kept sample, never more than RTT / 2
    assert reading.skewed and clock.now_ms() == fake.local + reading.offset_ms


def test_skew_is_logged_once_per_change_and_listeners_hear_every_reading(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTime(-8_000, [(2, 2)])
    heard: list[tuple[int, bool, bool]] = []
    clock = ExchangeClock("bingx", fake.server, fake.now, samples=1)
    clock.subscribe(lambda r, changed: heard.append((r.offset_ms, r.skewed, changed)))
    with caplog.at_level(logging.INFO, logger="cts_desktop.exchanges.clock"):
        for skew in (-8_000, -8_000, -7_950, -900, -850, 300, 1_200, 900, 700):
            fake.skew = skew
            run(clock.measure())
    assert [(s, c) for _, s, c in heard] == [
        (True, True), (True, False), (True, False),  # -8 s: shown once
        (True, False), (True, False),  # -0.9 s, -0.85 s: still over the 0.8 s at which a skew clears
        (False, True), (True, True), (True, False), (False, True),
    ]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3  # -8 s; moved by more than 1 s to -0.9 s; 1.2 s — never once per measurement
    assert "8.0 s ahead of bingx's" in warnings[0] and "time synchronisation" in warnings[0]
    assert "1.2 s behind" in warnings[2]
    assert sum("back within" in r.getMessage() for r in caplog.records) == 2


def test_measures_only_when_due_and_a_failure_never_fails_the_request(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTime(50, [(1, 1)])
    clock = ExchangeClock("bybit", fake.server, fake.now, samples=2, refresh_s=300)

    async def scenario() -> None:
        await asyncio.gather(*(clock.ensure_fresh() for _ in range(10)))  # concurrent first requests: one measurement
        assert fake.requests == 2 and clock.offset_ms == 50
        await clock.ensure_fresh()
        assert fake.requests == 2  # fresh
        clock._due = 0.0  # five minutes later

        async def down() -> int:
            raise TemporaryError("server time unreachable")

        clock.server_ms = down
        await clock.ensure_fresh()  # logged once, keeps the last offset
        assert clock.offset_ms == 50 and clock._due > time.monotonic()
        clock._due = 0.0
        await clock.ensure_fresh()
        assert sum("could not be read" in r.getMessage() for r in caplog.records) == 1

    run(scenario())


def test_describe_offset_names_this_computers_clock() -> None:
    assert describe_offset(3_000) == "3.0 s behind" and describe_offset(-8_000) == "8.0 s ahead"
    assert describe_offset(0) == "in step"


def _signed_timestamp(client: Any, exchange_id: str) -> int:
    if exchange_id == "bybit":
        request = client.sign("v5/account/wallet-balance", ["private"], "GET", {"accountType": "UNIFIED"})
        return int(request["headers"]["X-BAPI-TIMESTAMP"])
    request = client.sign("user/balance", ["swap", "v3", "private"], "GET", {})
    return int(parse_qs(urlparse(request["url"]).query)["timestamp"][0])


@pytest.mark.parametrize("library", ["ccxt.async_support", "ccxt.pro"])
@pytest.mark.parametrize("exchange_id", ["bybit", "bingx"])
@pytest.mark.parametrize("skew", [3_000, -8_000])
def test_the_offset_reaches_the_signed_timestamp(library: str, exchange_id: str, skew: int) -> None:
    import importlib

    module = importlib.import_module(library)
    client = getattr(module, exchange_id)({"apiKey": "k", "secret": "s"})
    caps = capabilities_for(exchange_id)
    assert caps.nonce_is_timestamp

    async def exchange_time() -> int:
        return int(time.time() * 1000) + skew

    clock = ExchangeClock(exchange_id, exchange_time, samples=1)
    unskewed = _signed_timestamp(client, exchange_id)
    assert abs(unskewed - time.time() * 1000) < 1_000  # ccxt alone signs with this computer's clock

    async def scenario() -> int:
        install(client, clock, exchange_id, caps.error_codes)
        await clock.measure()
        signed = _signed_timestamp(client, exchange_id)
        await client.close()
        return signed

    signed = run(scenario())
    assert abs(signed - (time.time() * 1000 + skew)) < 1_000

