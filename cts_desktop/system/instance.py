"""One running app per data folder, and a second launch handed over to it (no Qt here: headless uses it too).

* **The lock** is an OS file lock on ``<data>/instance.lock`` (``flock`` on POSIX, ``msvcrt.locking`` on Windows),
  taken before the database is opened and held for the life of the process. The OS drops it when the process
  ends in any way — quit, crash, SIGKILL, power loss — so there is no stale lock to detect or clean up after a
  crash: the next start simply gets it. (A pid file would need "is that pid still us?" guesses; a lock cannot lie.)
* **The hand-over channel** is a loopback TCP socket the holder listens on; its port and a random token are in
  ``<data>/instance.json`` (readable by this user only). A second launch that cannot take the lock sends its mode,
  pid and arguments there, gets the holder's mode back and exits: a second window brings the first window to the
  front; a window and a headless instance refuse each other with a message saying which one runs and how to stop
  it. A holder that does not answer within a few seconds (hung) is reported as such, never taken over.

The running instance hears of every launch through :meth:`InstanceGuard.on_launch` (called in the channel's
thread: the handler must hop onto its own loop).
"""

from __future__ import annotations

import contextlib
import enum
import hmac
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

log = logging.getLogger("cts.system.instance")

LOCK_FILE = "instance.lock"
INFO_FILE = "instance.json"
ANSWER_TIMEOUT_S = 5.0  # a holder that takes longer to answer is reported as not answering
HOLDER_WAIT_S = 10.0  # how long a second launch waits for a holder that is still starting to publish its channel
EXIT_ALREADY_RUNNING = 4  # the launch was refused (the data folder is in use); a hand-over exits 0
MAX_MESSAGE = 64 * 1024


class Mode(enum.StrEnum):
    WINDOW = "window"
    HEADLESS = "headless"


@dataclass(frozen=True, slots=True)
class Launch:
    """A later launch on the same data folder, as the running instance hears of it."""

    mode: Mode
    pid: int
    argv: tuple[str, ...]

    @property
    def wants_window(self) -> bool:
        """A window launch that is not an autostart's ``--minimized`` one: it asks to see the window."""
        return self.mode is Mode.WINDOW and "--minimized" not in self.argv


@dataclass(frozen=True, slots=True)
class Holder:
    """The instance that holds a data folder (``instance.json``)."""

    pid: int
    host: str
    mode: str
    port: int
    token: str
    started_at: float

    def since(self) -> str:
        return datetime.fromtimestamp(self.started_at).strftime("%Y-%m-%d %H:%M")


