"""Monitoring tab on real services over 100k seeded log records (offscreen): every number shown equals a direct
query of the database; the log viewer pages, filters, shows details and exports; health, restart history and
alerts with acknowledge work; screenshots are saved."""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication
from sqlalchemy import text

from cts_desktop.app import GuiApp, create_qapp
from cts_desktop.application.application import Application
from cts_desktop.monitoring import health as health_mod
from cts_desktop.services import Services
from cts_desktop.storage import models as m
from cts_desktop.ui import tasks
from cts_desktop.ui.tabs.monitoring import MonitoringTab
from cts_desktop.ui.theme import apply_theme
from tests.helpers.waiting import until
from tests.integration.monitoring.seed_logs import seed_logs
from tests.ui.conftest import save_screenshot

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])

HOUR = 3_600_000


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file with 100k log records, copied for each test (seeding once saves seconds)."""
    from cts_desktop.storage.db import Database, sqlite_url

    path = tmp_path_factory.mktemp("seeded") / "cts.sqlite3"
    db = Database(sqlite_url(path))
    db.migrate()
    seed_logs(db, 100_000, int(time.time() * 1000))
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture
def services(data_dir: Path, seeded_file: Path) -> Iterator[Services]:
    """Real services whose database already holds the 100k seeded records."""
    import shutil

    from cts_desktop.services import AppOptions

    target = data_dir / "data" / "cts.sqlite3"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(seeded_file, target)
    svc = Services(AppOptions(data_dir=data_dir, console_log=False, log_level="debug"))
    try:
        yield svc
    finally:
        svc.close()


async def seeded_tab(services: Services) -> MonitoringTab:
    create_qapp()
    services.start(asyncio.get_running_loop())
    await services.alert_monitor.settle()  # its first round (the seeded error burst) is logged before we count
    assert services.writer.flush(10)  # the app's own start-up records are in the table before we count
    tab = MonitoringTab(Application(services).monitoring)
    tab.resize(1366, 720)
    return tab


def sql(services: Services, query: str, **params: object) -> list[tuple[object, ...]]:
    with services.db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(query), params)]


def cells(table: object, column: int) -> list[str]:
    return table.column_texts(column)  # type: ignore[attr-defined]


async def test_overview_numbers_equal_direct_database_queries(services: Services) -> None:
    tab = await seeded_tab(services)
    await tab.refresh(force=True)
    data = tab.overview.data
    assert data is not None
    now, since = data.now_ms, data.now_ms - 24 * HOUR
    window = "ts_ms >= :a AND ts_ms <= :b"
    (total,), = sql(services, f"SELECT COUNT(*) FROM logs WHERE {window}", a=since, b=now)
    (errors,), = sql(services, f"SELECT COUNT(*) FROM logs WHERE {window} AND levelno >= 40", a=since, b=now)
    (warnings,), = sql(services, f"SELECT COUNT(*) FROM logs WHERE {window} AND levelno = 30", a=since, b=now)
    (critical,), = sql(services, "SELECT COUNT(*) FROM logs WHERE ts_ms >= :a AND levelno >= 50", a=now - HOUR)
    cards = tab.overview.cards
    assert total > 40_000 and cards["records"].value.text() == f"{total:,}"
    assert cards["records"].detail.text() == f"{warnings:,} warnings"
    assert cards["errors"].value.text() == f"{errors:,}"
    assert cards["critical"].value.text() == f"{critical:,}"
    # by category: records and errors per category
    by_category = {c: (n, e) for c, n, e in sql(
        services, f"SELECT category, COUNT(*), SUM(CASE WHEN levelno >= 40 THEN 1 ELSE 0 END) FROM logs "
                  f"WHERE {window} GROUP BY category", a=since, b=now)}
    shown = dict(zip(cells(tab.overview.by_category, 0), zip(cells(tab.overview.by_category, 1),
                                                               cells(tab.overview.by_category, 2), strict=True),
                     strict=True))
    assert shown == {c: (f"{n:,}", f"{e:,}") for c, (n, e) in by_category.items()}
    levels = dict(sql(services, f"SELECT level, COUNT(*) FROM logs WHERE {window} GROUP BY level", a=since, b=now))
    assert dict(zip(cells(tab.overview.by_level, 0), cells(tab.overview.by_level, 1), strict=True)) == {
        level: f"{n:,}" for level, n in levels.items()
    }
    # the chart's bars are the hourly error counts
    chart = tab.overview.chart
    assert chart is not None
    start = (now // HOUR - 23) * HOUR
    per_hour = dict(sql(services, "SELECT (ts_ms - :s) / :h, COUNT(*) FROM logs WHERE levelno >= 40 AND "
                                  "ts_ms >= :s AND ts_ms <= :b GROUP BY (ts_ms - :s) / :h", s=start, h=HOUR, b=now))
    heights = list(chart.errors.opts["height"])  # type: ignore[attr-defined]
    assert heights == [per_hour.get(i, 0) for i in range(24)]
    # top errors and criticals of the last hour
    top = sql(services, f"SELECT COUNT(*) AS n, message FROM logs WHERE {window} AND levelno >= 40 "
                        f"GROUP BY message ORDER BY n DESC, MAX(ts_ms) DESC LIMIT 10", a=since, b=now)
    assert list(zip(cells(tab.overview.top_errors, 0), cells(tab.overview.top_errors, 2), strict=True)) == [
        (f"{n:,}", msg) for n, msg in top
    ]
    crit = sql(services, "SELECT message FROM logs WHERE levelno >= 50 AND ts_ms >= :a "
                         "ORDER BY ts_ms DESC, id DESC LIMIT 100", a=now - HOUR)
    assert cells(tab.overview.critical, 3) == [r[0] for r in crit]
    # the activity timeline: engine, connection, exchange and toast records, newest first
    activity = sql(services, "SELECT message, category FROM logs WHERE category IN ('engine', 'connection', "
                             "'exchange', 'toast') ORDER BY ts_ms DESC, id DESC LIMIT 200")
    assert list(zip(cells(tab.table, 4), cells(tab.table, 2), strict=True)) == activity
    # a second refresh within the throttle window reads nothing new; a forced one does
    stamp = tab.updated.text()
    await tab.refresh()
    assert tab.overview.data is data and tab.updated.text() == stamp
    await tab.refresh(force=True)
    assert tab.overview.data is not data


async def test_log_viewer_pages_filters_details_and_exports(services: Services, tmp_path: Path) -> None:
    tab = await seeded_tab(services)
    viewer = tab.logs
    tab.pages.setCurrentWidget(viewer)
    await tasks.wait_all()
    started = time.perf_counter()
    await viewer.reload()
    first_page_s = time.perf_counter() - started
    (total,), = sql(services, "SELECT COUNT(*) FROM logs")
    assert total >= 100_000
    assert viewer.model.rowCount() == 200
    assert viewer.count.text().startswith(f"{total:,} matching records · 200 loaded")
    assert first_page_s < 2.0, f"first page and count took {first_page_s:.2f} s"
    # scrolling to the end asks the model for more: the next page continues exactly where the first ended
    assert viewer.model.canFetchMore()
    viewer.view.scrollToBottom()
    viewer.model.fetchMore()
    await tasks.wait_all()
    expected = [r[0] for r in sql(services, "SELECT id FROM logs ORDER BY ts_ms DESC, id DESC LIMIT 400")]
    assert viewer.model.rowCount() >= 400
    assert [e.id for e in viewer.model.rows[:400]] == expected
    # the connection filter lists what the logs hold
    connections = [viewer.connection.itemText(i) for i in range(viewer.connection.count())]
    assert connections == ["All connections", "bingx-x01", "bybit-x03", "replay"]
    # filters: errors and above, category exchange, connection replay, text
    viewer.level.setCurrentIndex(viewer.level.findData(logging.ERROR))
    viewer.category.setCurrentIndex(viewer.category.findData("exchange"))
    viewer.connection.setCurrentIndex(viewer.connection.findData("replay"))
    viewer.text.setText("Code 104")
    await until(lambda: not viewer.debounce.isActive(), 5, "the debounced text filter applied")
    await tasks.wait_all()
    where = ("levelno >= 40 AND category = 'exchange' AND connection_id = 'replay' "
             "AND LOWER(message) LIKE '%code 104%'")
    (count,), = sql(services, f"SELECT COUNT(*) FROM logs WHERE {where}")
    matching = [r[0] for r in sql(services, f"SELECT id FROM logs WHERE {where} ORDER BY ts_ms DESC, id DESC")]
    assert 0 < count < 200
    assert viewer.total == count and viewer.count.text().startswith(f"{count:,} matching records")
    assert [e.id for e in viewer.model.rows] == matching
    assert not viewer.model.canFetchMore()
    # details: the whole record with its stack trace
    row = next(i for i, e in enumerate(viewer.model.rows) if e.exc_text)
    viewer.view.selectRow(row)
    details = viewer.details.toPlainText()
    assert "Stack trace:" in details and "ZeroDivisionError: division by zero" in details
    assert "Connection: replay" in details
    # export what the filter shows, through the (non-blocking) file dialog
    for fmt in ("csv", "json"):
        target = tmp_path / f"logs.{fmt}"
        viewer.choose_export(fmt)
        assert viewer.file_dialog is not None and viewer.file_dialog.isVisible()
        viewer.file_dialog.fileSelected.emit(str(target))
        viewer.file_dialog.close()
        await tasks.wait_all()
        assert viewer.count.text() == f"Exported {count:,} records to {target}."
        if fmt == "csv":
            with target.open(encoding="utf-8", newline="") as source:
                records = list(csv.DictReader(source))
            assert [int(r["id"]) for r in records] == matching
        else:
            records = json.loads(target.read_text(encoding="utf-8"))["records"]
            assert [r["id"] for r in records] == matching
        assert {r["connection_id"] for r in records} == {"replay"}
        assert all("code 104" in r["message"].lower() for r in records)
    # a filter change while a page is loading drops the stale page
    viewer.text.setText("")
    viewer.level.setCurrentIndex(0)
    viewer.category.setCurrentIndex(0)
    viewer.connection.setCurrentIndex(0)
    await until(lambda: not viewer.debounce.isActive(), 5, "the debounced text filter applied")
    await tasks.wait_all()
    assert viewer.total == total and viewer.model.rowCount() >= 200  # the view may ask for a page more
    assert [e.id for e in viewer.model.rows[:400]] == expected
    # "Refresh now" on the Logs page reloads the viewer: a new record appears on top
    logging.getLogger("cts.engine.test").warning("a fresh engine warning")
    assert services.writer.flush(10)
    await tab.refresh(force=True)
    assert viewer.model.rows[0].message == "a fresh engine warning"  # a refresh raises no alert (nothing logged)
    assert viewer.total is not None and viewer.total >= total + 1
    tab.resize(1366, 720)
    viewer.view.selectRow(3)
    save_screenshot(tab, "monitoring-logs-light")


async def test_health_restarts_alerts_and_screenshot(services: Services) -> None:
    create_qapp()
    now = datetime.now(UTC)
    with services.db.session() as s:
        s.add(m.Connection(id="c1", name="Bybit X03", exchange="bybit", is_enabled=True, is_active=True,
                           last_test_ok=True))
        s.flush()
        s.add(m.EngineState(connection_id="*", status="running", updated_at=now))
        s.add(m.EngineState(connection_id="c1", status="error", last_error="ticker loop crashed", updated_at=now,
                            health={"main": {"status": "healthy", "detail": "cycle 9 ms"}, "orders": "unhealthy"}))
    health_mod.log_restart("c1", 1, 3, "unhealthy for 3 checks", "restarted")
    health_mod.log_restart("c1", 2, 3, "crashed", "failed")
    gui = GuiApp(services)
    services.start(asyncio.get_running_loop())
    await services.alert_monitor.settle()  # the services raised the alerts; the tab only shows them
    assert services.writer.flush(10)
    window = gui.window
    window.resize(1366, 768)
    gui.show()
    window.tabs.setCurrentWidget(window.monitoring)
    tab = window.monitoring
    await window.refresh_all()
    await tab.refresh(force=True)
    chart = tab.overview.chart
    assert chart is not None
    colours = {}
    for theme in ("dark", "light"):  # the chart follows a theme change of the running app
        apply_theme(QApplication.instance(), theme)  # type: ignore[arg-type]
        palette = (window.palette().color(QPalette.ColorRole.Base).name(),
                   window.palette().color(QPalette.ColorRole.Text).name())
        await until(lambda p=palette: chart.colours == p, 5, f"the chart in the {theme} colours")  # type: ignore[attr-defined]
        colours[theme] = chart.colours  # type: ignore[attr-defined]
        save_screenshot(window, f"monitoring-{theme}")
    assert colours["dark"] != colours["light"]
    # health: every known service, the engine rows and the restart history
    tab.pages.setCurrentWidget(tab.health)
    await tasks.wait_all()
    await tab.health.refresh()
    kinds = dict(zip(cells(tab.health.table, 1), cells(tab.health.table, 2), strict=True))
    assert kinds["sqlite"] == "ok" and kinds["batched writer"] == "ok"
    assert {"app CPU", "app memory", "CPU", "memory"} <= set(kinds)
    assert kinds["coordinator"] == "ok" and kinds["Bybit X03"] == "down"
    assert kinds["Bybit X03 › main"] == "ok" and kinds["Bybit X03 › orders"] == "down"
    assert cells(tab.health.restarts, 4) == ["failed", "restarted"]
    assert cells(tab.health.restarts, 2) == ["2/3", "1/3"]
    save_screenshot(window, "monitoring-health-light")
    # alerts: the seeded burst of errors and the engine in error, acknowledged one by one
    tab.pages.setCurrentWidget(tab.alerts)
    await tasks.wait_all()
    await tab.alerts.refresh()
    open_rules = sorted(cells(tab.alerts.table, 2))
    assert open_rules == ["engine_error", "error_burst"]
    stored = sql(services, "SELECT source FROM alerts WHERE acknowledged_at IS NULL ORDER BY source")
    assert [r[0] for r in stored] == open_rules
    row = cells(tab.alerts.table, 2).index("error_burst")
    tab.alerts.table.selectRow(row)
    assert await tab.alerts.acknowledge_selected() == 1
    assert cells(tab.alerts.table, 2) == ["engine_error"]
    assert [r[0] for r in sql(services, "SELECT source FROM alerts WHERE acknowledged_at IS NOT NULL")] == [
        "error_burst"
    ]
    assert await tab.alerts.acknowledge_every() == 1
    assert tab.alerts.summary.text() == "No open alerts."
    tab.alerts.show_acknowledged.setChecked(True)
    await tasks.wait_all()
    assert sorted(cells(tab.alerts.table, 2)) == ["engine_error", "error_burst"]
    assert all(cells(tab.alerts.table, 4))  # both show when they were acknowledged
    (acked_at,), = sql(services, "SELECT MIN(acknowledged_at) FROM alerts")
    assert acked_at is not None
    assert datetime.now(UTC) - now < timedelta(minutes=5)
    await gui.shutdown()
