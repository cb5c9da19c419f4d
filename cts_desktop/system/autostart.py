"""Start at login: the entry each OS reads to start the app when the user logs in, written and removed by the app
when *System › Start at login* changes (no Qt here).

=========  ================================================================  ====================================
OS         entry                                                             started with
=========  ================================================================  ====================================
Linux      ``$XDG_CONFIG_HOME/autostart/<name>.desktop`` (XDG autostart)     ``Exec=`` (quoted per the XDG spec)
macOS      ``~/Library/LaunchAgents/<label>.plist`` (``RunAtLoad``)          ``ProgramArguments``
Windows    value ``<name>`` under ``HKCU\\...\\CurrentVersion\\Run``          the command line (``winreg``)
=========  ================================================================  ====================================

The command is the installed bundle (PyInstaller: ``sys.frozen``, ``sys.executable``; on Windows the windowed
``cts-desktop.exe`` even when the console twin turned the setting on) or the source install's ``cts-desktop``
console script beside the interpreter (else ``python -m cts_desktop``; ``pythonw`` on Windows, so no console
opens). ``--data-dir DIR`` follows when the app runs on a non-default data folder, ``--minimized`` when *Start
minimized to the tray* is on. Each data folder has its own entry (the default folder's is ``cts-desktop``, another
one's carries a hash of its path), so two portable installs do not overwrite each other's.

What each entry contains is pure (:func:`autostart_entry`, tested for all three OSes); :class:`LoginStart` writes or
removes it for this machine.
"""

from __future__ import annotations

import hashlib
import logging
import os
import plistlib
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("cts.system.autostart")

START_AT_LOGIN = "system.start_at_login"
START_MINIMIZED = "system.start_minimized"
MINIMIZED_FLAG = "--minimized"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
DISPLAY_NAME = "CTS Desktop"
XDG_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


@dataclass(frozen=True, slots=True)
class Installation:
    """How this copy of the app was started (``sys.frozen``, ``sys.executable``), for the command to write."""

    frozen: bool
    executable: Path
    console_script: Path | None = None  # the source install's ``cts-desktop`` script, when it exists

    @classmethod
    def current(cls) -> Installation:
        executable = Path(sys.executable).resolve()
        script = executable.parent / ("cts-desktop.exe" if os.name == "nt" else "cts-desktop")
        return cls(bool(getattr(sys, "frozen", False)), executable, script if script.exists() else None)


def launch_command(install: Installation, platform: str, data_dir: Path | None, minimized: bool) -> list[str]:
    """The command the login entry runs."""
    windows = platform == "win32"
    if install.frozen:
        exe = install.executable
        if windows and exe.stem.endswith("-cli"):  # the console twin: start the windowed program at login
            exe = exe.with_name(exe.stem.removesuffix("-cli") + exe.suffix)
        argv = [str(exe)]
    elif windows:  # pythonw: no console window at login
        argv = [str(install.executable.with_name("pythonw.exe")), "-m", "cts_desktop"]
    elif install.console_script is not None:
        argv = [str(install.console_script)]
    else:
        argv = [str(install.executable), "-m", "cts_desktop"]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    if minimized:
        argv.append(MINIMIZED_FLAG)
    return argv


def entry_name(data_dir: Path | None) -> str:
    """``cts-desktop`` for the default data folder, ``cts-desktop-<hash of the folder>`` for another one."""
    if data_dir is None:
        return "cts-desktop"
    return "cts-desktop-" + hashlib.sha256(str(data_dir).encode("utf-8")).hexdigest()[:10]


@dataclass(frozen=True, slots=True)
class AutostartEntry:
    """Where the entry goes (a file, or a registry value name on Windows) and what it holds."""

    platform: str
    location: str
    content: str


def desktop_exec(argv: list[str]) -> str:
    """``argv`` as the ``Exec=`` value of a desktop entry: arguments with reserved characters double-quoted with
    ``"`$\\`` escaped inside, ``%`` doubled, then the value's own escaping of backslashes (XDG Desktop Entry spec)."""

    def quote(arg: str) -> str:
        arg = arg.replace("%", "%%")
        if arg and not XDG_RESERVED & set(arg):
            return arg
        inner = "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg)
        return f'"{inner}"'

    return " ".join(quote(arg) for arg in argv).replace("\\", "\\\\")


def _label(data_dir: Path | None) -> str:
    return DISPLAY_NAME if data_dir is None else f"{DISPLAY_NAME} ({data_dir})"


