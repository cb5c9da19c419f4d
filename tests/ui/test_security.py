"""Opting in to the encrypted secrets file where no OS keyring exists, and unlocking it at the next start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from keyring.backends import fail

from cts_desktop.app import GuiApp, create_qapp
from cts_desktop.services import AppOptions, Services, secrets_file_choice
from cts_desktop.storage.secrets import SecretRef, SecretStore

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


def _without_keyring(services: Services) -> None:
    services.secrets = SecretStore(backend=fail.Keyring(), on_secret=services.redactor.add)


async def test_opt_in_to_encrypted_file_then_unlock_next_start(data_dir: Path) -> None:
    create_qapp()
    services = Services(AppOptions(data_dir=data_dir, console_log=False))
    _without_keyring(services)
    gui = GuiApp(services)
    services.start(asyncio.get_running_loop())
    try:
        assert gui.security.can_create() and not gui.security.is_locked()
        overview = await gui.app.overview.overview()
        assert not overview.secrets_usable
        dialog = gui.security.open_create_dialog()
        dialog.first.setText("short")
        dialog.second.setText("short")
        dialog.submit()
        assert "at least 8" in dialog.error.text() and dialog.isVisible()
        dialog.first.setText("correct horse battery")
        dialog.second.setText("correct horse batterx")
        dialog.submit()
        assert "differ" in dialog.error.text()
        dialog.second.setText("correct horse battery")
        dialog.submit()
        assert not dialog.isVisible()
        assert services.secrets.status().usable
        services.secrets.set(SecretRef.connection("c1", "api_key"), "AKIA-very-secret-key-123")
        path = secrets_file_choice(services.paths)
        assert path is not None and path.exists()
        assert b"AKIA-very-secret-key-123" not in path.read_bytes()
        await gui.shutdown()
    finally:
        services.close()

    again = Services(AppOptions(data_dir=data_dir, console_log=False))
    try:
        assert again.secrets_locked
        gui2 = GuiApp(again)
        dialog = gui2.security.open_unlock_dialog()
        dialog.first.setText("wrong passphrase")
        dialog.submit()
        assert "passphrase" in dialog.error.text().lower() and again.secrets_locked
        dialog.first.setText("correct horse battery")
        dialog.submit()
        assert not again.secrets_locked
        assert again.secrets.get(SecretRef.connection("c1", "api_key")) == "AKIA-very-secret-key-123"
        await gui2.shutdown()
    finally:
        again.close()
