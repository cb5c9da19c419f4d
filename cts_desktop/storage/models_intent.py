"""What trading should be on each app instance: the user's last command, kept across restarts (migration 0005).

One row per instance and connection: ``connection_id`` ``'*'`` is the coordinator (running / paused / stopped),
the others are the connections' engines as they last were (with ``live``: trading on the exchange, not on paper).
``instance`` names the data folder on its host (:func:`cts_desktop.engine.intent.instance_key`), so a server and a
desktop sharing one PostgreSQL database keep their own. Written by :mod:`cts_desktop.engine.intent`, read at start
by :mod:`cts_desktop.engine.resume`. (Imported by the migrations' env.py so autogenerate sees the table.)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from cts_desktop.storage.models import Base, utcnow
from cts_desktop.storage.types import UtcDateTime


class TradingIntent(Base):
    __tablename__ = "trading_intent"
    instance: Mapped[str] = mapped_column(String(64), primary_key=True)
    connection_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    state: Mapped[str] = mapped_column(String(12))
    live: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
