"""The mouse wheel scrolls the page, never a value under the pointer.

A spin box, slider or combo box changes its value on the wheel only while it has keyboard focus (clicked or tabbed
into). Without focus the wheel event goes on to the page around it, so scrolling a long settings page cannot
change (and save) whatever control passes under the pointer. Such controls never take focus from the wheel alone.
One application-wide event filter, installed by ``create_qapp``.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QAbstractSlider, QAbstractSpinBox, QApplication, QComboBox, QScrollBar, QWidget

_GUARDED = (QAbstractSpinBox, QAbstractSlider, QComboBox)
_WHEEL, _POLISH = QEvent.Type.Wheel, QEvent.Type.Polish


def is_guarded(widget: QObject) -> bool:
    """A value control the wheel must not change without focus (a scroll bar scrolls: it is not one)."""
    return isinstance(widget, _GUARDED) and not isinstance(widget, QScrollBar)


class WheelGuard(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == _POLISH:
            if is_guarded(watched):
                widget: QWidget = watched  # type: ignore[assignment]
                if widget.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel alone never focuses it
            return False
        if kind == _WHEEL and is_guarded(watched) and not watched.hasFocus():  # type: ignore[attr-defined]
            pass_to_parents(watched, event)  # type: ignore[arg-type]
            event.accept()  # handled here: Qt neither gives it to the control nor propagates it again
            return True
        return False


def pass_to_parents(widget: QWidget, event: QWheelEvent) -> None:
    """Offer the wheel event to the parents, innermost first, until one takes it (the page's scroll area does):
    what Qt does with an ignored wheel event, done here so the control never sees it."""
    parent = widget.parentWidget()
    position = event.position()
    source: QWidget = widget
    while parent is not None:
        position = QPointF(source.mapTo(parent, position.toPoint()))
        copy = QWheelEvent(position, event.globalPosition(), event.pixelDelta(), event.angleDelta(),
                           event.buttons(), event.modifiers(), event.phase(), event.inverted(), event.source())
        copy.ignore()
        QApplication.sendEvent(parent, copy)
        if copy.isAccepted() or parent.isWindow():
            return
        source, parent = parent, parent.parentWidget()


def install_wheel_guard(app: QApplication) -> WheelGuard:
    """Install the guard once on ``app`` (kept as the app's child); returns it."""
    existing = app.findChild(WheelGuard)
    if isinstance(existing, WheelGuard):
        return existing
    guard = WheelGuard(app)
    app.installEventFilter(guard)
    return guard
