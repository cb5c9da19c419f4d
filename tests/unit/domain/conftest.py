"""Real recorded candles for the domain tests (compact slices in tests/data, sources in its README)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cts_desktop.domain.bars import Bars

DATA = Path(__file__).resolve().parents[2] / "data"


def load_candles(name: str) -> np.ndarray:
    """Columns: timestamp_ms, open, high, low, close, volume."""
    return np.loadtxt(DATA / name, delimiter=",", skiprows=1, dtype=np.float64)


@pytest.fixture(scope="session")
def btc5m() -> np.ndarray:
    return load_candles("bybit_BTCUSDT-PERP_5m_20251006.csv")


@pytest.fixture(scope="session")
def btc5m_bars(btc5m: np.ndarray) -> Bars:
    return Bars.from_columns(btc5m[:, 0], btc5m[:, 1], btc5m[:, 2], btc5m[:, 3], btc5m[:, 4])


@pytest.fixture(scope="session")
def btc1m() -> np.ndarray:
    return load_candles("bybit_BTCUSDT-PERP_1m_20221213.csv")
