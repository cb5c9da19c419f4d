"""Read models and rules of the Connections tab, in plain Python (no Qt): the Connections part fills them, the
tab shows them.

* :func:`swap_exchanges` — every ccxt exchange that lists swap markets, with the credentials it needs, computed once
  per process (instantiating ~100 ccxt classes costs ~0.2 s after the ~0.5 s import: call it in a worker thread);
* :class:`ConnectionItem` — one row of the list, with the status badge it deserves;
* :class:`ConnectionDetail` — what the editor shows: the stored configuration and, for the keys, only a masked
  form and "stored / not stored" (a secret never comes back to a widget);
* :class:`ConnectionEdit` and :func:`validate_edit` — what the editor saves, checked against DOMAIN Part 2 §9.7.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from cts_desktop.exchanges import ccxt_lean
from cts_desktop.exchanges.capabilities import RateLimit
from cts_desktop.exchanges.connections import DEFAULT_API_TYPE as DEFAULT_API_TYPE  # the editor's default choice
from cts_desktop.exchanges.connections import ConnectionConfig, ConnectionSettings

# Account / API types offered in the editor (DOMAIN Part 2 §8.1; spot is left out: the app trades perpetuals).
API_TYPES: tuple[tuple[str, str], ...] = (
    ("unified", "Unified trading account"),
    ("perpetual_futures", "Perpetual futures (USDT-M)"),
    ("futures", "Futures account"),
)
# Credentials this app can keep (SECRET_FIELDS): ccxt's requiredCredentials names → our fields
SUPPORTED_CREDENTIALS = frozenset({"apiKey", "secret", "password"})
OPEN_STATUSES = ("opening", "open", "closing")

# Per-connection ranges (DOMAIN Part 2 §9.7) and rate-limit bounds (§8.4 tables, with head-room).
VOLUME_FACTOR = (0.1, 10.0, 0.1)
PF_MIN = (0.1, 2.0, 0.1)
DRAWDOWN_HOURS = (1.0, 72.0, 1.0)
RATE_PER_SECOND = (0.1, 100.0)
RATE_PER_MINUTE = (1, 10_000)
RATE_CONCURRENT = (1, 20)


@dataclass(frozen=True, slots=True)
class ExchangeChoice:
    """A ccxt exchange with swap markets, as the add dialog lists it."""

    id: str
    name: str
    required: tuple[str, ...]  # ccxt requiredCredentials that are true
    testnet: bool

    @property
    def needs_passphrase(self) -> bool:
        return "password" in self.required

    @property
    def supported(self) -> bool:
        """True when the keys it needs are ones the app can keep (key + secret, optionally a passphrase)."""
        return {"apiKey", "secret"} <= set(self.required) <= SUPPORTED_CREDENTIALS

    @property
    def unsupported_reason(self) -> str:
        if self.supported:
            return ""
        other = sorted(set(self.required) - SUPPORTED_CREDENTIALS)
        if other:
            return "needs " + ", ".join(other) + " (wallet-style keys are not supported)"
        return "does not use an API key and secret"


_catalog: list[ExchangeChoice] | None = None
_catalog_lock = threading.Lock()


def swap_exchanges() -> list[ExchangeChoice]:
    """ccxt exchanges with ``has['swap']``, sorted by name; computed once per process (blocking: use a thread)."""
    global _catalog
    with _catalog_lock:
        if _catalog is None:
            ccxt_async = ccxt_lean.load("ccxt.async_support")
            found = []
            for exchange_id in ccxt_async.exchanges:
                try:
                    exchange = getattr(ccxt_async, exchange_id)()
                except Exception:  # a broken ccxt class must not hide the others
                    continue
                if not exchange.has.get("swap"):
                    continue
                required = tuple(k for k, v in (exchange.requiredCredentials or {}).items() if v)
                found.append(ExchangeChoice(exchange_id, str(exchange.name or exchange_id), required,
                                            bool(exchange.urls.get("test"))))
            _catalog = sorted(found, key=lambda c: c.name.lower())
        return list(_catalog)


def exchange_choice(exchange_id: str) -> ExchangeChoice | None:
    return next((c for c in swap_exchanges() if c.id == exchange_id), None)


@dataclass(frozen=True, slots=True)
class ConnectionItem:
    """One row of the connections list."""

    config: ConnectionConfig
    has_keys: bool
    engine_state: str | None  # "running"/"paused"/… of its engine, None when none runs
    engine_connection: str | None  # "connected"/"loading"/"error"/…
    live_positions: int

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def kind(self) -> str:
        c = self.config
        return "Replay" if c.is_replay else "Predefined" if c.is_predefined else "ccxt"

    def badge(self) -> tuple[str, str]:
        """(text, state) — the state picks the badge colour of the theme (running/paused/error/stopped)."""
        c = self.config
        last = c.last_test
        if self.engine_connection == "error":
            return "Error", "error"
        if c.is_enabled and c.is_live_trade:
            return "LIVE", "error" if self.engine_state not in ("running", "paused") else "running"
        if self.engine_state in ("running", "paused"):
            return ("Connected", "running") if self.engine_connection == "connected" else ("Loading", "paused")
        if c.is_enabled:
            return ("Replay" if c.is_replay else "Enabled"), "starting"
        if not c.is_replay and not self.has_keys:
            return "No keys", "stopped"
        if last is None:
            return "Not tested", "paused"
        if not last.passed:
            return "Test failed", "error"
        return "Disabled", "stopped"

    def last_test_text(self) -> str:
        last = self.config.last_test
        if last is None:
            return "never"
        from datetime import datetime

        at = datetime.fromtimestamp(last.tested_at_ms / 1000)
        when = at.strftime("%H:%M" if at.date() == datetime.now().date() else "%Y-%m-%d")
        return f"{'passed' if last.passed else 'failed'} {when}"


@dataclass(frozen=True, slots=True)
class ConnectionDetail:
    """The editor's view of one connection. Keys: masked key only; the secret and passphrase as flags."""

    config: ConnectionConfig
    api_type: str
    key_masked: str | None
    has_secret: bool
    has_password: bool
    exchange: ExchangeChoice | None
    live_positions: int
    secrets_problem: str | None = None  # why keys cannot be read/stored (no keyring, locked file)

    @property
    def needs_passphrase(self) -> bool:
        return self.exchange is not None and self.exchange.needs_passphrase

    @property
    def testnet_supported(self) -> bool:
        return self.exchange is None or self.exchange.testnet


