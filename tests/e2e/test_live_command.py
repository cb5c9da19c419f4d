"""``cts-desktop live on|off CONNECTION`` as a user on a server runs it: the name typed to confirm, the grant written
into the encrypted secrets file (never the database), and the start gate of the next engine start following it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from cts_desktop.services import AppOptions, Services
from cts_desktop.storage.secrets import SecretRef

PASSPHRASE = "live-command-test-passphrase"


def _services(data_dir: Path, secrets_file: Path) -> Services:
    return Services(AppOptions(data_dir=data_dir, console_log=False, secrets_file=secrets_file,
                               secrets_passphrase=PASSPHRASE))


def _live(data_dir: Path, secrets_file: Path, *args: str, typed: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CTS_SECRETS_PASSPHRASE=PASSPHRASE,
               PYTHON_KEYRING_BACKEND="cts_desktop.storage.keyring_memory.MemoryKeyring")
    return subprocess.run([sys.executable, "-m", "cts_desktop", "live", *args, "--data-dir", str(data_dir),
                           "--secrets-file", str(secrets_file)], input=typed + "\n", capture_output=True, text=True,
                          timeout=120, env=env)


def _gate(data_dir: Path, secrets_file: Path, name: str) -> tuple[bool, bool, str]:
    """(starts, trades live, why) as the next engine start would decide."""
    services = _services(data_dir, secrets_file)
    try:
        trading = services.trading
        config = next(c for c in trading.connections.list() if c.name == name)
        decision = trading.gate.decide(config)
        return decision.start, decision.live, decision.reason
    finally:
        services.close()


def test_live_on_needs_the_typed_name_and_writes_the_grant_only_to_the_secret_store(
    tmp_path: Path, simulator: dict[str, str]
) -> None:
    secrets_file = tmp_path / "secrets.enc"
    services = _services(tmp_path, secrets_file)
    try:
        service = services.trading.connections
        config = service.create("Sim Bybit", "bybit", check_exchange=False)
        service.set_credentials(config.id, simulator["apiKey"], simulator["secret"])
        assert asyncio.run(service.test(config.id, api_url=simulator["url"])).passed
        grant_ref = SecretRef.connection(config.id, "live_grant")
    finally:
        services.close()

    wrong = _live(tmp_path, secrets_file, "on", "Sim Bybit", typed="sim bybit")
    assert wrong.returncode == 1 and "type the connection name" in wrong.stderr
    assert _gate(tmp_path, secrets_file, "Sim Bybit")[:2] == (True, False)

    right = _live(tmp_path, secrets_file, "on", "Sim Bybit", typed="Sim Bybit")
    assert right.returncode == 0, right.stderr
    assert "live trading ON for Sim Bybit" in right.stdout
    assert _gate(tmp_path, secrets_file, "Sim Bybit")[:2] == (True, True)
    services = _services(tmp_path, secrets_file)
    try:
        assert services.secrets.get(grant_ref) is not None
        with services.db.session() as session:  # nothing of the grant is in the database
            dump = "\n".join(str(row) for row in session.execute(text("SELECT * FROM connections")).all())
        assert "signature" not in dump and services.secrets.get(grant_ref) not in dump  # type: ignore[operator]
    finally:
        services.close()

    off = _live(tmp_path, secrets_file, "off", "Sim Bybit")
    assert off.returncode == 0, off.stderr
    services = _services(tmp_path, secrets_file)
    try:
        assert services.secrets.get(grant_ref) is None
        with services.db.session() as session:  # and the flag set again by SQL trades on paper
            session.execute(text("UPDATE connections SET is_live_trade = true WHERE name = 'Sim Bybit'"))
    finally:
        services.close()
    starts, live, why = _gate(tmp_path, secrets_file, "Sim Bybit")
    assert starts and not live and "not confirmed" in why
