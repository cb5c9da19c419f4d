"""The team's shared folder of recorded market data (``shared/data`` next to the repository, see its README).

It is not part of the project (some of it is GPL/LGPL-licensed): tests that use it find it here and skip with
the reason when it is absent. ``CTS_SHARED_DATA`` names the folder explicitly; otherwise it is the first
``shared/data`` found beside the repository or beside one of its parent folders (a git worktree lies deeper).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

ENV = "CTS_SHARED_DATA"
ROOT = Path(__file__).resolve().parents[2]


@cache
def shared_data() -> Path | None:
    """The shared data folder, or None when there is none."""
    named = os.environ.get(ENV)
    if named:
        return Path(named) if Path(named).is_dir() else None
    for folder in ROOT.parents:
        candidate = folder / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


def missing_reason(what: str) -> str:
    return f"{what} needs the shared data folder (../shared/data beside the repository, or {ENV}=<folder>)"


def candle_files() -> list[Path]:
    """Every candle series of ``shared/data/candles`` (.csv and .csv.gz), by name; [] without the folder."""
    folder = shared_data()
    if folder is None:
        return []
    return sorted(p for p in (folder / "candles").iterdir() if p.name.endswith((".csv", ".csv.gz")))
