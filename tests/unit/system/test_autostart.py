"""Start at login: the entry of each OS by content (Linux XDG autostart, macOS LaunchAgent, Windows Run key), the
command for a bundle and for a source install, and on Linux the entry written and removed for real as the
settings change (XDG_CONFIG_HOME in a temporary folder)."""

from __future__ import annotations

import plistlib
import shlex
from pathlib import Path

import pytest

from cts_desktop.system.autostart import (
    START_AT_LOGIN,
    START_MINIMIZED,
    Installation,
    LoginStart,
    autostart_entry,
    desktop_exec,
    launch_command,
)

HOME = Path("/home/ann")
BUNDLE = Installation(frozen=True, executable=Path("/home/ann/.local/opt/cts-desktop/cts-desktop"))
SOURCE = Installation(frozen=False, executable=Path("/home/ann/cts/.venv/bin/python3"),
                      console_script=Path("/home/ann/cts/.venv/bin/cts-desktop"))
BARE = Installation(frozen=False, executable=Path("/usr/bin/python3"))
PORTABLE = Path("/media/usb/My Trading $data")


def test_the_command_per_installation() -> None:
    assert launch_command(BUNDLE, "linux", None, False) == ["/home/ann/.local/opt/cts-desktop/cts-desktop"]
    assert launch_command(SOURCE, "linux", None, True) == ["/home/ann/cts/.venv/bin/cts-desktop", "--minimized"]
    assert launch_command(BARE, "linux", PORTABLE, False) == ["/usr/bin/python3", "-m", "cts_desktop", "--data-dir",
                                                              str(PORTABLE)]
    app = Installation(True, Path("/Applications/CTS Desktop.app/Contents/MacOS/cts-desktop"))
    assert launch_command(app, "darwin", None, False) == [str(app.executable)]
    cli = Installation(True, Path("C:/Program Files/cts-desktop/cts-desktop-cli.exe"))  # the console twin
    assert launch_command(cli, "win32", None, True) == ["C:/Program Files/cts-desktop/cts-desktop.exe", "--minimized"]
    venv = Installation(False, Path("C:/cts/.venv/Scripts/python.exe"))
    assert launch_command(venv, "win32", None, False) == ["C:/cts/.venv/Scripts/pythonw.exe", "-m", "cts_desktop"]


def test_linux_entry_is_an_xdg_autostart_desktop_file() -> None:
    argv = launch_command(BARE, "linux", PORTABLE, True)
    entry = autostart_entry("linux", argv, PORTABLE, HOME)
    assert entry.location.startswith("/home/ann/.config/autostart/cts-desktop-") and entry.location.endswith(".desktop")
    lines = entry.content.splitlines()
    assert lines[0] == "[Desktop Entry]" and "Type=Application" in lines and "Terminal=false" in lines
    assert f"Name=CTS Desktop ({PORTABLE})" in lines
    exec_line = next(line for line in lines if line.startswith("Exec="))
    assert exec_line == ('Exec=/usr/bin/python3 -m cts_desktop --data-dir "/media/usb/My Trading \\\\$data" '
                         '--minimized')
    default = autostart_entry("linux", ["/opt/cts-desktop"], None, HOME, config_home=Path("/xdg"))
    assert default.location == "/xdg/autostart/cts-desktop.desktop" and "Name=CTS Desktop\n" in default.content


def test_desktop_exec_quoting_reads_back_as_the_arguments() -> None:
    argv = ["/opt/a b/cts", "--data-dir", 'C:\\x "y"', "100%", "plain"]
    value = desktop_exec(argv)
    assert "%%" in value and "100%%" in value
    # undo the value's backslash escaping, then the field codes; a POSIX shell splits the rest as the spec says
    unescaped = value.replace("\\\\", "\\").replace("%%", "%")
    assert shlex.split(unescaped) == argv


def test_macos_entry_is_a_launch_agent() -> None:
    argv = ["/Applications/CTS Desktop.app/Contents/MacOS/cts-desktop", "--minimized"]
    entry = autostart_entry("darwin", argv, None, HOME)
    assert entry.location == "/home/ann/Library/LaunchAgents/io.github.cts-desktop.cts-desktop.plist"
    plist = plistlib.loads(entry.content.encode())
    assert plist == {"Label": "io.github.cts-desktop.cts-desktop", "ProgramArguments": argv, "RunAtLoad": True,
                     "ProcessType": "Interactive", "LimitLoadToSessionType": "Aqua"}


def test_windows_entry_is_a_run_value_of_the_current_user() -> None:
    argv = ["C:\\Program Files\\cts-desktop\\cts-desktop.exe", "--data-dir", "D:\\cts data", "--minimized"]
    entry = autostart_entry("win32", argv, Path("D:\\cts data"), HOME)
    assert entry.location == "CTS Desktop (D:\\cts data)"
    assert entry.content == ('"C:\\Program Files\\cts-desktop\\cts-desktop.exe" --data-dir "D:\\cts data" '
                             '--minimized')
    assert autostart_entry("win32", argv[:1], None, HOME).location == "CTS Desktop"


def test_linux_entry_written_and_removed_as_the_settings_change(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    values: dict[str, object] = {START_AT_LOGIN: False, START_MINIMIZED: False}
    login = LoginStart(lambda: values, tmp_path / "data", platform="linux", install=SOURCE, home=tmp_path)
    path = Path(login.entry().location)
    assert path.parent == tmp_path / "xdg" / "autostart"
    login.apply()
    assert not path.exists()  # off by default: nothing written
    values[START_AT_LOGIN] = True
    login.apply()
    content = path.read_text()
    assert f"Exec=/home/ann/cts/.venv/bin/cts-desktop --data-dir {tmp_path / 'data'}\n" in content
    values[START_MINIMIZED] = True
    login.apply()
    assert f"--data-dir {tmp_path / 'data'} --minimized\n" in path.read_text()  # rewritten
    values[START_AT_LOGIN] = False
    login.apply()
    assert not path.exists() and list(path.parent.iterdir()) == []
