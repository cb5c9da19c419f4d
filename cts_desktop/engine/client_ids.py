"""Client order ids: unique, short enough for every exchange (Bybit orderLinkId ≤ 36, BingX clientOrderID ≤ 40),
and traceable to the connection that sent them. Written to the DB *before* the order is sent, so a retry or a
restart looks the order up by this id instead of sending a second one.
"""

from __future__ import annotations

import re
import secrets
import time

PREFIX = "cts"
_VALID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


def new_client_id(connection_id: str) -> str:
    """``cts-<6 chars of the connection>-<ms time base36>-<random>``, at most 36 characters."""
    conn = re.sub(r"[^A-Za-z0-9]", "", connection_id)[:6] or "x"
    stamp = _base36(int(time.time() * 1000))
    nonce = secrets.token_hex(4)
    client_id = f"{PREFIX}-{conn}-{stamp}-{nonce}"
    assert _VALID.match(client_id), client_id
    return client_id


def is_ours(client_id: str | None) -> bool:
    return bool(client_id) and str(client_id).startswith(PREFIX + "-")


def _base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while value:
        value, rem = divmod(value, 36)
        out = digits[rem] + out
    return out or "0"
