"""The local control API: watch and steer a running app (headless or window) from a shell, a script or Prometheus.

* Listens on 127.0.0.1 (a free port unless ``--control-port``) or on a Unix socket (``--control-socket``, mode 0600);
  another address only with ``--control-bind`` **and** a TLS certificate and key (``--control-tls-cert/-key``).
* Every request carries ``Authorization: Bearer <token>``; the token is made once, kept in the secret store (OS
  keyring or the encrypted secrets file) and shown once (``cts-desktop ctl token --rotate`` makes a new one). A
  wrong or missing token is answered 401, logged with the caller, and nothing is done.
* Every call is logged with its caller (address or the Unix peer's uid/pid, and the client's own name).
* Where it listens is written to ``<data>/control.json`` (0600, no token) for ``cts-desktop ctl``.

Endpoints (JSON unless said): ``GET /api/v1/status``, ``GET /api/v1/health``, ``GET /metrics`` (Prometheus text),
``POST /api/v1/engine/{start|stop|pause|resume|restart|emergency}`` (emergency: ``{"close_positions": true}`` to close
them too), ``GET /api/v1/positions``, ``GET /api/v1/orders``, ``POST /api/v1/positions/{id}/close``.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
import secrets as token_source
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from cts_desktop.application.prometheus import CONTENT_TYPE, render
from cts_desktop.application.remote import CommandRefused, NotFound, RemotePart
from cts_desktop.services import ControlOptions
from cts_desktop.storage.secrets import SecretRef, SecretStore, SecretStoreError

if TYPE_CHECKING:
    from cts_desktop.services import Services

log = logging.getLogger("cts.control")

TOKEN = SecretRef("app", "control-api", "token")
ADDRESS_FILE = "control.json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def options_problem(options: ControlOptions) -> str | None:
    """Why these options are refused (a non-local address without TLS), else None."""
    if options.unix_socket is None and not is_loopback(options.host) and not (options.tls_cert and options.tls_key):
        return (f"the control API would listen on {options.host}, which is not this computer only: give "
                "--control-tls-cert and --control-tls-key (and keep the token secret), or bind 127.0.0.1")
    if bool(options.tls_cert) != bool(options.tls_key):
        return "the control API's TLS needs both --control-tls-cert and --control-tls-key"
    return None


def ensure_token(store: SecretStore) -> tuple[str, bool]:
    """(the token, whether it was made just now); blocking (secret store)."""
    token = store.get(TOKEN)
    if token:
        return token, False
    return rotate_token(store), True


def rotate_token(store: SecretStore) -> str:
    token = token_source.token_urlsafe(32)
    store.set(TOKEN, token)
    return token


def _peer(request: web.Request) -> str:
    """The caller: its address, or for a Unix socket the peer's uid and pid; plus the client's own name."""
    transport = request.transport
    who = "?"
    if transport is not None:
        sock = transport.get_extra_info("socket")
        peer = transport.get_extra_info("peername")
        if sock is not None and sock.family == getattr(socket, "AF_UNIX", None) and hasattr(socket, "SO_PEERCRED"):
            try:
                pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                                     struct.calcsize("3i")))
                who = f"unix uid={uid} pid={pid}"
            except OSError:
                who = "unix"
        elif isinstance(peer, tuple) and len(peer) >= 2:
            who = f"{peer[0]}:{peer[1]}"
    client = request.headers.get("X-CTS-Client") or request.headers.get("User-Agent", "")
    return f"{who} ({client[:80]})" if client else who


class ControlServer:
    def __init__(self, remote: RemotePart, token: str, options: ControlOptions, address_file: Path) -> None:
        self.remote = remote
        self._token = token.encode()
        self.options = options
        self.address_file = address_file
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------------

    async def start(self) -> str:
        problem = options_problem(self.options)
        if problem is not None:
            raise ValueError(problem)
        app = web.Application(middlewares=[self._guard])
        app.add_routes([
            web.get("/api/v1/status", self._status), web.get("/api/v1/health", self._health),
            web.get("/metrics", self._metrics), web.post("/api/v1/engine/{command}", self._command),
            web.get("/api/v1/positions", self._positions), web.get("/api/v1/orders", self._orders),
            web.post("/api/v1/positions/{position_id}/close", self._close),
        ])
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        self._runner = runner
        record: dict[str, Any] = {"pid": os.getpid()}
        if self.options.unix_socket is not None:
            path = self.options.unix_socket
            path.unlink(missing_ok=True)
            old = os.umask(0o177)  # the socket is created 0600: only this user may connect
            try:
                site: web.BaseSite = web.UnixSite(runner, str(path))
                await site.start()
            finally:
                os.umask(old)
            self.url = f"unix:{path}"
            record["unix_socket"] = str(path)
        else:
            context = None
            if self.options.tls_cert and self.options.tls_key:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.load_cert_chain(str(self.options.tls_cert), str(self.options.tls_key))
            await web.TCPSite(runner, self.options.host, self.options.port, ssl_context=context).start()
            port = int(runner.addresses[0][1])
            host = self.options.host if ":" not in self.options.host else f"[{self.options.host}]"
            self.url = f"{'https' if context else 'http'}://{host}:{port}"
            record["url"] = self.url
        _write_private(self.address_file, json.dumps(record))
        log.info("control API listening on %s (bearer token required)", self.url)
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self.address_file.unlink(missing_ok=True)
            log.info("control API stopped")

    # --- guard: token and log --------------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        caller = _peer(request)
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self._token):
            log.warning("control API: refused %s %s from %s: %s token", request.method, request.path, caller,
                        "wrong" if header else "missing")
            return web.json_response({"error": "unauthorized"}, status=401,
                                     headers={"WWW-Authenticate": 'Bearer realm="cts-desktop"'})
        try:
            response = await handler(request)
        except web.HTTPException as http:
            log.info("control API: %s %s by %s -> %d", request.method, request.path, caller, http.status)
            raise
        log.info("control API: %s %s by %s -> %d", request.method, request.path, caller, response.status)
        return response

    # --- endpoints --------------------------------------------------------------------------------------------

    async def _status(self, _request: web.Request) -> web.Response:
        return web.json_response(self.remote.status())

    async def _health(self, _request: web.Request) -> web.Response:
        health = self.remote.health()
        return web.json_response(health.as_dict(), status=503 if health.status == "down" else 200)

    async def _metrics(self, _request: web.Request) -> web.Response:
        metrics, status = await self.remote.metrics()
        text = render(metrics, status, self.remote.health())
        return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})

    async def _command(self, request: web.Request) -> web.Response:
        close = False
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                return _error(400, "the body must be JSON")
            close = bool(isinstance(body, dict) and body.get("close_positions"))
        return await _answer(self.remote.command(request.match_info["command"], close))

    async def _positions(self, _request: web.Request) -> web.Response:
        return web.json_response({"positions": await self.remote.positions()})

    async def _orders(self, request: web.Request) -> web.Response:
        try:
            limit = max(1, min(int(request.query.get("limit", "200")), 5000))
        except ValueError:
            return _error(400, "limit must be a number")
        return web.json_response({"orders": await self.remote.orders(limit)})

    async def _close(self, request: web.Request) -> web.Response:
        try:
            position_id = int(request.match_info["position_id"])
        except ValueError:
            return _error(400, "the position id must be a number")
        return await _answer(self.remote.close_position(position_id))


async def _answer(work: Awaitable[dict[str, Any]]) -> web.Response:
    try:
        return web.json_response(await work)
    except NotFound as error:
        return _error(404, str(error))
    except CommandRefused as error:
        return _error(409, str(error))


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def open_control_api(services: Services, remote: RemotePart,
                           show_token: Callable[[str], None]) -> ControlServer | None:
    """Start the API as the options say (None when it is off or cannot start: the reason is logged). A token made
    now is handed to ``show_token`` — the one time it is shown."""
    options = services.options.control
    if not options.enabled:
        return None
    problem = options_problem(options)
    if problem is not None:
        log.error("control API not started: %s", problem)
        return None
    try:
        token, created = await asyncio.to_thread(ensure_token, services.secrets)
    except SecretStoreError as error:  # no keyring and no encrypted file: said once, the reason at debug level
        log.warning("control API off: its token is kept only in the OS keyring or the encrypted secrets file (Security "
                    "› Store secrets in an encrypted file…); it starts with the next start after that")
        log.debug("control API token: %s", error)
        return None
    server = ControlServer(remote, token, options, services.paths.data / ADDRESS_FILE)
    try:
        await server.start()
    except OSError as error:
        log.error("control API not started: %s", error)
        await server.stop()
        return None
    if created:
        show_token(token)
    return server


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


__all__ = ["ADDRESS_FILE", "TOKEN", "ControlServer", "ensure_token", "is_loopback", "open_control_api",
           "options_problem", "rotate_token"]
