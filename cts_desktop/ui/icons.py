"""App and tray icons drawn at run time (state colours), so the tray always reflects the engine state."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap

STATE_COLOURS = {
    "running": "#2e9d57",
    "paused": "#d9a21b",
    "stopped": "#7a8391",
    "error": "#d64541",
}

RESOURCES = Path(__file__).resolve().parents[2] / "resources"


def state_icon(state: str, size: int = 64) -> QIcon:
    colour = QColor(STATE_COLOURS.get(state, STATE_COLOURS["stopped"]))
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(colour)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(QRectF(2, 2, size - 4, size - 4), size * 0.22, size * 0.22)
    painter.setPen(QColor("white"))
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(size * 0.42))
    painter.setFont(font)
    painter.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, "CTS")
    painter.end()
    return QIcon(pixmap)


def app_icon() -> QIcon:
    svg = RESOURCES / "icons" / "cts-desktop.svg"
    if svg.exists():
        return QIcon(str(svg))
    return state_icon("stopped")
