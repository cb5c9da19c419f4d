"""Monitoring integration tests: the headless services run on a plain asyncio loop (no Qt), as in headless mode."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], object]]:
    return {"asyncio": asyncio.new_event_loop}
