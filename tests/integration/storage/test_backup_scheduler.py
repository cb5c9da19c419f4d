"""Periodic backups follow their settings: the interval decides when the next one is made (after a restart too:
the newest backup in the folder counts), the count how many are kept. A backup that fails its check reports the
damaged source. On PostgreSQL the app makes none and says so."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import OperationalError

from cts_desktop.events.bus import EventBus
from cts_desktop.storage.backup_scheduler import INTERVAL_KEY, KEEP_KEY, BackupPolicy, BackupScheduler
from cts_desktop.storage.backups import BackupError, BackupReason, list_backups
from cts_desktop.storage.db import Database, sqlite_url
from cts_desktop.storage.models import Setting
from cts_desktop.storage.settings_store import SettingsStore
from tests.helpers.damage import fill_logs, junk_in_the_middle
from tests.helpers.waiting import until
from tests.integration.conftest import PG_URL

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, hours: float) -> None:
        self.now += timedelta(hours=hours)


@pytest.fixture
def store(tmp_path: Path) -> SettingsStore:
    db = Database(sqlite_url(tmp_path / "data" / "cts.sqlite3"))
    db.migrate()
    settings = SettingsStore(db, EventBus())
    settings.load()
    return settings


def _scheduler(store: SettingsStore, clock: Callable[[], datetime], **extra: object) -> BackupScheduler:
    file = store.db.sqlite_file
    assert file is not None
    return BackupScheduler(file, file.parent / "backups", store.values, clock=clock, **extra)  # type: ignore[arg-type]


def test_policy_reads_both_settings(store: SettingsStore) -> None:
    assert BackupPolicy.from_values(store.values()) == BackupPolicy(interval_hours=6, keep=10)  # the defaults
    store.set_many({INTERVAL_KEY: 12, KEEP_KEY: 3})
    assert BackupPolicy.from_values(store.values()) == BackupPolicy(interval_hours=12, keep=3)


@pytest.mark.asyncio
async def test_the_interval_setting_decides_when_the_next_backup_is_made(store: SettingsStore) -> None:
    clock = FakeClock()
    scheduler = _scheduler(store, clock)
    assert (await scheduler.run_due()) is not None  # no backup yet: one at the first look
    store.set(INTERVAL_KEY, 1)
    clock.advance(1.5)
    assert (await scheduler.run_due()) is not None  # 1.5 h > 1 h
    store.set(INTERVAL_KEY, 6)
    clock.advance(1.5)
    assert (await scheduler.run_due()) is None  # 1.5 h < 6 h
    assert scheduler.next_due() == T0 + timedelta(hours=1.5 + 6)
    clock.advance(4.6)
    assert (await scheduler.run_due()) is not None  # 6.1 h since the last one
    assert [b.made_at for b in list_backups(scheduler.folder)] == [
        T0 + timedelta(hours=7.6), T0 + timedelta(hours=1.5), T0]
    # a restarted app (a new scheduler) goes by the newest backup in the folder, not by its own start
    restarted = _scheduler(store, clock)
    assert restarted.next_due() == T0 + timedelta(hours=7.6 + 6)


@pytest.mark.asyncio
async def test_the_count_setting_decides_how_many_backups_are_kept(store: SettingsStore) -> None:
    clock = FakeClock()
    scheduler = _scheduler(store, clock)
    store.set(KEEP_KEY, 3)
    for _ in range(5):
        await scheduler.backup(BackupReason.PERIODIC)
        clock.advance(1)
    assert len(list_backups(scheduler.folder)) == 3
    store.set(KEEP_KEY, 5)
    for _ in range(3):
        await scheduler.backup(BackupReason.PERIODIC)
        clock.advance(1)
    kept = list_backups(scheduler.folder)
    assert len(kept) == 5 and kept[0].made_at == T0 + timedelta(hours=7)


@pytest.mark.asyncio
async def test_the_running_scheduler_spaces_its_backups_by_the_interval(store: SettingsStore) -> None:
    """A quarter of a real second is one hour of the scheduler's clock; it looks every 10 ms."""
    started = time.monotonic()
    scheduler = _scheduler(store, lambda: T0 + timedelta(hours=4 * (time.monotonic() - started)), tick_s=0.01)

    async def until_count(count: int) -> list[datetime]:
        await until(lambda: len(list_backups(scheduler.folder)) >= count, 60, f"{count} backups")
        return [b.made_at for b in reversed(list_backups(scheduler.folder))]

    store.set_many({INTERVAL_KEY: 1, KEEP_KEY: 50})
    scheduler.start(asyncio.get_running_loop())
    try:
        made = await until_count(3)
        assert all(timedelta(hours=1) <= b - a for a, b in itertools.pairwise(made))
        store.set(INTERVAL_KEY, 3)
        later = await until_count(len(made) + 2)
        assert later[-1] - later[-2] >= timedelta(hours=3)
    finally:
        await scheduler.aclose()


@pytest.mark.asyncio
async def test_a_backup_that_fails_its_check_reports_the_damaged_source(store: SettingsStore) -> None:
    file = store.db.sqlite_file
    assert file is not None
    store.db.dispose()
    fill_logs(file, 20_000)
    junk_in_the_middle(file)
    found: list[list[str]] = []
    scheduler = _scheduler(store, FakeClock(), on_damage=found.append)
    with pytest.raises(BackupError, match="not a valid backup"):
        await scheduler.backup(BackupReason.PERIODIC)
    assert found and found[0]
    assert list(scheduler.folder.iterdir()) == []  # no unchecked copy left behind


@pytest.mark.postgres
@pytest.mark.asyncio
async def test_on_postgresql_no_backup_is_made_the_log_says_so_and_writes_stop_on_damage(
        pg_schema: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = Database(PG_URL, schema=pg_schema)
    db.migrate()
    try:
        assert db.sqlite_file is None
        scheduler = BackupScheduler(db.sqlite_file, tmp_path / "backups", lambda: {INTERVAL_KEY: 1, KEEP_KEY: 1})
        with caplog.at_level(logging.INFO, logger="cts.storage.backups"):
            scheduler.start(asyncio.get_running_loop())
        assert [r.message for r in caplog.records if "pg_dump" in r.message] and not scheduler.running
        assert await scheduler.run_due() is None
        with pytest.raises(BackupError, match="server's own tools"):
            await scheduler.backup(BackupReason.MANUAL)
        assert not (tmp_path / "backups").exists()
        # the damage guard works on PostgreSQL too: writes refused, reads (and their commits) go on
        db.guard.trip("could not read block 7 in file base/16384/16385")
        with pytest.raises(OperationalError, match="writes refused"), db.session() as session:
            session.execute(insert(Setting).values(key="k", value="1"))
        with db.session() as session:
            assert session.execute(select(text("1"))).scalar() == 1
    finally:
        db.dispose()
