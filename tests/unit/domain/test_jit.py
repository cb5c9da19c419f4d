"""The numba cache goes where the application says, and a kernel without a source file still compiles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cts_desktop.domain.jit import kernel

ROOT = Path(__file__).resolve().parents[3]


def test_cache_goes_to_the_configured_folder(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from cts_desktop.domain.jit import configure_cache\n"
        f"configure_cache({str(tmp_path)!r})\n"
        "from cts_desktop.domain.exits import level\n"
        "assert level(100.0, 0.01) == 101.0\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=300)
    cached = list(tmp_path.rglob("*.nbi"))
    assert cached and all("exits" in p.name for p in cached)


def test_kernel_without_source_file_compiles_uncached() -> None:
    namespace: dict[str, object] = {}
    exec(compile("def twice(x):\n    return 2 * x\n", "/nonexistent/bundle/module.py", "exec"), namespace)
    compiled = kernel()(namespace["twice"])  # type: ignore[arg-type]
    assert compiled(21) == 42
