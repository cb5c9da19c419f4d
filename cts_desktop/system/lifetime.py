"""The life of one app process on its data folder, begun before anything else opens it (``cli.run``): the data
folder claimed for this process (:mod:`cts_desktop.system.instance`), the run marker written and the previous run's
unclean end read (:mod:`cts_desktop.system.run_marker`). No Qt: both modes begin here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cts_desktop.paths import resolve_paths
from cts_desktop.system.instance import InstanceGuard, Mode
from cts_desktop.system.run_marker import RunMarker, UncleanExit


@dataclass(slots=True)
class Lifetime:
    guard: InstanceGuard
    marker: RunMarker
    unclean: UncleanExit | None  # how the run before ended, when not cleanly
    minimized: bool = False  # --minimized: start in the tray (start at login)

    @property
    def mode(self) -> Mode:
        return self.guard.mode

    def end(self, clean: bool) -> None:
        """The process is ending: a clean end removes the run marker; the lock goes in any case."""
        try:
            if clean:
                self.marker.end()
        finally:
            self.guard.release()


def begin(data_dir: Path | None, mode: Mode, argv: list[str], minimized: bool = False) -> Lifetime:
    """Claim the data folder (:class:`~cts_desktop.system.instance.AlreadyRunning` when another instance has it) and
    start the run marker."""
    folder = resolve_paths(data_dir).ensure().data
    guard = InstanceGuard.claim(folder, mode, argv)
    try:
        marker = RunMarker(folder)
        unclean = marker.begin(mode.value)
    except BaseException:
        guard.release()
        raise
    return Lifetime(guard, marker, unclean, minimized)


__all__ = ["Lifetime", "begin"]
