"""Connections: what a connection is, where it is kept (two protocols the storage layer implements), and the
service that creates, edits, tests and enables them.

Storage is not done here. The lead's ``storage/`` implements:

* :class:`ConnectionStore` — get / list / save / delete of :class:`ConnectionConfig` (plain dataclasses; keep
  ``settings`` and ``last_test`` as JSON or columns, as you like);
* :class:`SecretStore` — get / set / delete of one secret by ``(connection_id, field)`` in the OS keyring;
  fields are :data:`SECRET_FIELDS`. No secret ever goes to the ConnectionStore, a log or an exception text.

Rules (DOMAIN Part 1 §11–12): "Bybit X03" and "BingX X01" are created at first start, **disabled** until keys are
entered and a connection test passes; changing keys disables the connection again until a new test passes; any
other ccxt exchange with swap markets can be added as a generic connection; the offline "Replay" connection runs
against the built-in simulator (see ``replay_connection.py``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Protocol

from cts_desktop.exchanges import ccxt_lean
from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.capabilities import RateLimit, capabilities_for
from cts_desktop.exchanges.connection_test import ConnectionTestResult, run_connection_test
from cts_desktop.exchanges.errors import RetryPolicy
from cts_desktop.exchanges.models import Credentials

SECRET_FIELDS = ("api_key", "secret", "password")
# records kept beside the keys (never in the database, which anyone with SQL access could edit): the passed
# connection test ("<key fingerprint> <testnet 0/1> <tested at ms>") and the live-trading grant (storage/live_lock.py)
TEST_PASS_FIELD = "test_pass"
LIVE_GRANT_FIELD = "live_grant"
RECORD_FIELDS = (TEST_PASS_FIELD, LIVE_GRANT_FIELD)

PREDEFINED = (("Bybit X03", "bybit"), ("BingX X01", "bingx"))
# Account/API type per exchange: Bybit X03 trades the V5 unified trading account, BingX X01 the USDT-M perpetuals.
DEFAULT_API_TYPE = {"bybit": "unified", "bingx": "perpetual_futures"}
GENERIC_API_TYPE = "perpetual_futures"


def default_api_type(exchange_id: str) -> str:
    return DEFAULT_API_TYPE.get(exchange_id, GENERIC_API_TYPE)
REPLAY_CONNECTION_ID = "replay"


@dataclass
class ConnectionSettings:
    """Per-connection trade settings (DOMAIN Part 2 §9.7) and rate limits (§8.4)."""

    live_volume_factor: float = 1.0  # sizes Main-mode live entries
    preset_volume_factor: float = 1.0  # sizes Preset-mode live entries
    use_main_symbols: bool = False
    # set: wins over Settings › Strategy (Main / Real minimum avg PF, Maximum drawdown time) for this connection;
    # None: the connection follows the Settings value
    live_pf_min_main: float | None = None
    live_pf_min_real: float | None = None
    max_drawdown_hours: float | None = None
    rate_limit: RateLimit | None = None  # None = the exchange's default from the capability table


@dataclass
class LastTest:
    passed: bool
    tested_at_ms: int
    message: str
    balance_total: float | None
    log: str


@dataclass
class ConnectionConfig:
    id: str
    name: str
    exchange_id: str
    margin_mode: str = "cross"
    position_mode: str = "hedge"
    is_testnet: bool = False
    is_enabled: bool = False
    is_active: bool = True
    is_live_trade: bool = False
    is_preset_trade: bool = False
    is_predefined: bool = False
    is_replay: bool = False
    api_type: str = ""  # account/API type; empty = the exchange's default (default_api_type)
    settings: ConnectionSettings = field(default_factory=ConnectionSettings)
    last_test: LastTest | None = None
    created_at_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def __post_init__(self) -> None:
        if not self.api_type:
            self.api_type = default_api_type(self.exchange_id)


class ConnectionStore(Protocol):
    def get(self, connection_id: str) -> ConnectionConfig | None: ...

    def list(self) -> list[ConnectionConfig]: ...

    def save(self, config: ConnectionConfig) -> None: ...

    def delete(self, connection_id: str) -> None: ...


class SecretStore(Protocol):
    def get(self, connection_id: str, field: str) -> str | None: ...

    def set(self, connection_id: str, field: str, value: str) -> None: ...

    def delete(self, connection_id: str, field: str) -> None: ...


class ConnectionRuleError(Exception):
    """A connection operation the rules forbid (plain message for the UI)."""


def is_swap_exchange(exchange_id: str) -> bool:
    """True when ccxt knows ``exchange_id`` and it lists swap markets (imports ccxt: call off the UI path)."""
    ccxt_async = ccxt_lean.load("ccxt.async_support")

    if exchange_id not in ccxt_async.exchanges:
        return False
    return bool(getattr(ccxt_async, exchange_id)().has.get("swap"))


class ConnectionService:
    def __init__(self, store: ConnectionStore, secrets: SecretStore) -> None:
        self.store = store
        self.secrets = secrets

    # ---- CRUD -----------------------------------------------------------------------------------------------
    def ensure_predefined(self) -> list[ConnectionConfig]:
        """Create the predefined connections that are missing (disabled, no keys). The app calls this on its
        first start only (a freshly created database), so a predefined connection the user deleted stays deleted."""
        existing = {(c.exchange_id, c.is_predefined) for c in self.store.list()}
        created = []
        for name, exchange_id in PREDEFINED:
            if (exchange_id, True) not in existing:
                config = ConnectionConfig(id=_new_id(), name=name, exchange_id=exchange_id, is_predefined=True)
                self.store.save(config)
                created.append(config)
        return created

    def create(self, name: str, exchange_id: str, *, check_exchange: bool = True) -> ConnectionConfig:
        """A generic connection to any ccxt exchange with swap markets (disabled until tested)."""
        if any(c.name == name for c in self.store.list()):
            raise ConnectionRuleError(f"A connection named {name!r} already exists.")
        if check_exchange and not is_swap_exchange(exchange_id):
            raise ConnectionRuleError(f"{exchange_id!r} is not a ccxt exchange with perpetual swap markets.")
        config = ConnectionConfig(id=_new_id(), name=name, exchange_id=exchange_id)
        self.store.save(config)
        return config

    def get(self, connection_id: str) -> ConnectionConfig:
        config = self.store.get(connection_id)
        if config is None:
            raise ConnectionRuleError(f"No connection with id {connection_id}.")
        return config

    def list(self) -> list[ConnectionConfig]:
        return self.store.list()

    def update(self, config: ConnectionConfig) -> None:
        """Save edited fields; live/preset trading still requires an enabled (tested) connection."""
        if (config.is_live_trade or config.is_preset_trade) and not config.is_enabled:
            raise ConnectionRuleError("Live trading needs an enabled connection with a passed test.")
        self.store.save(config)

    def delete(self, connection_id: str) -> None:
        for name in SECRET_FIELDS + RECORD_FIELDS:
            self.secrets.delete(connection_id, name)
        self.store.delete(connection_id)

    # ---- keys -----------------------------------------------------------------------------------------------
    def set_credentials(self, connection_id: str, api_key: str, secret: str, password: str | None = None) -> None:
        """Store keys in the keyring; the connection is disabled until a new test passes."""
        config = self.get(connection_id)
        self.secrets.set(connection_id, "api_key", api_key)
        self.secrets.set(connection_id, "secret", secret)
        if password:
            self.secrets.set(connection_id, "password", password)
        else:
            self.secrets.delete(connection_id, "password")
        for name in RECORD_FIELDS:  # new keys: no test has passed with them and no grant names them
            self.secrets.delete(connection_id, name)
        self.store.save(replace(config, is_enabled=False, is_live_trade=False, is_preset_trade=False, last_test=None))

    def credentials(self, connection_id: str) -> Credentials | None:
        key = self.secrets.get(connection_id, "api_key")
        secret = self.secrets.get(connection_id, "secret")
        if not key or not secret:
            return None
        return Credentials(key, secret, self.secrets.get(connection_id, "password"))

    # ---- adapter, test, enable ------------------------------------------------------------------------------
    def make_adapter(
        self, config: ConnectionConfig, *, api_url: str | None = None, retry: RetryPolicy | None = None
    ) -> ExchangeAdapter:
        caps = capabilities_for(config.exchange_id)
        return ExchangeAdapter(
            config.exchange_id,
            self.credentials(config.id),
            api_url=api_url,
            rate_limit=config.settings.rate_limit or caps.rate_limit,
            retry=retry,
            sandbox=config.is_testnet,
        )

    async def test(self, connection_id: str, *, api_url: str | None = None) -> ConnectionTestResult:
        """Run the connection test, store its outcome; a pass enables the connection, a failure disables it."""
        config = self.get(connection_id)
        if self.credentials(connection_id) is None:
            raise ConnectionRuleError("Enter the API key and secret before testing the connection.")
        async with self.make_adapter(config, api_url=api_url) as adapter:
            result = await run_connection_test(adapter)
        last = LastTest(
            passed=result.passed,
            tested_at_ms=result.tested_at_ms,
            message=result.message,
            balance_total=result.balance.total if result.balance else None,
            log=result.log_text(),
        )
        enabled = result.passed
        self._record_test(config, result.passed, result.tested_at_ms)
        self.store.save(
            replace(
                config,
                last_test=last,
                is_enabled=enabled,
                is_live_trade=config.is_live_trade and enabled,
                is_preset_trade=config.is_preset_trade and enabled,
            )
        )
        return result

    def _record_test(self, config: ConnectionConfig, passed: bool, tested_at_ms: int) -> None:
        if config.is_replay:  # the offline simulator needs no record (no engine gate, no grant) nor a keyring
            return
        creds = self.credentials(config.id)
        if passed and creds is not None:
            record = f"{creds.fingerprint()} {int(config.is_testnet)} {tested_at_ms}"
            self.secrets.set(config.id, TEST_PASS_FIELD, record)
        else:
            self.secrets.delete(config.id, TEST_PASS_FIELD)

    def tested_with_current_keys(self, config: ConnectionConfig) -> bool:
        """A connection test passed with the keys stored now (and the same testnet choice). Read from the secret
        store, where the test wrote it: ``last_test`` in the database alone proves nothing."""
        creds = self.credentials(config.id)
        record = self.secrets.get(config.id, TEST_PASS_FIELD)
        if creds is None or not record:
            return False
        fingerprint, _, rest = record.partition(" ")
        testnet = rest.partition(" ")[0]
        return fingerprint == creds.fingerprint() and testnet == str(int(config.is_testnet))

    def set_enabled(self, connection_id: str, enabled: bool) -> None:
        config = self.get(connection_id)
        if enabled and not (config.last_test and config.last_test.passed):
            raise ConnectionRuleError("Test the connection successfully before enabling it.")
        if not enabled:
            config = replace(config, is_live_trade=False, is_preset_trade=False)
        self.store.save(replace(config, is_enabled=enabled))


def _new_id() -> str:
    return uuid.uuid4().hex[:21]
