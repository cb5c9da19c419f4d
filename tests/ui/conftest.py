"""UI fixtures: real services on a temporary data folder, and a screenshot helper."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import shiboken6
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication, QWidget

from cts_desktop.services import AppOptions, Services
from cts_desktop.ui.table import keep_state_in

if TYPE_CHECKING:
    from cts_desktop.app import GuiApp

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"


def _new_parentless_widgets(before: set[int]) -> list[QWidget]:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return []
    return [w for w in app.topLevelWidgets()
            if w.parent() is None and shiboken6.getCppPointer(w)[0] not in before]


def _delete_now(widgets: list[QWidget]) -> None:
    for widget in widgets:
        widget.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture(autouse=True)
def _delete_widgets_left_by_the_test() -> Iterator[None]:
    """Delete the top-level widgets a test created (windows, tabs, dialogs), after its fixtures shut down.

    They would otherwise live on in the one QApplication: GuiApp windows are kept alive by their own signal
    connections (lambdas holding ``self``), and every later ``apply_theme`` (each ``create_qapp``) re-polished all
    of them, so UI tests got slower the later they ran (a 1 s tray test took 12 s at the end of tests/ui).

    Order matters. Deleting every new top-level widget in one batch segfaulted (in ~QGraphicsScene, deleting
    the pyqtgraph items of a window's chart) when Qt's own parentless helper widgets (created in C++, empty, not
    by Python) were deleted before the window whose chart still used them: parentless is not unowned. So the
    project's own top-level widgets (windows, tabs, dialogs) go first, with everything they own; then the
    parentless widgets that Python created and nothing owns any more (pyqtgraph's plot menus and control forms,
    plain Qt widgets a test made). Widgets Qt created itself are left to Qt.

    In between, Python's collector runs here, on the GUI thread: deleting a window frees the Python cycles its
    connections kept alive, some holding QObjects that no widget owns (table models, pyqtgraph's objects). Left
    to the automatic collector they are freed on whatever thread allocates next (the log writer, an executor
    thread), and Qt objects must die on their own thread: that is how closed qasync loops' timer objects gave
    "QObject::~QObject: Timers cannot be stopped from another thread" and then a segfault in a later test's
    processEvents (those are now deleted when the loop closes, see tests/conftest.py).
    """
    app = QApplication.instance()
    before = {shiboken6.getCppPointer(w)[0] for w in app.topLevelWidgets()} if isinstance(app, QApplication) \
        else set()
    yield
    own = [w for w in _new_parentless_widgets(before)
           if type(w).__module__.partition(".")[0] in ("cts_desktop", "tests")]
    _delete_now(own)
    gc.collect()
    _delete_now([w for w in _new_parentless_widgets(before) if shiboken6.createdByPython(w)])


def _table_state_folder(data_dir: Path) -> Path:
    return data_dir.parent / "table-state"


@pytest.fixture(autouse=True)
def _table_state_in_tmp(data_dir: Path) -> None:
    """The tables' column state goes to this test's folder, never the user's config (nor another test's)."""
    keep_state_in(_table_state_folder(data_dir))


@pytest.fixture(autouse=True)
def _not_the_first_start(data_dir: Path, _table_state_in_tmp: None) -> None:
    """A window opened by a test is not the user's first start: the first-run guide was dismissed before (in the
    preferences of the test's data folder, where the window looks), so it covers neither the view under test nor
    its screenshot. The guide's own tests ask for :func:`first_start`."""
    from cts_desktop.paths import resolve_paths
    from cts_desktop.ui.first_run import mark_guide_dismissed

    keep_state_in(resolve_paths(data_dir).config)
    mark_guide_dismissed()
    keep_state_in(_table_state_folder(data_dir))


@pytest.fixture
def first_start(data_dir: Path, _not_the_first_start: None) -> None:
    """The user's very first start: the first-run guide was never dismissed."""
    from cts_desktop.paths import resolve_paths
    from cts_desktop.ui.first_run import forget_guide_dismissed

    keep_state_in(resolve_paths(data_dir).config)
    forget_guide_dismissed()
    keep_state_in(_table_state_folder(data_dir))


@pytest.fixture
def services(data_dir: Path) -> Iterator[Services]:
    svc = Services(AppOptions(data_dir=data_dir, console_log=False, log_level="debug"))
    try:
        yield svc
    finally:
        svc.close()


@contextlib.contextmanager
def replay_services(data_dir: Path, settings: Mapping[str, object] | None = None) -> Iterator[Services]:
    """Services whose Replay market runs at ×60 (an engine trades within a test's seconds), ``settings`` stored
    before anything starts."""
    svc = Services(AppOptions(data_dir=data_dir, console_log=False, log_level="info", replay_speed=60.0))
    try:
        if settings:
            svc.settings.set_many(settings)
        yield svc
    finally:
        svc.close()


def open_window(services: Services) -> GuiApp:
    """The app's main window over ``services`` (started on the running loop), shown at 1366×768."""
    import asyncio

    from cts_desktop.app import GuiApp, create_qapp

    create_qapp()
    gui = GuiApp(services)
    services.start(asyncio.get_running_loop())
    gui.window.resize(1366, 768)
    gui.show()
    return gui


def save_screenshot(widget: object, name: str) -> Path:
    """Save ``widget.grab()`` to tests/artifacts/screenshots/<name>.png (git-ignored) and return the path. The
    events already posted (a theme's style and palette changes, layout requests) are delivered first, so the
    picture shows the state the test set up."""
    QApplication.sendPostedEvents()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pixmap = widget.grab()  # type: ignore[attr-defined]
    assert pixmap.save(str(path)), f"could not save {path}"
    return path


@pytest.fixture
def chart(qtbot):  # type: ignore[no-untyped-def]
    """A candle chart of its own (dark theme, 1000 × 520, shown) for the chart tests."""
    from cts_desktop.ui.charts.chart import CandleChart

    widget = CandleChart("dark")
    qtbot.addWidget(widget)
    widget.resize(1000, 520)
    widget.show()
    return widget
