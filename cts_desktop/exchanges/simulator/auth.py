"""API keys and request authentication the way Bybit V5 and BingX check them.

Bybit V5: headers ``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP``, ``X-BAPI-RECV-WINDOW``, ``X-BAPI-SIGN`` =
hex HMAC-SHA256(secret, timestamp + key + recvWindow + (raw query string | raw JSON body)); the request is valid
when ``server - recvWindow <= timestamp < server + 1000``.
BingX: header ``X-BX-APIKEY``; query parameter ``timestamp``; ``signature`` = hex HMAC-SHA256(secret, the query
string without the signature); valid within ``recvWindow`` (default 5 s) either side.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import unquote

from cts_desktop.exchanges.simulator.account import Account


class AuthFailure(Enum):
    MISSING_KEY = "missing_key"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    TIMESTAMP = "timestamp"
    IP_NOT_ALLOWED = "ip_not_allowed"


@dataclass
class ApiKey:
    key: str
    secret: str
    account: Account
    allowed_ips: list[str] = field(default_factory=list)


def generate_credentials() -> tuple[str, str]:
    """A fresh random key/secret pair (the Replay connection's first start)."""
    return secrets.token_hex(9), secrets.token_hex(18)


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


FUTURE_TOLERANCE_MS = 1000  # a signed timestamp may run this far ahead of the venue's clock


class KeyRing:
    """The simulator's registry of API keys (one account per key)."""

    def __init__(self) -> None:
        self.keys: dict[str, ApiKey] = {}

    def add(self, key: ApiKey) -> None:
        self.keys[key.key] = key

    def _lookup(self, api_key: str | None, remote: str | None) -> ApiKey | AuthFailure:
        if not api_key:
            return AuthFailure.MISSING_KEY
        entry = self.keys.get(api_key)
        if entry is None:
            return AuthFailure.UNKNOWN_KEY
        if entry.allowed_ips and remote not in entry.allowed_ips:
            return AuthFailure.IP_NOT_ALLOWED
        return entry

    def check_bybit(
        self, headers: dict[str, str], payload: str, now_ms: int, remote: str | None
    ) -> ApiKey | AuthFailure:
        entry = self._lookup(headers.get("X-BAPI-API-KEY"), remote)
        if isinstance(entry, AuthFailure):
            return entry
        try:
            ts = int(headers.get("X-BAPI-TIMESTAMP", ""))
            recv = int(headers.get("X-BAPI-RECV-WINDOW", "5000"))
        except ValueError:
            return AuthFailure.TIMESTAMP
        if not (now_ms - recv <= ts < now_ms + 1000):
            return AuthFailure.TIMESTAMP
        given = headers.get("X-BAPI-SIGN", "")
        if not _any_match(entry.secret, f"{ts}{entry.key}{recv}", payload, given):
            return AuthFailure.BAD_SIGNATURE
        return entry

    def check_bingx(
        self, api_key: str | None, raw_query: str, params: dict[str, str], now_ms: int, remote: str | None
    ) -> ApiKey | AuthFailure:
        entry = self._lookup(api_key, remote)
        if isinstance(entry, AuthFailure):
            return entry
        try:
            ts = int(params.get("timestamp", ""))
            recv = int(params.get("recvWindow", "5000"))
        except ValueError:
            return AuthFailure.TIMESTAMP
        if not (now_ms - recv <= ts < now_ms + FUTURE_TOLERANCE_MS):  # late by recvWindow, early by 1 s at most
            return AuthFailure.TIMESTAMP
        signed_part, _, signature = raw_query.rpartition("&signature=")
        if not signed_part:
            return AuthFailure.BAD_SIGNATURE
        if not _any_match(entry.secret, "", signed_part, signature):
            return AuthFailure.BAD_SIGNATURE
        return entry


def _any_match(secret: str, prefix: str, payload: str, given: str) -> bool:
    """Clients sign the raw (unescaped) parameter string; HTTP stacks may escape it on the wire."""
    return any(
        hmac.compare_digest(sign(secret, prefix + candidate), given) for candidate in {payload, unquote(payload)}
    )
