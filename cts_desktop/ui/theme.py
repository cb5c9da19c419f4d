"""Dark and light themes that follow the OS colour scheme (Fusion style with a matching palette and stylesheet).

``apply_theme`` sets the palette and the stylesheet and remembers the theme on the application (``current_theme``);
``follow_os`` re-applies it when the OS switches between dark and light and tells listeners (the chart repaints
its own colours, which a palette does not reach).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

_COMMON_QSS = """
#metricCard { border-radius: 8px; }
#metricTitle { font-size: 10px; text-transform: uppercase; }
#metricValue { font-size: 19px; font-weight: 600; }
#metricValue[sign="up"] { color: #2e9d57; }
#metricValue[sign="down"] { color: #d64541; }
#metricDetail { font-size: 11px; }
#factValue { font-size: 13px; font-weight: 600; }
#panelTitle { font-size: 13px; font-weight: 600; }
#warningBanner { background: #8a5a00; color: white; padding: 6px 8px; border-radius: 6px; }
#stateBadge { border-radius: 9px; padding: 2px 10px; font-weight: 700; font-size: 11px; color: white;
              background: #7a8391; min-width: 70px; }
#stateBadge[state="running"] { background: #2e9d57; }
#stateBadge[state="paused"] { background: #c98f0a; }
#stateBadge[state="starting"] { background: #3d7bd9; }
#stateBadge[state="stopping"] { background: #3d7bd9; }
#stateBadge[state="error"] { background: #d64541; }
#dangerButton { color: white; background: #b3261e; border: 1px solid #8c1d18; border-radius: 4px;
                padding: 4px 8px; }
#dangerButton:disabled { background: #a56b67; }
#ticker { font-size: 12px; }
#chartInfo { font-family: monospace; font-size: 11px; }
"""

_DARK_QSS = """
#metricCard, #panel, #connectionCard { background: #262b33; border: 1px solid #323842; border-radius: 8px; }
#metricTitle, #metricDetail { color: #9aa3b2; }
"""

_LIGHT_QSS = """
#metricCard, #panel, #connectionCard { background: #ffffff; border: 1px solid #d5d9e0; border-radius: 8px; }
#metricTitle, #metricDetail { color: #5b6472; }
"""

_DARK = {
    QPalette.ColorRole.Window: "#1f2329", QPalette.ColorRole.WindowText: "#e6e9ef",
    QPalette.ColorRole.Base: "#16191d", QPalette.ColorRole.AlternateBase: "#23272e",
    QPalette.ColorRole.Text: "#e6e9ef", QPalette.ColorRole.Button: "#2a2f37",
    QPalette.ColorRole.ButtonText: "#e6e9ef", QPalette.ColorRole.Highlight: "#3d7bd9",
    QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#2a2f37",
    QPalette.ColorRole.ToolTipText: "#e6e9ef", QPalette.ColorRole.PlaceholderText: "#8b93a1",
    QPalette.ColorRole.Mid: "#3a404a", QPalette.ColorRole.Light: "#3a404a", QPalette.ColorRole.Dark: "#121417",
    QPalette.ColorRole.Link: "#6ea8ff", QPalette.ColorRole.BrightText: "#ff6b6b",
}
_LIGHT_WINDOW = "#f3f5f8"

_listeners: list[Callable[[str], None]] = []


def os_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def current_theme() -> str:
    """The theme last applied ("dark" or "light"; before any, what the OS prefers)."""
    app = QApplication.instance()
    value = app.property("ctsTheme") if app is not None else None
    return str(value) if value in ("dark", "light") else ("dark" if os_prefers_dark() else "light")


def apply_theme(app: QApplication, theme: str = "system") -> str:
    """Apply ``dark``, ``light`` or ``system`` (follow the OS); returns the theme applied."""
    chosen = ("dark" if os_prefers_dark() else "light") if theme == "system" else theme
    app.setStyle("Fusion")
    if chosen == "dark":
        palette = QPalette()
        for role, value in _DARK.items():
            palette.setColor(role, QColor(value))
        for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
            palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7280"))
    else:
        palette = app.style().standardPalette()
        palette.setColor(QPalette.ColorRole.Window, QColor(_LIGHT_WINDOW))
    app.setPalette(palette)
    app.setStyleSheet(_COMMON_QSS + (_DARK_QSS if chosen == "dark" else _LIGHT_QSS))
    app.setProperty("ctsTheme", chosen)
    for listener in list(_listeners):
        listener(chosen)
    return chosen


def on_theme_changed(listener: Callable[[str], None]) -> Callable[[], None]:
    """Call ``listener(theme)`` after every :func:`apply_theme`; returns the function that removes it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def follow_os(app: QApplication) -> None:
    """Re-apply the theme when the OS switches between dark and light (while View › Theme is System)."""
    QGuiApplication.styleHints().colorSchemeChanged.connect(
        lambda _scheme: apply_theme(app, "system") if theme_choice() == "system" else None)


THEME_CHOICES = (("system", "System"), ("light", "Light"), ("dark", "Dark"))


def _ui_settings() -> QSettings:
    """The window's own preferences (next to the tables' column state, in the app's config folder)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "cts-desktop", "ui")


def theme_choice() -> str:
    """The View › Theme choice remembered from the last session: ``system`` (the default), ``light`` or ``dark``."""
    value = _ui_settings().value("theme", "system")
    return str(value) if value in ("system", "light", "dark") else "system"


def choose_theme(app: QApplication, choice: str) -> str:
    """View › Theme: remember ``choice`` and apply it at once (every chart listening follows)."""
    if choice not in ("system", "light", "dark"):
        raise ValueError(f"unknown theme {choice!r}")
    settings = _ui_settings()
    settings.setValue("theme", choice)
    settings.sync()
    return apply_theme(app, choice)
