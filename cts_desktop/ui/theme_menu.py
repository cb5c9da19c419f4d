"""View › Theme: System / Light / Dark, one checked; the choice is remembered and applied at once."""

from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QApplication, QMenu

from cts_desktop.ui.theme import THEME_CHOICES, choose_theme, theme_choice


def add_theme_menu(view: QMenu) -> dict[str, QAction]:
    """Add the Theme submenu to ``view``; returns its actions by choice (``system``, ``light``, ``dark``)."""
    menu = view.addMenu("&Theme")
    group = QActionGroup(menu)
    group.setExclusive(True)
    current = theme_choice()
    actions: dict[str, QAction] = {}
    for choice, label in THEME_CHOICES:
        action = menu.addAction(label)
        action.setCheckable(True)
        action.setChecked(choice == current)
        action.setStatusTip("Follow the desktop's dark/light setting" if choice == "system" else
                            f"Always the {label.lower()} theme")
        group.addAction(action)
        action.triggered.connect(lambda _checked=False, c=choice: _choose(c))
        actions[choice] = action
    return actions


def _choose(choice: str) -> None:
    app = QApplication.instance()
    if isinstance(app, QApplication):
        choose_theme(app, choice)
