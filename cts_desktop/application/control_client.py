"""``cts-desktop ctl …``: the command-line client of the local control API of a running app (same data folder).

It finds the API in ``<data>/control.json`` (or ``--url`` / ``--socket``) and its token in the secret store (or
``--token`` / ``CTS_CONTROL_TOKEN``); every request names the caller (``X-CTS-Client``), which the app logs.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from cts_desktop.application.control_api import ADDRESS_FILE, TOKEN, rotate_token
from cts_desktop.paths import resolve_paths
from cts_desktop.services import secrets_file_choice
from cts_desktop.storage.secrets import SecretStore, SecretStoreError

ENGINE = ("start", "stop", "pause", "resume", "restart", "emergency")
READS = {"status": "/api/v1/status", "health": "/api/v1/health", "metrics": "/metrics",
         "positions": "/api/v1/positions", "orders": "/api/v1/orders"}


class CtlError(RuntimeError):
    """Why the command could not reach the app or was refused (exit status 1 or 2)."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str | None
    unix_socket: str | None
    token: str


def _secret_store(data_dir: Path | None, secrets_file: Path | None) -> SecretStore:
    chosen = secrets_file or secrets_file_choice(resolve_paths(data_dir))
    if chosen is None:
        return SecretStore()
    from keyring.backends import fail

    passphrase = os.environ.get("CTS_SECRETS_PASSPHRASE")
    if not passphrase:
        raise CtlError(f"the token is kept in the encrypted secrets file {chosen}: set CTS_SECRETS_PASSPHRASE, or "
                       "give --token (or CTS_CONTROL_TOKEN)")
    store = SecretStore(backend=fail.Keyring())  # type: ignore[no-untyped-call]
    store.use_encrypted_file(chosen, passphrase, create=False)
    return store


def find_target(data_dir: Path | None, url: str | None, unix_socket: str | None, token: str | None,
                secrets_file: Path | None = None) -> Target:
    if url is None and unix_socket is None:
        record_file = resolve_paths(data_dir).data / ADDRESS_FILE
        try:
            record = json.loads(record_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CtlError(f"no running app with a control API for this data folder ({record_file} is missing)") \
                from None
        url, unix_socket = record.get("url"), record.get("unix_socket")
    token = token or os.environ.get("CTS_CONTROL_TOKEN")
    if not token:
        try:
            token = _secret_store(data_dir, secrets_file).get(TOKEN)
        except SecretStoreError as error:
            raise CtlError(f"the control API token cannot be read: {error}") from None
        if not token:
            raise CtlError("no control API token in the secret store: start the app with its control API once")
    return Target(url, unix_socket, token)


def new_token(data_dir: Path | None, secrets_file: Path | None = None) -> str:
    """A new token in the secret store (the running app keeps using the old one until it restarts)."""
    return rotate_token(_secret_store(data_dir, secrets_file))


async def call(target: Target, method: str, path: str, body: dict[str, Any] | None = None,
               timeout: float = 60.0) -> tuple[int, Any]:
    connector = aiohttp.UnixConnector(path=target.unix_socket) if target.unix_socket else None
    base = target.url or "http://localhost"
    headers = {"Authorization": f"Bearer {target.token}",
               "X-CTS-Client": f"cts-desktop ctl ({getpass.getuser()}@{socket.gethostname()} pid {os.getpid()})"}
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        try:
            async with session.request(method, base + path, json=body, headers=headers) as response:
                text = await response.text()
                kind = response.headers.get("Content-Type", "")
                return response.status, json.loads(text) if kind.startswith("application/json") else text
        except aiohttp.ClientError as error:
            raise CtlError(f"the app does not answer at {target.unix_socket or target.url}: {error}") from None


def request_for(command: str, argument: str | None) -> tuple[str, str, dict[str, Any] | None]:
    """(method, path, body) of a ctl command."""
    if command in READS:
        return "GET", READS[command], None
    if command in ENGINE:
        body = {"close_positions": argument == "close-positions"} if command == "emergency" else None
        return "POST", f"/api/v1/engine/{command}", body
    if command == "close":
        if argument is None or not argument.isdigit():
            raise CtlError("close needs the position id (see `cts-desktop ctl positions`)")
        return "POST", f"/api/v1/positions/{argument}/close", None
    raise CtlError(f"unknown command {command!r}")


def run_ctl(target: Target, command: str, argument: str | None) -> tuple[int, str]:
    """(exit status, text to print): 0 on success, 1 when the app refused, 2 when it could not be reached."""
    method, path, body = request_for(command, argument)
    status, answer = asyncio.run(call(target, method, path, body))
    text = answer if isinstance(answer, str) else json.dumps(answer, indent=2)
    if status == 401:
        return 1, "cts-desktop ctl: refused: wrong or missing token (401)"
    return (0 if status < 400 else 1), text


__all__ = ["CtlError", "Target", "call", "find_target", "new_token", "request_for", "run_ctl"]
