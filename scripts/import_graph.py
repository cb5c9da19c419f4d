"""The import graph of ``cts_desktop`` read from the source (ast, nothing imported) and the layer contracts it must
keep. Used by ``tests/test_static_checks.py`` (the contracts run with the suite) and ``scripts/package_graph.py``
(the picture in ``docs/architecture.md``).

Every import counts: module level, inside functions (lazy) and under ``if TYPE_CHECKING:`` — a cycle hidden by a
lazy import is still a cycle.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "cts_desktop"

# The layers as built, top to bottom. A module may import modules of its own component and of any lower layer;
# components sharing a layer are independent of each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cts_desktop.__main__",),
    ("cts_desktop.cli",),
    ("cts_desktop.app", "cts_desktop.headless", "cts_desktop.selftest"),  # entry points, composition roots
    ("cts_desktop.ui",),  # the only Qt package
    ("cts_desktop.application",),  # one part per screen, no Qt
    ("cts_desktop.startup",),
    ("cts_desktop.services",),  # the running services of one process
    ("cts_desktop.trading",),  # connections, Replay, coordinator: built lazily by services
    ("cts_desktop.engine",),
    ("cts_desktop.backtest", "cts_desktop.monitoring"),
    ("cts_desktop.storage",),
    ("cts_desktop.exchanges",),
    ("cts_desktop.system",),  # the process on its computer: instance lock, run marker, start at login
    ("cts_desktop.paths", "cts_desktop.events", "cts_desktop.domain"),
    ("cts_desktop",),  # the package's own name and version
)
UI_MAY_IMPORT = ("cts_desktop.ui", "cts_desktop.application", "cts_desktop.domain", "cts_desktop.events")
QT = frozenset({"PySide6", "shiboken6", "pyqtgraph", "qasync"})
QT_ALLOWED = ("cts_desktop.ui", "cts_desktop.app")
DOMAIN_THIRD_PARTY = frozenset({"numpy", "numba"})  # numba only through domain/jit.py's kernel decorator


@dataclass(slots=True)
class ImportGraph:
    modules: dict[str, Path]
    edges: dict[str, set[str]] = field(default_factory=dict)  # module → project modules it imports
    external: dict[str, set[str]] = field(default_factory=dict)  # module → top-level names of other packages

    def add(self, importer: str, imported: str) -> None:
        self.edges.setdefault(importer, set()).add(imported)


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def read_graph(root: Path = ROOT, package: str = PACKAGE) -> ImportGraph:
    modules = {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}
    graph = ImportGraph(modules, {m: set() for m in modules}, {m: set() for m in modules})
    for module, path in modules.items():
        for target in _imports(module, path):
            local = _resolve(target, modules)
            if local is not None:
                if local != module:
                    graph.add(module, local)
            elif not target.startswith(package + ".") and target != package:
                graph.external[module].add(target.partition(".")[0])
    return graph


def _imports(module: str, path: Path) -> Iterator[str]:
    """Every imported name of the module, wherever the import statement is."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            if base == "__future__":
                continue
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names if alias.name != "*")


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module ``name`` refers to (a submodule, or the module defining the imported name)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def component(module: str) -> tuple[int, str]:
    """(layer index, component) of a project module: the longest component name that prefixes it."""
    best: tuple[int, str] | None = None
    for rank, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and (best is None or len(name) > len(best[1])):
                best = (rank, name)
    if best is None:
        raise ValueError(f"{module} is in no layer: add it to LAYERS")
    return best


def _within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def layer_violations(graph: ImportGraph) -> list[str]:
    """Imports that point up, or sideways between independent components of one layer."""
    problems = []
    for importer, targets in sorted(graph.edges.items()):
        rank, own = component(importer)
        for target in sorted(targets):
            target_rank, other = component(target)
            if other != own and target_rank <= rank:
                way = "up" if target_rank < rank else "sideways"
                problems.append(f"{importer} imports {target} ({way}: {own} → {other})")
    return problems


def ui_violations(graph: ImportGraph) -> list[str]:
    return [f"{m} imports {t} (ui may import only {', '.join(UI_MAY_IMPORT)})"
            for m, targets in sorted(graph.edges.items()) if _within(m, ("cts_desktop.ui",))
            for t in sorted(targets) if not _within(t, UI_MAY_IMPORT)]


def bottom_violations(graph: ImportGraph) -> list[str]:
    """``events`` imports nothing of the project; ``domain`` nothing but itself, numpy and numba, and no asyncio."""
    problems = []
    for module, targets in sorted(graph.edges.items()):
        for bottom in ("cts_desktop.events", "cts_desktop.domain"):
            if _within(module, (bottom,)):
                problems += [f"{module} imports {t} ({bottom} imports nothing else of the project)"
                             for t in sorted(targets) if not _within(t, (bottom,))]
    for module, names in sorted(graph.external.items()):
        if _within(module, ("cts_desktop.domain",)):
            problems += [f"{module} imports {name} (domain: the standard library without asyncio, numpy, numba)"
                         for name in sorted(names) if name == "asyncio"
                         or (name not in sys.stdlib_module_names and name not in DOMAIN_THIRD_PARTY)]
    return problems


def qt_violations(graph: ImportGraph) -> list[str]:
    return [f"{m} imports {name} (Qt only in {', '.join(QT_ALLOWED)})"
            for m, names in sorted(graph.external.items()) if not _within(m, QT_ALLOWED)
            for name in sorted(names & QT)]


def cycles(graph: ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.edges):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph.edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                if len(members) > 1:
                    found.append(sorted(members))
    return found


def package_edges(graph: ImportGraph) -> dict[str, set[str]]:
    """Imports between components (the picture's arrows)."""
    out: dict[str, set[str]] = {}
    for importer, targets in graph.edges.items():
        own = component(importer)[1]
        for target in targets:
            other = component(target)[1]
            if other != own:
                out.setdefault(own, set()).add(other)
    return out
