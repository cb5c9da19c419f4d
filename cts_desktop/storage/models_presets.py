"""Preset tables (DOMAIN Part 2 §5.1–5.2): preset types, configuration sets, their links by priority, and the
preset type assigned to each connection. The definitions themselves are JSON documents of
:mod:`cts_desktop.backtest.presets` (a set's ranges and rules; a fixed set's chosen parameters and exit)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cts_desktop.storage.model_base import Base, utcnow
from cts_desktop.storage.types import JsonText, UtcDateTime


class PresetType(Base):
    """A named trading profile; ``settings`` holds the PresetTypeDef fields (limits, timeouts, toggles)."""

    __tablename__ = "preset_types"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    predefined: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JsonText, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class PresetSet(Base):
    """A configuration set: ``definition`` = ConfigurationSetDef; ``fixed`` = the chosen FixedSet (sets saved
    from auto-optimal) with its backtest ``metrics`` and the ``symbol`` it was chosen on."""

    __tablename__ = "preset_sets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    indication: Mapped[str] = mapped_column(String(30))
    symbol: Mapped[str | None] = mapped_column(String(60), nullable=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JsonText, default=dict)
    fixed: Mapped[dict[str, Any] | None] = mapped_column(JsonText, nullable=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(JsonText, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class PresetTypeSet(Base):
    """Many-to-many link with the execution ``priority`` (ascending) and an active flag."""

    __tablename__ = "preset_type_sets"
    preset_type_id: Mapped[int] = mapped_column(ForeignKey("preset_types.id", ondelete="CASCADE"), primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("preset_sets.id", ondelete="CASCADE"), primary_key=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ConnectionPreset(Base):
    """The preset type a connection trades in Preset mode (one per connection)."""

    __tablename__ = "connection_presets"
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    preset_type_id: Mapped[int] = mapped_column(ForeignKey("preset_types.id", ondelete="CASCADE"))
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
