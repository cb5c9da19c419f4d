"""Command-line options of ``cts-desktop`` and the choice between the GUI and headless mode.

Heavy modules (Qt, ccxt, SQLAlchemy) are imported only after the options are parsed, so ``--version`` and
``--help`` answer instantly and the GUI can show its window before ccxt is loaded.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from cts_desktop import __version__

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cts-desktop",
        description="CTS Desktop: trade USDT-perpetual futures on Bybit and BingX (paper trading by default).",
    )
    parser.add_argument("--version", action="version", version=f"cts-desktop {__version__}")
    parser.add_argument("--headless", action="store_true", help="run the services without a window")
    parser.add_argument("--data-dir", type=Path, help="keep data, config, logs and cache under this folder")
    parser.add_argument(
        "--db-url",
        help="PostgreSQL URL, e.g. postgresql://user@host:5432/cts (a password in it is moved to the keyring); "
        "default: SQLite in the data folder",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, help="log level (default: the System setting)")
    parser.add_argument(
        "--secrets-file",
        type=Path,
        help="opt in to a passphrase-encrypted secrets file when no OS keyring exists; the passphrase is read "
        "from CTS_SECRETS_PASSPHRASE or asked on the terminal",
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation on throw-away state (temporary database, in-process exchange simulator on "
        "127.0.0.1), print a report and exit (0 = all checks passed)",
    )
    parser.add_argument(
        "--replay-speed", type=float, default=1.0, metavar="X",
        help="speed of the offline Replay market (1 = real time; e.g. 10 replays ten times faster)",
    )
    parser.add_argument(
        "--restore-backup", type=Path, metavar="FILE",
        help="put this backup back in place of the SQLite database (of --data-dir / --db-url) and exit; the "
        "current file is kept aside; refused while CTS Desktop runs on that database",
    )
    parser.add_argument(
        "--minimized", action="store_true",
        help="start with only the tray icon (the window opens from the tray); used by the start-at-login entry",
    )
    parser.add_argument("--exit-after", type=float, metavar="SECONDS", help=argparse.SUPPRESS)
    return parser


def _passphrase(secrets_file: Path | None) -> str | None:
    """From CTS_SECRETS_PASSPHRASE (also for a file chosen earlier in the GUI), else asked on a terminal."""
    value = os.environ.get("CTS_SECRETS_PASSPHRASE")
    if value:
        return value
    if secrets_file is not None and sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass(f"Passphrase for {secrets_file}: ")
    return None


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.self_test:
        from cts_desktop.selftest import run_self_test

        return run_self_test()
    if args.restore_backup is not None:
        from cts_desktop.services import restore_from_command_line

        status, message = restore_from_command_line(args.restore_backup, args.data_dir, args.db_url)
        print(message, file=sys.stderr if status else sys.stdout, flush=True)
        return status
    from cts_desktop.services import AppOptions

    options = AppOptions(
        data_dir=args.data_dir,
        db_url=args.db_url,
        log_level=args.log_level,
        headless=args.headless,
        secrets_file=args.secrets_file,
        secrets_passphrase=_passphrase(args.secrets_file),
        replay_speed=args.replay_speed,
    )
    from cts_desktop.system import lifetime as life
    from cts_desktop.system.instance import AlreadyRunning, Mode

    mode = Mode.HEADLESS if args.headless else Mode.WINDOW
    try:  # one instance per data folder, claimed before the database is opened
        lifetime = life.begin(args.data_dir, mode, argv, minimized=args.minimized)
    except AlreadyRunning as running:
        print(f"cts-desktop: {running}", file=sys.stderr if running.exit_code else sys.stdout, flush=True)
        if running.exit_code and mode is Mode.WINDOW:
            from cts_desktop.app import show_refusal

            show_refusal(str(running))
        return running.exit_code
    except OSError as error:  # the data folder cannot be created or locked
        print(f"cts-desktop: the data folder could not be used: {error}", file=sys.stderr, flush=True)
        return 2
    clean = False
    try:
        if args.headless:
            from cts_desktop.headless import run_headless

            code = run_headless(options, exit_after=args.exit_after, lifetime=lifetime)
        else:
            from cts_desktop.app import run_gui

            code = run_gui(options, exit_after=args.exit_after, lifetime=lifetime)
        clean = True
        return code
    finally:
        lifetime.end(clean)  # the run marker stays after a crash: the next start tells of it
