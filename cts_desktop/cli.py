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
        epilog="commands: `cts-desktop live on|off CONNECTION` (confirm live trading on this computer), "
        "`cts-desktop ctl status|pause|resume|stop|close ID|…` (a running app's control API), "
        "`cts-desktop notify urls|test` (notification URLs from stdin); each has --help",
    )
    parser.add_argument("--version", action="version", version=f"cts-desktop {__version__}")
    parser.add_argument("--headless", action="store_true", help="run the services without a window")
    parser.add_argument("--data-dir", type=Path, help="keep data, config, logs and cache under this folder")
    parser.add_argument(
        "--db-url",
        help="PostgreSQL URL, e.g. postgresql://user@host:5432/cts (a password in it is moved to the keyring); "
        "default: SQLite in the data folder",
    )
    parser.add_argument(
        "--ask-db-password", action="store_true",
        help="ask for the PostgreSQL password on the terminal (or set CTS_DB_PASSWORD): never shown in the command "
        "line; kept in the keyring for later starts",
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
    control = parser.add_argument_group(
        "control API", "a local HTTP API for status, health, metrics and commands (`cts-desktop ctl`); bearer token "
        "in the secret store")
    control.add_argument("--no-control-api", action="store_true", help="do not start the control API")
    control.add_argument("--control-port", type=int, default=0, metavar="PORT",
                         help="TCP port of the control API (default: a free port, written to <data>/control.json)")
    control.add_argument("--control-socket", type=Path, metavar="PATH",
                         help="listen on this Unix socket (mode 0600) instead of TCP")
    control.add_argument("--control-bind", default="127.0.0.1", metavar="HOST",
                         help="address to listen on (default 127.0.0.1; any other needs the TLS options)")
    control.add_argument("--control-tls-cert", type=Path, metavar="FILE", help="TLS certificate (PEM) of the API")
    control.add_argument("--control-tls-key", type=Path, metavar="FILE", help="TLS private key (PEM) of the API")
    parser.add_argument("--exit-after", type=float, metavar="SECONDS", help=argparse.SUPPRESS)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="the data folder of the app (as given to it)")
    parser.add_argument("--secrets-file", type=Path, help="the encrypted secrets file (passphrase from "
                        "CTS_SECRETS_PASSPHRASE or asked)")


def build_live_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cts-desktop live", description="Switch live trading of one connection on or off on this computer. "
        "On needs the connection's name typed to confirm (stdin) and a test passed with its current keys.")
    parser.add_argument("state", choices=("on", "off"))
    parser.add_argument("connection", help="the connection's name (or id)")
    parser.add_argument("--db-url", help="the PostgreSQL URL the app uses (without password)")
    _common(parser)
    return parser


def build_ctl_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cts-desktop ctl", description="Ask or steer a running CTS Desktop through its local control API.")
    parser.add_argument("command", choices=("status", "health", "metrics", "positions", "orders", "start", "stop",
                                            "pause", "resume", "restart", "emergency", "close", "token"),
                        help="emergency takes 'close-positions' to close them too; close takes a position id; "
                        "token --rotate makes a new token and shows it once")
    parser.add_argument("argument", nargs="?", help="position id (close) or close-positions (emergency)")
    parser.add_argument("--url", help="the API's URL (default: from <data>/control.json)")
    parser.add_argument("--socket", help="the API's Unix socket (default: from <data>/control.json)")
    parser.add_argument("--token", help="the bearer token (default: CTS_CONTROL_TOKEN, else the secret store)")
    parser.add_argument("--rotate", action="store_true", help="with token: make a new one")
    _common(parser)
    return parser


def run_live(argv: list[str]) -> int:
    args = build_live_parser().parse_args(argv)
    from cts_desktop.application.live_command import switch_live
    from cts_desktop.services import AppOptions

    options = AppOptions(data_dir=args.data_dir, db_url=args.db_url, secrets_file=args.secrets_file,
                         secrets_passphrase=_passphrase(args.secrets_file), console_log=False)
    status, message = switch_live(options, args.connection, args.state == "on", input)
    print(message, file=sys.stderr if status else sys.stdout, flush=True)
    return status


def run_ctl(argv: list[str]) -> int:
    args = build_ctl_parser().parse_args(argv)
    from cts_desktop.application import control_client as ctl

    try:
        if args.command == "token":
            if not args.rotate:
                print("cts-desktop ctl: the token is shown once, when it is made; `cts-desktop ctl token --rotate` "
                      "makes a new one (restart the app to use it)", file=sys.stderr)
                return 1
            print(ctl.new_token(args.data_dir, args.secrets_file))
            return 0
        target = ctl.find_target(args.data_dir, args.url, args.socket, args.token, args.secrets_file)
        status, text = ctl.run_ctl(target, args.command, args.argument)
    except ctl.CtlError as error:
        print(f"cts-desktop ctl: {error}", file=sys.stderr, flush=True)
        return 2
    print(text, file=sys.stderr if status else sys.stdout, flush=True)
    return status


def _passphrase(secrets_file: Path | None) -> str | None:
    """From CTS_SECRETS_PASSPHRASE (also for a file chosen earlier in the GUI), else asked on a terminal."""
    value = os.environ.get("CTS_SECRETS_PASSPHRASE")
    if value:
        return value
    if secrets_file is not None and sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass(f"Passphrase for {secrets_file}: ")
    return None


def run_notify(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="cts-desktop notify", description="Notification URLs (Apprise) for a server without a window: "
        "'urls' reads them from stdin, one per line (an empty input removes them); 'test' sends a test message.")
    parser.add_argument("action", choices=("urls", "test"))
    parser.add_argument("--db-url", help="the PostgreSQL URL the app uses (without password)")
    _common(parser)
    args = parser.parse_args(argv)
    from cts_desktop.application.notifications import notify_command
    from cts_desktop.services import AppOptions

    options = AppOptions(data_dir=args.data_dir, db_url=args.db_url, secrets_file=args.secrets_file,
                         secrets_passphrase=_passphrase(args.secrets_file), console_log=False)
    status, message = notify_command(options, args.action, sys.stdin.read)
    print(message, file=sys.stderr if status else sys.stdout, flush=True)
    return status


SUBCOMMANDS = {"live": run_live, "ctl": run_ctl, "notify": run_notify}


def run(argv: list[str]) -> int:
    if argv and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    args = build_parser().parse_args(argv)
    if args.self_test:
        from cts_desktop.selftest import run_self_test

        return run_self_test()
    if args.restore_backup is not None:
        from cts_desktop.services import restore_from_command_line

        status, message = restore_from_command_line(args.restore_backup, args.data_dir, args.db_url)
        print(message, file=sys.stderr if status else sys.stdout, flush=True)
        return status
    from cts_desktop.services import AppOptions, ControlOptions

    options = AppOptions(
        data_dir=args.data_dir,
        db_url=args.db_url,
        log_level=args.log_level,
        headless=args.headless,
        secrets_file=args.secrets_file,
        secrets_passphrase=_passphrase(args.secrets_file),
        replay_speed=args.replay_speed,
        db_password=getpass.getpass("PostgreSQL password: ") if args.ask_db_password else None,
        control=ControlOptions(enabled=not args.no_control_api, host=args.control_bind, port=args.control_port,
                               unix_socket=args.control_socket, tls_cert=args.control_tls_cert,
                               tls_key=args.control_tls_key),
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
