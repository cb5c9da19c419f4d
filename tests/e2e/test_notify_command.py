"""``cts-desktop notify urls|test`` on a server without a window: the URLs come from stdin (never the command line),
land in the encrypted secrets file, and the test message reaches a local receiver (Apprise ``json://``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

PASSPHRASE = "notify-command-passphrase"


def _notify(data_dir: Path, action: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CTS_SECRETS_PASSPHRASE=PASSPHRASE,
               PYTHON_KEYRING_BACKEND="cts_desktop.storage.keyring_memory.MemoryKeyring")
    return subprocess.run([sys.executable, "-m", "cts_desktop", "notify", action, "--data-dir", str(data_dir),
                           "--secrets-file", str(data_dir / "secrets.enc")], input=stdin, capture_output=True,
                          text=True, timeout=120, env=env)


def test_notify_urls_from_stdin_and_a_test_message(tmp_path: Path) -> None:
    got: list[dict[str, Any]] = []

    class Take(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Take)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"json://127.0.0.1:{server.server_address[1]}/hook"
        stored = _notify(tmp_path, "urls", url + "\n")
        assert stored.returncode == 0 and "1 URL(s) stored: json://…" in stored.stdout, stored.stderr
        sent = _notify(tmp_path, "test")
        assert sent.returncode == 0 and "Test notification sent to 1 URL(s)" in sent.stdout, sent.stderr
        assert [m["title"] for m in got] == ["CTS Desktop test notification"]
        assert url not in (tmp_path / "logs" / "cts-desktop.log").read_text()
    finally:
        server.shutdown()
