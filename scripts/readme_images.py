"""Regenerate the README's pictures (docs/images/) from the UI tests' screenshots (tests/artifacts/screenshots/).

Run the tests that take them first, then this script:

    QT_QPA_PLATFORM=offscreen python -m pytest tests/ui/test_first_run_guide.py tests/ui/test_main_window.py \
        tests/ui/test_connections_tab.py
    QT_QPA_PLATFORM=offscreen python scripts/readme_images.py

Each picture is scaled to at most 1100 px wide (smooth) and saved as PNG; a missing screenshot is named with the
test that takes it and the script exits with status 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "artifacts" / "screenshots"
TARGET = ROOT / "docs" / "images"
WIDTH = 1100

# README picture ← screenshot, and the test that takes it
PICTURES = {
    "first-run.png": ("first-run-guide-light.png", "tests/ui/test_first_run_guide.py"),
    "dashboard.png": ("dashboard-system.png", "tests/ui/test_main_window.py"),
    "connections.png": ("connections-light.png", "tests/ui/test_connections_tab.py"),
    "strategies.png": ("strategies-system.png", "tests/ui/test_main_window.py"),
    "monitoring.png": ("monitoring-system.png", "tests/ui/test_main_window.py"),
}


def main() -> int:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    TARGET.mkdir(parents=True, exist_ok=True)
    missing = []
    for picture, (shot, test) in PICTURES.items():
        image = QImage(str(SOURCE / shot))
        if image.isNull():
            missing.append(f"{shot} (run {test})")
            continue
        if image.width() > WIDTH:
            image = image.scaledToWidth(WIDTH, Qt.TransformationMode.SmoothTransformation)
        if not image.save(str(TARGET / picture)):
            missing.append(f"{picture}: could not be written")
            continue
        print(f"{TARGET.relative_to(ROOT) / picture} ← {shot}")
    for line in missing:
        print("missing:", line, file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
