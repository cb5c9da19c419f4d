"""One instance per data folder: the lock, the hand-over to the running instance, refusals between a window and
headless mode, a dead holder (SIGKILL) and a hung one."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cts_desktop.system.instance import (
    EXIT_ALREADY_RUNNING,
    INFO_FILE,
    AlreadyRunning,
    InstanceGuard,
    Launch,
    Mode,
    read_holder,
)


@pytest.fixture
def window(tmp_path: Path) -> Iterator[InstanceGuard]:
    guard = InstanceGuard.claim(tmp_path, Mode.WINDOW, [])
    yield guard
    guard.release()


def test_a_second_window_is_handed_over_to_the_first_and_told_so(window: InstanceGuard, tmp_path: Path) -> None:
    heard: list[Launch] = []
    window.on_launch(lambda launch: heard.append(launch) or True)
    started = time.monotonic()
    with pytest.raises(AlreadyRunning) as refused:
        InstanceGuard.claim(tmp_path, Mode.WINDOW, ["--data-dir", str(tmp_path)])
    assert time.monotonic() - started < 2.0
    assert refused.value.exit_code == 0
    assert "its window was brought to the front" in str(refused.value)
    assert heard == [Launch(Mode.WINDOW, os.getpid(), ("--data-dir", str(tmp_path)))]
    assert heard[0].wants_window


def test_launches_before_the_window_listens_are_handed_over_when_it_does(window: InstanceGuard,
                                                                            tmp_path: Path) -> None:
    with pytest.raises(AlreadyRunning):
        InstanceGuard.claim(tmp_path, Mode.WINDOW, ["--minimized"])
    heard: list[Launch] = []
    window.on_launch(lambda launch: heard.append(launch) or True)
    assert len(heard) == 1 and not heard[0].wants_window  # an autostart's --minimized launch asks for no window


def test_window_and_headless_refuse_each_other_with_a_plain_message(window: InstanceGuard, tmp_path: Path) -> None:
    window.on_launch(lambda _launch: True)
    with pytest.raises(AlreadyRunning) as refused:
        InstanceGuard.claim(tmp_path, Mode.HEADLESS, [])
    assert refused.value.exit_code == EXIT_ALREADY_RUNNING
    assert "The CTS Desktop window runs on the data folder" in str(refused.value)
    assert "quit the window first" in str(refused.value)
    window.release()
    headless = InstanceGuard.claim(tmp_path, Mode.HEADLESS, [])  # the window quit: the folder is free at once
    try:
        for mode, words in ((Mode.WINDOW, "A window cannot run beside it"), (Mode.HEADLESS, "already runs headless")):
            with pytest.raises(AlreadyRunning) as refused:
                InstanceGuard.claim(tmp_path, mode, [])
            assert refused.value.exit_code == EXIT_ALREADY_RUNNING and words in str(refused.value)
            assert f"pid {os.getpid()}" in str(refused.value)
    finally:
        headless.release()


def test_a_window_that_cannot_come_to_the_front_is_reported(window: InstanceGuard, tmp_path: Path) -> None:
    window.on_launch(lambda _launch: False)  # the GUI thread did not act in time
    with pytest.raises(AlreadyRunning) as refused:
        InstanceGuard.claim(tmp_path, Mode.WINDOW, [])
    assert refused.value.exit_code == EXIT_ALREADY_RUNNING and "did not respond" in str(refused.value)


def test_the_channel_ignores_a_message_without_the_token(window: InstanceGuard, tmp_path: Path) -> None:
    heard: list[Launch] = []
    window.on_launch(lambda launch: heard.append(launch) or True)
    holder = read_holder(tmp_path)
    assert holder is not None and holder.pid == os.getpid()
    with socket.create_connection(("127.0.0.1", holder.port), timeout=5) as conn:
        conn.sendall(json.dumps({"token": "guess", "mode": "window", "pid": 1, "argv": []}).encode() + b"\n")
        assert conn.recv(100) == b""  # closed without an answer
    assert heard == []


HOLD = """
import sys, time
from pathlib import Path
from cts_desktop.system.instance import InstanceGuard, Mode
guard = InstanceGuard.claim(Path(sys.argv[1]), Mode(sys.argv[2]), [])
print("held", flush=True)
time.sleep(600)
"""


def test_the_lock_of_a_killed_instance_is_free_at_once(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), "headless"], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunning):
            InstanceGuard.claim(tmp_path, Mode.HEADLESS, [])
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        assert read_holder(tmp_path) is not None  # its channel file is left behind (stale) ...
        started = time.monotonic()
        guard = InstanceGuard.claim(tmp_path, Mode.WINDOW, [])  # ... but the OS dropped its lock
        assert time.monotonic() - started < 1.0
        holder_now = read_holder(tmp_path)
        assert holder_now is not None and holder_now.pid == os.getpid() and holder_now.mode == "window"
        guard.release()
        assert not (tmp_path / INFO_FILE).exists()
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_a_holder_that_does_not_answer_is_reported_not_taken_over(tmp_path: Path) -> None:
    guard = InstanceGuard.claim(tmp_path, Mode.HEADLESS, [])
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts connections (backlog) and never answers: a hung process
    data = json.loads((tmp_path / INFO_FILE).read_text())
    data["port"] = silent.getsockname()[1]
    (tmp_path / INFO_FILE).write_text(json.dumps(data))
    result: list[BaseException] = []

    def second() -> None:
        try:
            InstanceGuard.claim(tmp_path, Mode.WINDOW, [], wait_s=0.5)
        except BaseException as error:
            result.append(error)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(timeout=30)
    silent.close()
    guard.release()
    assert len(result) == 1 and isinstance(result[0], AlreadyRunning)
    assert result[0].exit_code == EXIT_ALREADY_RUNNING and "does not answer" in str(result[0])
