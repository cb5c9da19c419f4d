"""Dark and light themes that follow the OS colour scheme (Fusion style with a matching palette)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

_COMMON_QSS = """
#metricCard { border-radius: 8px; }
#metricTitle { font-size: 11px; text-transform: uppercase; opacity: 0.8; }
#metricValue { font-size: 22px; font-weight: 600; }
#warningBanner { background: #8a5a00; color: white; padding: 8px; border-radius: 6px; }
"""


def os_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication, theme: str = "system") -> str:
    """Apply ``dark``, ``light`` or ``system`` (follow the OS); returns the theme applied."""
    chosen = ("dark" if os_prefers_dark() else "light") if theme == "system" else theme
    app.setStyle("Fusion")
    palette = QPalette()
    if chosen == "dark":
        colours = {
            QPalette.ColorRole.Window: "#1f2329", QPalette.ColorRole.WindowText: "#e6e9ef",
            QPalette.ColorRole.Base: "#16191d", QPalette.ColorRole.AlternateBase: "#23272e",
            QPalette.ColorRole.Text: "#e6e9ef", QPalette.ColorRole.Button: "#2a2f37",
            QPalette.ColorRole.ButtonText: "#e6e9ef", QPalette.ColorRole.Highlight: "#3d7bd9",
            QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#2a2f37",
            QPalette.ColorRole.ToolTipText: "#e6e9ef", QPalette.ColorRole.PlaceholderText: "#8b93a1",
        }
        for role, value in colours.items():
            palette.setColor(role, QColor(value))
    else:
        palette = app.style().standardPalette()
    app.setPalette(palette)
    app.setStyleSheet(_COMMON_QSS)
    return chosen
