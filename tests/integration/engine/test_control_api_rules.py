"""The control API's rules in-process: only this computer unless TLS is given, a Unix socket only its user may open
(the caller's uid logged), the token made once and kept in the secret store, label values escaped in the
Prometheus text."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from pathlib import Path

import pytest

from cts_desktop.application.application import Application
from cts_desktop.application.control_api import TOKEN, ControlServer, ensure_token, open_control_api, options_problem
from cts_desktop.application.control_client import Target, call
from cts_desktop.application.prometheus import Family
from cts_desktop.application.remote import RemotePart
from cts_desktop.services import AppOptions, ControlOptions, Services


def test_a_non_local_address_needs_tls() -> None:
    assert options_problem(ControlOptions(enabled=True)) is None
    assert options_problem(ControlOptions(enabled=True, host="::1")) is None
    problem = options_problem(ControlOptions(enabled=True, host="0.0.0.0"))
    assert problem is not None and "--control-tls-cert" in problem
    assert options_problem(ControlOptions(enabled=True, host="0.0.0.0", tls_cert=Path("c"), tls_key=Path("k"))) is None
    assert "both" in str(options_problem(ControlOptions(enabled=True, tls_cert=Path("c"))))


def test_label_values_are_escaped() -> None:
    text = Family("cts_x", "gauge", "x").add(1.5, connection='a "b"\\c\nd').render()
    assert text.splitlines()[-1] == 'cts_x{connection="a \\"b\\"\\\\c\\nd"} 1.5'


@pytest.mark.asyncio
async def test_the_unix_socket_is_private_and_the_token_is_made_once(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    socket_path = tmp_path / "ctl.sock"
    services = Services(AppOptions(data_dir=tmp_path, console_log=False,
                                   control=ControlOptions(enabled=True, unix_socket=socket_path)))
    services.start(asyncio.get_running_loop())
    shown: list[str] = []
    server: ControlServer | None = None
    try:
        server = await open_control_api(services, RemotePart(services, Application(services).dashboard),
                                        shown.append)
        assert server is not None and len(shown) == 1
        assert services.secrets.get(TOKEN) == shown[0]
        assert ensure_token(services.secrets) == (shown[0], False)  # kept: not made again, not shown again
        assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600
        with caplog.at_level(logging.INFO, logger="cts.control"):
            assert (await call(Target(None, str(socket_path), "wrong"), "GET", "/api/v1/status"))[0] == 401
            code, body = await call(Target(None, str(socket_path), shown[0]), "GET", "/api/v1/status")
        assert code == 200 and body["state"] == "stopped"
        assert any(f"refused GET /api/v1/status from unix uid={os.getuid()}" in r.getMessage()
                   for r in caplog.records)
        assert any(f"GET /api/v1/status by unix uid={os.getuid()}" in r.getMessage() and "-> 200" in r.getMessage()
                   for r in caplog.records)
    finally:
        if server is not None:
            await server.stop()
        await services.stop_monitoring()
        await services.stop_trading()
        services.close()


@pytest.mark.asyncio
async def test_the_replay_simulator_obeys_only_the_app(tmp_path: Path) -> None:
    import aiohttp

    services = Services(AppOptions(data_dir=tmp_path, console_log=False))
    try:
        replay = services.trading.replay
        url = await replay.start()
        assert replay.server is not None
        speed = replay.server.market.clock.speed
        async with aiohttp.ClientSession() as session:
            for action, query in (("speed", {"speed": "500"}), ("account", {"balance": "1000000"}),
                                  ("state", {})):
                async with session.get(f"{url}/_sim/{action}", params=query) as answer:
                    assert answer.status == 403, action
                async with session.get(f"{url}/_sim/{action}", params=query,
                                       headers={"X-Sim-Token": "guessed"}) as answer:
                    assert answer.status == 403, action
            assert replay.server.market.clock.speed == speed
            async with session.get(f"{url}/_sim/speed", params={"speed": "2"},
                                   headers={"X-Sim-Token": replay.server.control_token}) as answer:
                assert answer.status == 200
            assert replay.server.market.clock.speed == 2
    finally:
        await services.stop_trading()
        services.close()


def _self_signed(folder: Path) -> tuple[Path, Path]:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "api.crt", folder / "api.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.mark.asyncio
async def test_tls_when_asked(tmp_path: Path) -> None:
    import ssl

    import aiohttp

    cert, key = _self_signed(tmp_path)
    services = Services(AppOptions(data_dir=tmp_path, console_log=False,
                                   control=ControlOptions(enabled=True, tls_cert=cert, tls_key=key)))
    services.start(asyncio.get_running_loop())
    shown: list[str] = []
    server = await open_control_api(services, RemotePart(services, Application(services).dashboard), shown.append)
    try:
        assert server is not None and server.url is not None and server.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert))
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.url}/api/v1/health", ssl=context,
                                   headers={"Authorization": f"Bearer {shown[0]}"}) as answer:
                assert answer.status == 200 and (await answer.json())["status"] in ("ok", "degraded")
            plain = server.url.replace("https://", "http://")
            with pytest.raises(aiohttp.ClientError):  # no plain HTTP beside it
                async with session.get(f"{plain}/api/v1/health") as answer:
                    await answer.read()
    finally:
        if server is not None:
            await server.stop()
        await services.stop_monitoring()
        services.close()
