"""The offline "Replay" connection: the loopback simulator in-process, so the app trades with no internet.

At first start keys are generated and kept through the :class:`SecretStore` (the OS keyring in the app); every
start re-opens the simulator account with those keys, funded with ``balance`` USDT (the simulated account itself
is not persisted between runs). The connection row is created enabled — it moves no real money — and is marked
``is_replay`` so the UI can label it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.capabilities import RateLimit
from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID, ConnectionConfig, ConnectionStore, SecretStore
from cts_desktop.exchanges.models import Credentials

if TYPE_CHECKING:
    from cts_desktop.exchanges.simulator import SimulatorServer

log = logging.getLogger(__name__)

# The loopback venue's pace: inside Bybit's documented per-IP budget (600 requests in 5 s, which the simulator
# enforces when its rate limits are on), with ccxt's own throttle off — its per-endpoint weights, calibrated for the
# internet venue, paced a kline page every 100 ms for a server in this process: 2.4 s of the warm-up per 30
# symbol-days of candles (issue 18).
LOOPBACK_RATE = RateLimit(100, 6_000, 8)


def loopback_adapter(exchange_id: str, credentials: Credentials, api_url: str) -> ExchangeAdapter:
    """An adapter on a loopback simulator (the Replay connection, in this process or standalone)."""
    return ExchangeAdapter(exchange_id, credentials, api_url=api_url, rate_limit=LOOPBACK_RATE, ccxt_throttle=False)


@dataclass(frozen=True)
class ReplayOptions:
    exchange_id: str = "bybit"  # which dialect the app talks to the simulator in
    balance: float = 10_000.0
    speed: float = 1.0
    port: int = 0


class ReplayRuntime:
    def __init__(
        self, secrets: SecretStore, options: ReplayOptions | None = None, connection_id: str = REPLAY_CONNECTION_ID
    ) -> None:
        self.secrets = secrets
        self.options = options or ReplayOptions()
        self.connection_id = connection_id
        self.server: SimulatorServer | None = None
        self.base_url: str | None = None

    def ensure_connection(self, store: ConnectionStore) -> ConnectionConfig:
        """Create the Replay connection row and its keys at first start (idempotent)."""
        self.credentials()
        config = store.get(self.connection_id)
        if config is None:
            config = ConnectionConfig(
                id=self.connection_id,
                name="Replay (offline)",
                exchange_id=self.options.exchange_id,
                position_mode="one-way",
                is_enabled=True,
                is_predefined=True,
                is_replay=True,
            )
            store.save(config)
        return config

    def credentials(self) -> Credentials:
        key = self.secrets.get(self.connection_id, "api_key")
        secret = self.secrets.get(self.connection_id, "secret")
        if not key or not secret:
            from cts_desktop.exchanges.simulator.auth import generate_credentials

            key, secret = generate_credentials()
            self.secrets.set(self.connection_id, "api_key", key)
            self.secrets.set(self.connection_id, "secret", secret)
            log.info("generated keys for the Replay connection")
        return Credentials(key, secret)

    async def start(self) -> str:
        """Start the in-process simulator and open the account; returns the base URL (127.0.0.1 only)."""
        if self.base_url:
            return self.base_url
        from cts_desktop.exchanges.simulator import SimulatorConfig, SimulatorServer  # aiohttp: load on use

        creds = self.credentials()
        self.server = SimulatorServer(SimulatorConfig(speed=self.options.speed))
        self.base_url = await self.server.start(self.options.port)
        self.server.market.create_account(
            self.options.balance, exchange=self.options.exchange_id, api_key=creds.api_key, secret=creds.secret
        )
        return self.base_url

    def adapter(self) -> ExchangeAdapter:
        """An adapter on the running simulator. Loopback needs no throttle beyond a sane ceiling."""
        if not self.base_url:
            raise RuntimeError("start() the Replay runtime first")
        return loopback_adapter(self.options.exchange_id, self.credentials(), self.base_url)

    async def stop(self) -> None:
        if self.server:
            await self.server.stop()
        self.server = None
        self.base_url = None
