"""The one place the domain compiles numeric kernels with numba.

Why a wrapper: numba's on-disk cache must live in a folder the application chooses (the user cache dir), and
inside a PyInstaller bundle a module's ``.py`` file may not exist, in which case ``cache=True`` makes numba raise
at import time. The application calls :func:`configure_cache` (user cache dir) *before* importing any kernel
module; kernels whose source file is missing compile in memory instead of failing. In a PyInstaller bundle the
cache works only when the packager collects ``cts_desktop.domain`` as plain source:
``Analysis(..., module_collection_mode={"cts_desktop.domain": "py"})`` (with ``"pyz+py"`` the code objects carry
relative file names and numba cannot cache). Verified with PyInstaller 6.22 one-folder builds: first start
compiles (~4.5 s for the exit simulator and the sweep), later starts load the cache (~0.4 s); numba keys the
cache of a frozen app on the executable's timestamp.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import numba
from numba import types
from numba.core import config as numba_config
from numba.extending import intrinsic

F = TypeVar("F", bound=Callable[..., Any])

CACHE_ENV = "NUMBA_CACHE_DIR"


def cache_env(folder: str | Path) -> dict[str, str]:
    """Environment entries for child processes (workers) that must share the application's cache."""
    return {CACHE_ENV: str(folder)}


def configure_cache(folder: str | Path) -> None:
    """Point numba's cache at ``folder`` (the user cache dir). Call it before importing any kernel module
    (exits, sweep, book, indicators, steps): numba picks a function's cache location when it is decorated."""
    os.environ[CACHE_ENV] = str(folder)
    numba_config.CACHE_DIR = str(folder)  # type: ignore[attr-defined]


def _source_exists(func: Callable[..., Any]) -> bool:
    code = getattr(func, "__code__", None)
    return code is not None and os.path.exists(code.co_filename)


def kernel(parallel: bool = False, inline: bool = False) -> Callable[[F], F]:
    """``numba.njit`` with nogil (so a worker thread can run it) and the cache when the source file exists.

    ``inline``: numba inlines the function into its callers' IR. A call of a compiled function that takes arrays
    counts a reference up and down per array argument — atomic instructions that cost more than a small helper's
    own work, and that two threads walking the same arrays contend for. Hot helpers called per tick are inlined."""

    def wrap(func: F) -> F:
        compiled = numba.njit(cache=_source_exists(func), nogil=True, parallel=parallel, error_model="numpy",
                              inline="always" if inline else "never")(func)
        return cast(F, compiled)

    return wrap


def _fused_multiply_add(typingctx: Any, a: Any, b: Any, c: Any) -> tuple[Any, Callable[..., Any]]:
    signature = types.float64(types.float64, types.float64, types.float64)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.fma(*args)

    return signature, codegen


fma = cast(Callable[[float, float, float], float], intrinsic(_fused_multiply_add))
"""a × b + c rounded once, a fused multiply-add (in kernels only). TA-Lib is built with its recursions contracted
to fused multiply-adds, so a kernel that must give TA-Lib's digits uses it where TA-Lib's build does."""
