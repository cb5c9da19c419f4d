"""Backtest integration: the loopback exchange simulator (real ccxt classes) and migrated databases."""

from __future__ import annotations

from tests.integration.exchanges.conftest import (  # noqa: F401  (fixtures and the loop hook, reused)
    _loopback_only,
    make_adapter,
    pytest_asyncio_loop_factories,
    sim,
)
