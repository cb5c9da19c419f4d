"""UI fixtures: real services on a temporary data folder, and a screenshot helper."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cts_desktop.services import AppOptions, Services

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"


@pytest.fixture
def services(data_dir: Path) -> Iterator[Services]:
    svc = Services(AppOptions(data_dir=data_dir, console_log=False, log_level="debug"))
    try:
        yield svc
    finally:
        svc.close()


def save_screenshot(widget: object, name: str) -> Path:
    """Save ``widget.grab()`` to tests/artifacts/screenshots/<name>.png (git-ignored) and return the path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pixmap = widget.grab()  # type: ignore[attr-defined]
    assert pixmap.save(str(path)), f"could not save {path}"
    return path
