"""The window runs the local control API too: listening once the window is up, answering with the token from the
secret store, and gone (with its address file) when the window quits."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from cts_desktop.app import GuiApp, create_qapp
from cts_desktop.application.control_api import ADDRESS_FILE, TOKEN
from cts_desktop.application.control_client import Target, call
from cts_desktop.services import AppOptions, ControlOptions, Services
from tests.helpers.waiting import until

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


async def test_the_window_serves_the_control_api_until_it_quits(data_dir: Path) -> None:
    services = Services(AppOptions(data_dir=data_dir, console_log=False,
                                   control=ControlOptions(enabled=True, unix_socket=data_dir / "ctl.sock")))
    try:
        create_qapp()
        gui = GuiApp(services)
        gui.start(asyncio.get_running_loop())  # as run_gui does: the services, the window's refresh, the API
        gui.show()
        address = services.paths.data / ADDRESS_FILE
        await until(address.exists, 30, "the control API listening")
        record = json.loads(address.read_text())
        token = services.secrets.get(TOKEN)
        assert token is not None and record["unix_socket"] == str(data_dir / "ctl.sock")
        code, body = await call(Target(None, record["unix_socket"], token), "GET", "/api/v1/health")
        assert code == 200 and body["status"] in ("ok", "degraded")
        assert (await call(Target(None, record["unix_socket"], "nope"), "GET", "/api/v1/health"))[0] == 401
        await gui.shutdown()
        assert not address.exists()
    finally:
        services.close()
