"""System › Database URL: a changed URL is the database the next start opens (the running app keeps its own
until then), and switching back brings the first database's contents back."""

from __future__ import annotations

from pathlib import Path

from cts_desktop.services import AppOptions, Services


def test_the_next_start_opens_the_database_the_url_names(data_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "cts.sqlite3"
    other.parent.mkdir()
    first = Services(AppOptions(data_dir=data_dir, console_log=False))
    try:
        embedded = Path(str(first.db.url.database))
        first.settings.set("overall.positions_average", 80)  # a mark in the embedded database
        first.settings.set("system.database_url", f"sqlite:///{other}")
        assert Path(str(first.db.url.database)) == embedded  # the running app keeps its database
    finally:
        first.close()
    second = Services(AppOptions(data_dir=data_dir, console_log=False))
    try:
        assert Path(str(second.db.url.database)) == other and other.exists()
        assert second.settings.get("overall.positions_average") != 80  # a fresh database: the default
        assert second.settings.get("system.database_url") == f"sqlite:///{other}"  # it names the one in use
        second.settings.set("system.database_url", f"sqlite:///{embedded}")  # and back
    finally:
        second.close()
    third = Services(AppOptions(data_dir=data_dir, console_log=False))
    try:
        assert Path(str(third.db.url.database)) == embedded
        assert third.settings.get("overall.positions_average") == 80
        assert third.settings.get("system.database_url") == f"sqlite:///{embedded}"
    finally:
        third.close()
