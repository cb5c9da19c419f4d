"""The code stays ruff-clean everywhere and mypy-clean (strict) where pyproject says, and keeps its layers: the
import contracts of ``scripts/import_graph.py`` (every import counted, lazy and TYPE_CHECKING ones too)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import import_graph, package_graph
from scripts.import_graph import ImportGraph

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    local = Path(sys.executable).with_name(name)
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (it is in the test extra)")
    return found


def test_ruff_clean() -> None:
    result = subprocess.run([_tool("ruff"), "check", "--output-format", "concise", "cts_desktop", "tests", "bench"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_where_configured() -> None:
    result = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return import_graph.read_graph()


def test_imports_point_down_the_layers(graph: ImportGraph) -> None:
    """ui → application → services → engine → backtest/monitoring → storage → exchanges → events/domain: no
    import points up, none goes sideways between independent packages of one layer."""
    assert import_graph.layer_violations(graph) == []


def test_ui_imports_only_the_application_layer_domain_and_events(graph: ImportGraph) -> None:
    assert import_graph.ui_violations(graph) == []


def test_events_and_domain_are_at_the_bottom(graph: ImportGraph) -> None:
    """events/ imports nothing of the project; domain/ only itself, numpy and numba (no asyncio, no I/O stack)."""
    assert import_graph.bottom_violations(graph) == []


def test_no_qt_below_ui(graph: ImportGraph) -> None:
    assert import_graph.qt_violations(graph) == []


def test_no_import_cycles(graph: ImportGraph) -> None:
    """Not even one hidden by a lazy or a TYPE_CHECKING import."""
    assert import_graph.cycles(graph) == []


def test_the_package_graph_in_the_docs_is_current() -> None:
    """docs/architecture.md shows the packages and their imports as the code has them."""
    assert package_graph.main(["--check"]) == 0, "run: python scripts/package_graph.py"


def test_the_contracts_catch_what_they_guard(graph: ImportGraph) -> None:
    """The checks themselves: an upward import, a cycle through a lazy import, Qt in storage and a UI module
    reaching into storage are each reported."""
    edges = {module: set(targets) for module, targets in graph.edges.items()}
    external = {module: set(names) for module, names in graph.external.items()}
    broken = ImportGraph(graph.modules, edges, external)
    broken.add("cts_desktop.storage.db", "cts_desktop.ui.widgets")
    broken.add("cts_desktop.events.bus", "cts_desktop.engine.coordinator")
    broken.add("cts_desktop.ui.tabs.dashboard", "cts_desktop.storage.models")
    broken.external["cts_desktop.storage.writer"].add("PySide6")
    assert "cts_desktop.storage.db imports cts_desktop.ui.widgets (up: cts_desktop.storage → cts_desktop.ui)" in \
        import_graph.layer_violations(broken)
    assert any("cts_desktop.events.bus" in cycle for cycle in import_graph.cycles(broken))
    assert any(problem.startswith("cts_desktop.events.bus imports")
               for problem in import_graph.bottom_violations(broken))
    assert any(problem.startswith("cts_desktop.ui.tabs.dashboard imports cts_desktop.storage.models")
               for problem in import_graph.ui_violations(broken))
    assert import_graph.qt_violations(broken) == [
        "cts_desktop.storage.writer imports PySide6 (Qt only in cts_desktop.ui, cts_desktop.app)"]


WAITING_HELPERS = ROOT / "tests" / "helpers" / "waiting.py"


def fixed_sleeps(source: str) -> list[tuple[int, str]]:
    """``time.sleep(...)``, ``qtbot.wait(...)``/``qWait`` and ``asyncio.sleep(<constant other than 0>)`` calls:
    waits for a fixed time (``asyncio.sleep(0)`` only yields to the loop)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        name = f"{owner.id}.{node.func.attr}" if isinstance(owner, ast.Name) else node.func.attr
        if name in ("time.sleep", "qtbot.wait", "QTest.qWait") or node.func.attr == "qWait":
            found.append((node.lineno, name))
        elif name == "asyncio.sleep":
            delay = node.args[0] if node.args else None
            if not (isinstance(delay, ast.Constant) and delay.value == 0):
                found.append((node.lineno, name))
    return found


def test_tests_wait_on_conditions_not_fixed_sleeps() -> None:
    """Outside the polling helpers of tests/helpers/waiting.py no test sleeps: it waits for what it needs."""
    offenders = [f"{path.relative_to(ROOT)}:{line} {name}"
                 for path in sorted((ROOT / "tests").rglob("*.py")) if path != WAITING_HELPERS
                 and "artifacts" not in path.parts
                 for line, name in fixed_sleeps(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_sleep_check_sees_every_form() -> None:
    source = ("import asyncio, time\nasync def t(qtbot):\n    time.sleep(1)\n    qtbot.wait(50)\n"
              "    await asyncio.sleep(0.4)\n    await asyncio.sleep(delay)\n    await asyncio.sleep(0)\n")
    assert fixed_sleeps(source) == [(3, "time.sleep"), (4, "qtbot.wait"), (5, "asyncio.sleep"), (6, "asyncio.sleep")]
