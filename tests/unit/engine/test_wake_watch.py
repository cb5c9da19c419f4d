"""The wake watch on an injected clock: a sleep (wall clock ahead of the monotonic one), a clock set back, a
stalled loop and the OS's resume message each give one wake-up; scheduling noise does not."""

from __future__ import annotations

import asyncio

import pytest

from cts_desktop.engine.wake_watch import Wake, WakeWatch
from tests.helpers.waiting import until


class FakeClock:
    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall_s = 1_765_000_000.0

    def monotonic(self) -> float:
        return self.mono

    def wall(self) -> float:
        return self.wall_s

    def tick(self, seconds: float) -> None:
        self.mono += seconds
        self.wall_s += seconds


async def _nothing(_wake: Wake) -> None:
    return None


@pytest.mark.parametrize(("mono", "wall", "kind", "gap"), [
    (5.0, 5.0 + 8 * 3600, "slept", 8 * 3600),  # Linux/macOS suspend: the monotonic clock stood still
    (5.0, 5.0 - 3600, "clock_back", 3600),  # the wall clock was set back an hour
    (600.0, 600.0, "stalled", 600),  # Windows suspend (monotonic runs on) or a stopped process
    (5.3, 7.0, None, 0),  # noise and NTP slewing
])
def test_a_tick_tells_what_happened(mono: float, wall: float, kind: str | None, gap: float) -> None:
    clock = FakeClock()
    watch = WakeWatch(_nothing, clock, interval_s=5.0, threshold_s=20.0)
    clock.mono += mono
    clock.wall_s += wall
    wake = watch.check()
    assert (wake.kind if wake else None) == kind
    if wake is not None:
        assert wake.gap_s == pytest.approx(gap)
        assert wake.describe()
    assert watch.check() is None  # compared against the new marks from now on


def test_messages_read_well() -> None:
    assert Wake("slept", 8 * 3600 + 180, 0).describe() == ("the computer slept or its clock jumped forward "
                                                          "(8 h 3 min)")
    assert Wake("clock_back", 45, 0).describe() == "the wall clock jumped back by 45 s"
    assert Wake("os", 0, 0).describe() == "the operating system reported a resume from sleep"


def test_the_loop_hands_each_wake_to_the_recovery_once_and_ignores_its_duration() -> None:
    asyncio.run(_loop_hands_each_wake_over_once())


async def _loop_hands_each_wake_over_once() -> None:
    clock = FakeClock()
    seen: list[Wake] = []
    recovering = asyncio.Event()

    async def recover(wake: Wake) -> None:
        seen.append(wake)
        clock.tick(120)  # the recovery itself takes two minutes: not another gap
        recovering.set()

    watch = WakeWatch(recover, clock, interval_s=0.01, threshold_s=20.0)
    task = asyncio.create_task(watch.run())
    try:
        await until(lambda: watch.looks >= 2, 5, "the watch's first looks")
        clock.wall_s += 3600  # the machine slept an hour
        await asyncio.wait_for(recovering.wait(), 5)
        looked = watch.looks
        await until(lambda: watch.looks >= looked + 2, 5, "two more looks")  # the recovery's own time: no wake
        assert [w.kind for w in seen] == ["slept"]
        recovering.clear()
        watch.os_resumed()  # Windows said so
        await asyncio.wait_for(recovering.wait(), 5)
        assert [w.kind for w in seen] == ["slept", "os"]
        assert watch.wakes == 2
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