@dataclass(slots=True)
class ConnectionEdit:
    """What the editor saves (everything but the keys and the switches, which have their own actions)."""

    name: str
    api_type: str
    is_testnet: bool
    margin_mode: str
    position_mode: str
    settings: ConnectionSettings = field(default_factory=ConnectionSettings)


class ConnectionEditError(ValueError):
    """An edit the rules refuse; the message names the field and the allowed range."""


def _on_grid(value: float, low: float, high: float, step: float) -> bool:
    if not low - 1e-9 <= value <= high + 1e-9:
        return False
    steps = (value - low) / step
    return abs(steps - round(steps)) < 1e-6


def validate_edit(edit: ConnectionEdit) -> list[str]:
    """Every problem of ``edit`` as a plain sentence (empty list: valid)."""
    problems: list[str] = []
    s = edit.settings
    if not edit.name.strip():
        problems.append("The name must not be empty.")
    if len(edit.name.strip()) > 120:
        problems.append("The name is longer than 120 characters.")
    if edit.api_type not in {k for k, _ in API_TYPES}:
        problems.append(f"Unknown account type {edit.api_type!r}.")
    if edit.margin_mode not in ("cross", "isolated"):
        problems.append("Margin type must be cross or isolated.")
    if edit.position_mode not in ("hedge", "one-way"):
        problems.append("Position mode must be hedge or one-way.")
    factors = (("Live volume factor", s.live_volume_factor), ("Preset volume factor", s.preset_volume_factor))
    for label, value in factors:
        if not _on_grid(value, *VOLUME_FACTOR):
            problems.append(f"{label} must be 0.1–10 in steps of 0.1 (got {value:g}).")
    for name in ("live_pf_min_main", "live_pf_min_real"):
        raw = getattr(s, name)
        if raw is None:  # follows Settings › Strategy
            continue
        value = float(raw)
        if not _on_grid(value, *PF_MIN):
            problems.append(f"{name.replace('_', ' ').capitalize()} must be 0.1–2.0 in steps of 0.1 (got {value:g}).")
    if s.max_drawdown_hours is not None and not _on_grid(s.max_drawdown_hours, *DRAWDOWN_HOURS):
        problems.append(f"Max drawdown time must be 1–72 h in whole hours (got {s.max_drawdown_hours:g}).")
    rate = s.rate_limit
    if rate is not None:
        if not RATE_PER_SECOND[0] <= rate.per_second <= RATE_PER_SECOND[1]:
            problems.append("Requests per second must be 0.1–100.")
        if not RATE_PER_MINUTE[0] <= rate.per_minute <= RATE_PER_MINUTE[1]:
            problems.append("Requests per minute must be 1–10000.")
        if not RATE_CONCURRENT[0] <= rate.concurrent <= RATE_CONCURRENT[1]:
            problems.append("Concurrent requests must be 1–20.")
        if rate.per_minute < rate.per_second:
            problems.append("Requests per minute cannot be fewer than requests per second.")
    return problems


def default_rate_limit(exchange_id: str) -> RateLimit:
    from cts_desktop.exchanges.capabilities import capabilities_for

    return capabilities_for(exchange_id).rate_limit


def unique_name(wanted: str, taken: set[str]) -> str:
    """``wanted``, or ``wanted 2``, ``wanted 3``… — the first not in ``taken``."""
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted} {n}" in taken:
        n += 1
    return f"{wanted} {n}"

