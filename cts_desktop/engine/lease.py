"""Which process trades a connection: a lease row (connection, holder, expiry) renewed while the engine runs.

Two headless processes on one PostgreSQL database must never both trade a connection. Taking the lease is one
conditional write in a transaction — insert when there is no row, or take over a row whose holder is this process
or whose lease has expired — and SQLite serialises it the same way, so the rule holds on both backends. A process
that stops releases its leases; one that dies loses them when they expire.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from cts_desktop.storage.db import Database, describe_db_error
from cts_desktop.storage.models import Lease

LEASE_SECONDS = 30.0
log = logging.getLogger("cts.engine.lease")


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_is_dead(holder: str) -> bool:
    """A holder on this host whose process no longer exists (killed): its lease need not run out first."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    import psutil

    return not psutil.pid_exists(int(pid))


@dataclass(frozen=True, slots=True)
class LeaseResult:
    acquired: bool
    holder: str
    expires_at: datetime


def try_acquire(session: Session, connection_id: str, holder: str, seconds: float = LEASE_SECONDS) -> LeaseResult:
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=seconds)
    taken = session.execute(
        update(Lease)
        .where(Lease.connection_id == connection_id, (Lease.holder == holder) | (Lease.expires_at < now))
        .values(holder=holder, expires_at=expires)
    )
    if getattr(taken, "rowcount", 0):
        return LeaseResult(True, holder, expires)
    row = session.get(Lease, connection_id)
    if row is not None:
        if holder_is_dead(row.holder):
            stale = row.holder
            taken = session.execute(
                update(Lease).where(Lease.connection_id == connection_id, Lease.holder == stale)
                .values(holder=holder, expires_at=expires)
            )
            if getattr(taken, "rowcount", 0):
                return LeaseResult(True, holder, expires)
        return LeaseResult(False, row.holder, row.expires_at)
    try:
        with session.begin_nested():
            session.add(Lease(connection_id=connection_id, holder=holder, expires_at=expires))
    except IntegrityError:  # another process inserted it a moment ago
        row = session.execute(select(Lease).where(Lease.connection_id == connection_id)).scalar_one()
        return LeaseResult(False, row.holder, row.expires_at)
    return LeaseResult(True, holder, expires)


def release(session: Session, connection_id: str, holder: str) -> None:
    session.execute(delete(Lease).where(Lease.connection_id == connection_id, Lease.holder == holder))


class LeaseKeeper:
    """The leases this process holds; :meth:`renew` keeps them alive and reports the ones it lost."""

    def __init__(self, db: Database, holder: str | None = None, seconds: float = LEASE_SECONDS) -> None:
        self.db = db
        self.holder = holder or this_process()
        self.seconds = seconds
        self.held: set[str] = set()

    async def acquire(self, connection_id: str) -> LeaseResult:
        result = await self.db.run(lambda s: try_acquire(s, connection_id, self.holder, self.seconds))
        if result.acquired:
            self.held.add(connection_id)
        return result

    async def renew(self) -> list[str]:
        lost = []
        for connection_id in sorted(self.held):
            result = await self.acquire(connection_id)
            if not result.acquired:
                self.held.discard(connection_id)
                lost.append(connection_id)
        return lost

    async def release(self, connection_id: str) -> None:
        """Give the lease up; when the database refuses (unreachable, damaged) it runs out by itself."""
        self.held.discard(connection_id)
        try:
            await self.db.run(lambda s: release(s, connection_id, self.holder))
        except SQLAlchemyError as exc:
            log.warning("the lease of %s could not be released (it expires within %.0f s): %s", connection_id,
                        self.seconds, describe_db_error(exc, self.db.display_url))

    async def release_all(self) -> None:
        for connection_id in sorted(self.held):
            await self.release(connection_id)
