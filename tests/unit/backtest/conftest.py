"""Real candles for the backtest tests: Bybit BTCUSDT-perp 5 m, 2025-10-06 → 2025-10-09 (tests/data/README.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cts_desktop.domain.bars import Bars

DATA = Path(__file__).resolve().parents[2] / "data"


def load_bars(name: str = "bybit_BTCUSDT-PERP_5m_20251006.csv") -> Bars:
    raw = np.loadtxt(DATA / name, delimiter=",", skiprows=1)
    return Bars.from_columns(raw[:, 0], raw[:, 1], raw[:, 2], raw[:, 3], raw[:, 4])


@pytest.fixture(scope="session")
def bars() -> Bars:
    return load_bars()