def autostart_entry(platform: str, argv: list[str], data_dir: Path | None, home: Path,
                    config_home: Path | None = None) -> AutostartEntry:
    """The login entry of ``platform`` (``sys.platform`` values: ``linux``, ``darwin``, ``win32``)."""
    name = entry_name(data_dir)
    if platform == "darwin":
        label = "io.github.cts-desktop." + name
        plist = {"Label": label, "ProgramArguments": argv, "RunAtLoad": True, "ProcessType": "Interactive",
                 "LimitLoadToSessionType": "Aqua"}
        path = home / "Library" / "LaunchAgents" / f"{label}.plist"
        return AutostartEntry(platform, str(path), plistlib.dumps(plist, sort_keys=True).decode("utf-8"))
    if platform == "win32":
        return AutostartEntry(platform, _label(data_dir), subprocess.list2cmdline(argv))
    folder = (config_home if config_home is not None else home / ".config") / "autostart"
    lines = ["[Desktop Entry]", "Type=Application", f"Name={_label(data_dir)}",
             "Comment=Starts CTS Desktop at login: trading goes on in the background, in the tray",
             f"Exec={desktop_exec(argv)}", "Icon=cts-desktop", "Terminal=false", "X-GNOME-Autostart-enabled=true"]
    return AutostartEntry(platform, str(folder / f"{name}.desktop"), "\n".join(lines) + "\n")


def _registry() -> object:  # Windows only
    import winreg  # type: ignore[import-not-found,unused-ignore]

    return winreg


def write_entry(entry: AutostartEntry) -> None:
    if entry.platform == "win32":
        winreg: object = _registry()
        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:  # type: ignore[attr-defined]
            winreg.SetValueEx(key, entry.location, 0, winreg.REG_SZ, entry.content)  # type: ignore[attr-defined]
        return
    path = Path(entry.location)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(entry.content, encoding="utf-8")
    os.replace(tmp, path)


def remove_entry(entry: AutostartEntry) -> bool:
    """Remove the entry; False when there was none."""
    if entry.platform == "win32":
        winreg: object = _registry()
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0,  # type: ignore[attr-defined]
                                winreg.KEY_SET_VALUE) as key:  # type: ignore[attr-defined]
                winreg.DeleteValue(key, entry.location)  # type: ignore[attr-defined]
        except FileNotFoundError:
            return False
        return True
    try:
        Path(entry.location).unlink()
    except FileNotFoundError:
        return False
    return True


def read_entry(entry: AutostartEntry) -> str | None:
    """What the entry's location holds now (None: no entry)."""
    if entry.platform == "win32":
        winreg: object = _registry()
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:  # type: ignore[attr-defined]
                return str(winreg.QueryValueEx(key, entry.location)[0])  # type: ignore[attr-defined]
        except FileNotFoundError:
            return None
    try:
        return Path(entry.location).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


class LoginStart:
    """Keeps this machine's login entry equal to the settings: written while *Start at login* is on (rewritten when
    the command changes: the app moved, *Start minimized* changed), removed when it is off."""

    def __init__(self, values: Callable[[], Mapping[str, object]], data_dir: Path | None,
                 platform: str = sys.platform, install: Installation | None = None, home: Path | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.values = values
        self.data_dir = data_dir
        self.platform = platform
        self.install = install or Installation.current()
        self.home = home or Path.home()
        self.environ = os.environ if environ is None else environ

    def entry(self) -> AutostartEntry:
        values = self.values()
        argv = launch_command(self.install, self.platform, self.data_dir, bool(values.get(START_MINIMIZED, False)))
        config_home = self.environ.get("XDG_CONFIG_HOME")
        return autostart_entry(self.platform, argv, self.data_dir, self.home,
                               Path(config_home) if config_home else None)

    def apply(self) -> None:
        """Write or remove the entry as the settings say (a failure is logged: the app runs on regardless)."""
        entry = self.entry()
        try:
            if bool(self.values().get(START_AT_LOGIN, False)):
                if read_entry(entry) != entry.content:
                    write_entry(entry)
                    log.info("start at login: entry written (%s)", entry.location)
            elif remove_entry(entry):
                log.info("start at login: entry removed (%s)", entry.location)
        except OSError as error:
            log.warning("start at login: the entry %s could not be changed: %s", entry.location, error)


__all__ = ["AutostartEntry", "Installation", "LoginStart", "autostart_entry", "desktop_exec", "launch_command"]
