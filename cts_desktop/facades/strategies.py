"""Strategies tab: the Strategies service, stored runs, preset types and their assignment."""

from __future__ import annotations

from typing import Any

from cts_desktop.facades.base import FacadeBase


class StrategiesFacade(FacadeBase):
    @property
    def strategies(self) -> Any:
        """The Strategies service (backtest.service.StrategiesService): history download, backtest and
        auto-optimal runs (worker thread, progress, cancel), stored runs, presets and their assignment."""
        service = getattr(self, "_strategies", None)
        if service is None:
            from cts_desktop.backtest.service import StrategiesService

            service = self._strategies = StrategiesService(self.services)
        return service

    async def strategy_runs(self) -> list[Any]:
        """Stored backtest and auto-optimal runs, newest first (backtest.store.BacktestRow)."""
        return list(await self.strategies.runs())

    async def preset_types(self) -> list[Any]:
        """Preset types (the five predefined ones are created on first call)."""
        return list(await self.strategies.preset_types())

    async def assign_preset(self, connection_id: str, preset_type_id: int | None) -> None:
        """Assign a preset type to a connection (None removes it); the Preset engine trades its sets."""
        await self.strategies.assign(connection_id, preset_type_id)