class AlreadyRunning(RuntimeError):
    """This launch does not run: another instance holds the data folder. ``exit_code`` 0 when it was handed over
    (the other window came to the front), :data:`EXIT_ALREADY_RUNNING` when refused."""

    def __init__(self, message: str, exit_code: int, holder_mode: Mode | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.holder_mode = holder_mode


def refusal(folder: Path, mine: Mode, holder: Holder, answer: Answer) -> AlreadyRunning:
    """The message for a launch that met ``holder`` (which answered ``answer``) on ``folder``."""
    where = f"on the data folder {folder}"
    since = f"pid {holder.pid}, since {holder.since()}"
    if mine is Mode.WINDOW and answer.mode is Mode.WINDOW:
        if answer.handled:
            return AlreadyRunning(f"CTS Desktop already runs {where} (pid {holder.pid}); its window was brought to "
                                  "the front.", 0, answer.mode)
        return AlreadyRunning(f"CTS Desktop already runs {where} ({since}) but its window did not respond: it may "
                              f"hang. End it (kill {holder.pid}) and start again.", EXIT_ALREADY_RUNNING, answer.mode)
    if answer.mode is Mode.HEADLESS:
        besides = "A window cannot run beside it on the same data: stop" if mine is Mode.WINDOW else "Stop"
        return AlreadyRunning(f"CTS Desktop already runs headless {where} ({since}). {besides} it first (SIGTERM, "
                              "or Ctrl+C in its terminal), or start with another --data-dir.",
                              EXIT_ALREADY_RUNNING, answer.mode)
    return AlreadyRunning(f"The CTS Desktop window runs {where} ({since}). Headless mode cannot run beside it on "
                          "the same data: quit the window first (File › Quit or the tray menu), or use another "
                          "--data-dir.", EXIT_ALREADY_RUNNING, answer.mode)


def _try_lock(fd: int) -> bool:
    if os.name == "nt":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # BlockingIOError: another process holds it
        return False
    return True


def read_holder(folder: Path) -> Holder | None:
    """The published channel of the holder (None while it is not written yet or unreadable)."""
    try:
        data = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
        return Holder(int(data["pid"]), str(data["host"]), str(data["mode"]), int(data["port"]), str(data["token"]),
                      float(data["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True, slots=True)
class Answer:
    """The holder's reply to a launch: its mode, and whether it acted on the launch (window to the front)."""

    mode: Mode
    handled: bool


def ask_holder(holder: Holder, launch: Launch, timeout: float = ANSWER_TIMEOUT_S) -> Answer | None:
    """Tell the holder about ``launch``; its answer, or None when nobody answers on its channel."""
    message = {"token": holder.token, "mode": launch.mode.value, "pid": launch.pid, "argv": list(launch.argv)}
    try:
        with socket.create_connection(("127.0.0.1", holder.port), timeout=timeout) as conn:
            conn.sendall(json.dumps(message).encode("utf-8") + b"\n")
            answer = json.loads(_read_line(conn) or b"{}")
        return Answer(Mode(answer["mode"]), bool(answer.get("handled", True)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data and len(data) < MAX_MESSAGE:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]


class InstanceGuard:
    """The lock and hand-over channel of the one instance running on a data folder (:meth:`claim` takes them)."""

    def __init__(self, folder: Path, mode: Mode) -> None:
        self.folder = folder
        self.mode = mode
        self.started_at = time.time()
        self.token = secrets.token_hex(16)
        self._fd: int | None = None
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._handler: Callable[[Launch], bool] | None = None
        self._pending: list[Launch] = []
        self._handler_lock = threading.Lock()

    @classmethod
    def claim(cls, folder: Path, mode: Mode, argv: list[str], wait_s: float = HOLDER_WAIT_S) -> InstanceGuard:
        """The data folder for this process, or :class:`AlreadyRunning` after telling the holder about us."""
        folder.mkdir(parents=True, exist_ok=True)
        guard = cls(folder, mode)
        launch = Launch(mode, os.getpid(), tuple(argv))
        deadline = time.monotonic() + wait_s
        while not guard._lock():
            holder = read_holder(folder)
            answer = ask_holder(holder, launch) if holder is not None else None
            if holder is not None and answer is not None:
                guard._close_lock()
                raise refusal(folder, mode, holder, answer)
            if time.monotonic() > deadline:  # locked, but nobody answers: a hung process, or one that is stuck
                guard._close_lock()
                pid = f" (pid {holder.pid})" if holder is not None else ""
                raise AlreadyRunning(f"CTS Desktop{pid} holds the data folder {folder} but does not answer. If it "
                                     f"hangs, end it{f' (kill {holder.pid})' if holder else ''} and start again.",
                                     EXIT_ALREADY_RUNNING)
            time.sleep(0.1)  # the holder is starting (channel not published yet) or just ending
        guard._open_channel()
        return guard

    def _lock(self) -> bool:
        if self._fd is None:
            self._fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        return _try_lock(self._fd)

    def _close_lock(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def _open_channel(self) -> None:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.settimeout(0.5)  # the accept loop looks at the closing flag this often
        self._server = server
        port = int(server.getsockname()[1])
        holder = Holder(os.getpid(), socket.gethostname(), self.mode.value, port, self.token, self.started_at)
        target = self.folder / INFO_FILE
        tmp = target.with_suffix(".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(asdict(holder), out)
        os.replace(tmp, target)
        self._thread = threading.Thread(target=self._serve, name="instance-channel", daemon=True)
        self._thread.start()

    def on_launch(self, handler: Callable[[Launch], bool]) -> None:
        """Hear of later launches, in the channel's thread: ``handler`` returns whether the app acted on it (the
        window came to the front) in time. Launches that came before are handed over now."""
        with self._handler_lock:
            self._handler = handler
            pending, self._pending = self._pending, []
        for launch in pending:
            handler(launch)

    def _serve(self) -> None:
        assert self._server is not None
        while not self._closing.is_set():
            try:
                conn, _address = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(2.0)
            message = json.loads(_read_line(conn) or b"{}")
            if not isinstance(message, dict) or not hmac.compare_digest(str(message.get("token", "")), self.token):
                return
            launch = Launch(Mode(message["mode"]), int(message["pid"]), tuple(str(a) for a in message["argv"]))
        except (OSError, ValueError, KeyError, TypeError):
            return
        handed_over = self.mode is Mode.WINDOW and launch.mode is Mode.WINDOW
        log.info("another launch on this data folder (%s, pid %d, arguments: %s): %s", launch.mode.value,
                 launch.pid, " ".join(launch.argv) or "none", "handed over to this window" if handed_over
                 else "refused")
        with self._handler_lock:
            handler = self._handler
            if handler is None:
                self._pending.append(launch)
        handled = True if handler is None else handler(launch)
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps({"mode": self.mode.value, "pid": os.getpid(), "handled": handled})
                         .encode("utf-8") + b"\n")

    def release(self) -> None:
        """Close the channel and drop the lock (the process is ending)."""
        self._closing.set()
        if self._server is not None:
            with contextlib.suppress(OSError):  # wakes the accept at once on Linux (elsewhere its timeout does)
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        with contextlib.suppress(OSError):
            holder = read_holder(self.folder)
            if holder is not None and holder.pid == os.getpid():
                (self.folder / INFO_FILE).unlink()
        self._close_lock()


__all__ = ["EXIT_ALREADY_RUNNING", "AlreadyRunning", "Answer", "Holder", "InstanceGuard", "Launch", "Mode"]
