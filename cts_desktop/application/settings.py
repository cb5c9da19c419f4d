"""The Settings screen: read, set, reset, apply as one transaction (trimming stored results when the position
length is lowered), import and export JSON; the database choice is its ``database`` part."""

from __future__ import annotations

import logging

from cts_desktop.application.common import in_thread, write_text
from cts_desktop.application.database import DatabasePart
from cts_desktop.application.notifications import NotificationsPart
from cts_desktop.services import Services
from cts_desktop.storage.results import HistoryLimits, results_over_length, trim_all_sets
from cts_desktop.storage.settings_store import SettingsImportError

__all__ = ["SettingsImportError", "SettingsPart"]

log = logging.getLogger("cts.system.settings")


class SettingsPart:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.database = DatabasePart(services)
        self.notifications = NotificationsPart(services)

    def values(self) -> dict[str, object]:
        return self.services.settings.values()

    async def set(self, key: str, value: object) -> object:
        """Validate and store one value; returns the normalised value."""
        return await in_thread(self.services.settings.set, key, value)

    async def reset(self, keys: list[str]) -> None:
        await in_thread(self.services.settings.reset, keys)

    async def apply(self, values: dict[str, object]) -> tuple[dict[str, object], int]:
        """Validate and store ``values`` in one transaction (all or nothing; SettingsValidationErrors when any is
        invalid). When the position length was lowered, every configuration set is then trimmed to it (the UI
        confirmed that first). Returns the normalised values and the number of results trimmed."""
        store = self.services.settings

        def work() -> tuple[dict[str, object], int]:
            old_length = int(store.get("system.position_length"))
            normalised = store.set_many(values)
            return normalised, self._trim_if_lowered(old_length)

        return await in_thread(work)

    def _trim_if_lowered(self, old_length: int) -> int:
        store = self.services.settings
        length = int(store.get("system.position_length"))
        if length >= old_length:
            return 0
        limits = HistoryLimits(length, int(store.get("system.position_threshold_pct")))
        with self.services.db.session() as session:
            trimmed = trim_all_sets(session, limits)
        log.info("position length lowered from %d to %d: %d stored results trimmed", old_length, length, trimmed)
        return trimmed

    async def trim_preview(self, length: int) -> int:
        """How many stored results a position length of ``length`` would remove."""
        return await self.services.db.run(lambda session: results_over_length(session, length))

    def export_text(self) -> str:
        return self.services.settings.export_json()

    async def export(self, path: str) -> None:
        await in_thread(write_text, path, self.services.settings.export_json())

    def import_preview(self, text: str) -> dict[str, object]:
        """The values an import would apply, validated as a whole (SettingsImportError when it would be refused),
        without writing anything — so the UI can ask for the confirmations the changes need first."""
        return self.services.settings.validate_import(text)

    def ignored_in_import(self, text: str) -> list[str]:
        """The removed settings an export document still carries (issue 16): imported without them."""
        return self.services.settings.ignored_in(text)

    async def import_document(self, text: str) -> tuple[int, int]:
        """Import an export document (validated as a whole first); returns (settings changed, results trimmed)."""
        store = self.services.settings

        def work() -> tuple[int, int]:
            old_length = int(store.get("system.position_length"))
            changes = store.import_json(text)
            return len(changes), self._trim_if_lowered(old_length)

        return await in_thread(work)
