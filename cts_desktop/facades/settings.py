"""Settings tab: read, set, reset, apply as one transaction (trimming stored results when the position length is
lowered), import and export JSON."""

from __future__ import annotations

from cts_desktop.facades.base import FacadeBase, in_thread, logger, write_text


class SettingsFacade(FacadeBase):
    def settings_values(self) -> dict[str, object]:
        return self.services.settings.values()

    async def set_setting(self, key: str, value: object) -> object:
        return await in_thread(self.services.settings.set, key, value)

    async def reset_settings(self, keys: list[str]) -> None:
        await in_thread(self.services.settings.reset, keys)

    # --- settings tab ---

    async def settings_apply(self, values: dict[str, object]) -> tuple[dict[str, object], int]:
        """Validate and store ``values`` in one transaction (all or nothing; SettingsValidationErrors when any is
        invalid). When the position length was lowered, every configuration set is then trimmed to it (the UI
        confirmed that first). Returns the normalised values and the number of results trimmed."""
        services = self.services

        def work() -> tuple[dict[str, object], int]:
            store = services.settings
            old_length = int(store.get("system.position_length"))
            normalised = store.set_many(values)
            return normalised, self._trim_if_lowered(old_length)

        result: tuple[dict[str, object], int] = await in_thread(work)
        return result

    def _trim_if_lowered(self, old_length: int) -> int:
        from cts_desktop.storage.results import HistoryLimits, trim_all_sets

        store = self.services.settings
        length = int(store.get("system.position_length"))
        if length >= old_length:
            return 0
        limits = HistoryLimits(length, int(store.get("system.position_threshold_pct")))
        with self.services.db.session() as session:
            trimmed = trim_all_sets(session, limits)
        logger("cts.system.settings").info(
            "position length lowered from %d to %d: %d stored results trimmed", old_length, length, trimmed
        )
        return trimmed

    async def settings_trim_preview(self, length: int) -> int:
        """How many stored results a position length of ``length`` would remove."""
        from cts_desktop.storage.results import results_over_length

        return await self.services.db.run(lambda session: results_over_length(session, length))

    def settings_export_text(self) -> str:
        return self.services.settings.export_json()

    async def settings_export(self, path: str) -> None:
        text = self.services.settings.export_json()
        await in_thread(write_text, path, text)

    def settings_import_preview(self, text: str) -> dict[str, object]:
        """The values an import would apply, validated as a whole (SettingsImportError when it would be refused),
        without writing anything — so the UI can ask for the confirmations the changes need first."""
        import json

        from cts_desktop.domain import settings as schema
        from cts_desktop.storage.settings_store import EXPORT_FORMAT, SettingsImportError

        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SettingsImportError(f"not a JSON document: {exc.msg} at line {exc.lineno}") from None
        if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
            raise SettingsImportError("not a CTS Desktop settings export (missing format marker)")
        values = document.get("settings")
        if not isinstance(values, dict):
            raise SettingsImportError("the export has no 'settings' object")
        unknown = sorted(set(values) - set(schema.SETTINGS_BY_KEY))
        if unknown:
            raise SettingsImportError("unknown settings: " + ", ".join(unknown))
        try:
            return schema.validate_many(values, base=self.services.settings.values())
        except schema.SettingsValidationErrors as errors:
            raise SettingsImportError(
                "the import was refused, nothing was changed:\n" + "\n".join(str(e) for e in errors.errors)
            ) from None

    async def settings_import(self, text: str) -> tuple[int, int]:
        """Import an export document (validated as a whole first); returns (settings changed, results trimmed)."""
        services = self.services

        def work() -> tuple[int, int]:
            old_length = int(services.settings.get("system.position_length"))
            changes = services.settings.import_json(text)
            return len(changes), self._trim_if_lowered(old_length)

        result: tuple[int, int] = await in_thread(work)
        return result
