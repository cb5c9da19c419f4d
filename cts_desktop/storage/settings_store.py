"""The settings store: values of the schema (domain/settings.py) in the DB, one row per key, with change events.

Rows hold only values that differ from nothing: a key without a row has its default. Every write is validated by
the schema first and happens in one transaction; subscribers are then told which keys changed (old and new
value) by a :class:`~cts_desktop.events.app.SettingsChanged` event on the bus — the one path by which running
engines and the UI pick a change up without a restart. Export writes every value as JSON; import
validates the whole document before anything is written. No secret is ever a setting.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cts_desktop import __version__
from cts_desktop.domain import settings as schema
from cts_desktop.domain.settings_schema.removed import REMOVED_CHOICES, REMOVED_SETTINGS
from cts_desktop.events.app import SettingsChanged
from cts_desktop.events.bus import EventBus
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import Setting

log = logging.getLogger("cts.system.settings")

EXPORT_FORMAT = "cts-desktop-settings"
EXPORT_VERSION = 1


@dataclass(frozen=True, slots=True)
class SettingChange:
    key: str
    old: object
    new: object


class SettingsImportError(ValueError):
    """An import document that is not a settings export, or whose values fail validation (nothing written)."""


class SettingsStore:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.bus = bus
        self._values: dict[str, object] = schema.default_values()
        self._lock = threading.Lock()
        self.problems: list[str] = []

    # --- reading ---------------------------------------------------------------------------------------------

    def load(self) -> dict[str, object]:
        """Read every stored value; a stored value the schema no longer accepts falls back to its default
        (and is reported in :attr:`problems`), an unknown key is ignored and reported."""
        values = schema.default_values()
        problems: list[str] = []
        with self.db.session() as session:
            for row in session.execute(select(Setting)).scalars():
                if row.key not in schema.SETTINGS_BY_KEY:
                    problems.append(f"unknown setting {row.key!r} in the database was ignored")
                    continue
                try:
                    values[row.key] = schema.decode_value(row.key, row.value)
                except schema.SettingValidationError as error:
                    problems.append(f"{error}; using the default")
        with self._lock:
            self._values = values
        self.problems = problems
        for problem in problems:
            log.warning(problem)
        return dict(values)

    def get(self, key: str) -> Any:
        schema.definition(key)  # unknown keys are an error, not None
        with self._lock:
            return self._values[key]

    def values(self) -> dict[str, object]:
        with self._lock:
            return dict(self._values)

    def is_default(self, key: str) -> bool:
        return bool(self.get(key) == schema.definition(key).default)

    # --- writing ---------------------------------------------------------------------------------------------

    def set(self, key: str, value: object) -> object:
        """Validate and store one value; returns the normalised value (SettingValidationError when invalid)."""
        schema.validate_value(key, value)  # a single, precise error for a single value
        try:
            return self.set_many({key: value})[key]
        except schema.SettingsValidationErrors as errors:
            raise errors.errors[0] from None

    def set_many(self, values: Mapping[str, object]) -> dict[str, object]:
        """Validate all (cross-field rules included) and store all in one transaction, or nothing."""
        normalised = schema.validate_many(values, base=self.values())
        self._write(normalised)
        return normalised

    def reset(self, keys: list[str] | None = None) -> None:
        """Back to the defaults: the given keys, or every setting."""
        targets = keys if keys is not None else [d.key for d in schema.SETTINGS]
        defaults = {key: schema.definition(key).default for key in targets}
        self.set_many(defaults)

    def reset_group(self, tab: schema.Tab, group: str) -> None:
        self.reset([d.key for d in schema.settings_of(tab) if d.group == group])

    def _write(self, normalised: Mapping[str, object]) -> None:
        with self._lock:
            old = dict(self._values)
        changes = [SettingChange(k, old[k], v) for k, v in normalised.items() if old[k] != v]

        def write(session: Session) -> None:
            for key, value in normalised.items():
                text = schema.encode_value(key, value)
                row = session.get(Setting, key)
                if row is None:
                    session.add(Setting(key=key, value=text))
                elif row.value != text:
                    row.value = text

        with self.db.session() as session:
            write(session)
        with self._lock:
            self._values.update(normalised)
        if changes:  # often from a worker thread: handed to the bus's loop
            self.bus.publish_threadsafe(SettingsChanged(changes=tuple((c.key, c.old, c.new) for c in changes)))

    # --- export / import -----------------------------------------------------------------------------------------

    def export_json(self) -> str:
        document = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "app_version": __version__,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings": {key: json.loads(schema.encode_value(key, value)) for key, value in self.values().items()},
        }
        return json.dumps(document, indent=2, ensure_ascii=False)

    def import_json(self, text: str) -> list[SettingChange]:
        """Validate the whole document first; write only if every value is valid. Returns what changed."""
        normalised = self.validate_import(text)
        before = self.values()
        self._write(normalised)
        return [SettingChange(k, before[k], v) for k, v in normalised.items() if before[k] != v]

    def validate_import(self, text: str) -> dict[str, object]:
        """The normalised values an export document would apply, validated as a whole against the current values
        (:class:`SettingsImportError` when it would be refused). Writes nothing: the UI asks for the
        confirmations the changes need first."""
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SettingsImportError(f"not a JSON document: {exc.msg} at line {exc.lineno}") from None
        if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
            raise SettingsImportError("not a CTS Desktop settings export (missing format marker)")
        values = document.get("settings")
        if not isinstance(values, dict):
            raise SettingsImportError("the export has no 'settings' object")
        ignored = self.ignored_in(values)
        if ignored:  # settings or choices that were removed (issue 16): imported without them, and said so
            log.warning("settings import: %d removed setting%s ignored: %s", len(ignored),
                        "s" if len(ignored) != 1 else "", ", ".join(ignored))
            values = {k: v for k, v in values.items() if not _removed(k, v)}
        unknown = sorted(set(values) - set(schema.SETTINGS_BY_KEY))
        if unknown:
            raise SettingsImportError("unknown settings: " + ", ".join(unknown))
        try:
            return schema.validate_many(values, base=self.values())
        except schema.SettingsValidationErrors as errors:
            raise SettingsImportError(
                "the import was refused, nothing was changed:\n" + "\n".join(str(e) for e in errors.errors)
            ) from None

    @staticmethod
    def ignored_in(values: Mapping[str, object] | str) -> list[str]:
        """The removed settings (``key``) and removed choices of kept settings (``key = value``) an export document
        (or its ``settings`` object) still carries: they are ignored — a removed choice leaves the setting as it
        is."""
        if isinstance(values, str):
            try:
                document = json.loads(values)
            except json.JSONDecodeError:
                return []
            found = document.get("settings") if isinstance(document, dict) else None
            values = found if isinstance(found, dict) else {}
        return sorted(key if key in REMOVED_SETTINGS else f"{key} = {value}"
                      for key, value in values.items() if _removed(key, value))

    def clear_unknown_rows(self) -> int:
        with self.db.session() as session:
            result = session.execute(delete(Setting).where(Setting.key.not_in(list(schema.SETTINGS_BY_KEY))))
            return int(getattr(result, "rowcount", 0) or 0)


def _removed(key: str, value: object) -> bool:
    """A setting that was removed, or a choice a kept setting no longer offers."""
    return key in REMOVED_SETTINGS or (isinstance(value, str) and (key, value) in REMOVED_CHOICES)
