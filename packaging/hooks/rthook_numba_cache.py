"""PyInstaller runtime hook: numba's on-disk cache goes to the user cache folder (``<cache>/numba``).

Why: the bundle folder may be read-only (Program Files, /Applications, ~/.local/opt owned by another user) and
numba would otherwise try ``__pycache__`` next to the sources. numba reads ``NUMBA_CACHE_DIR`` once, when it is
first imported, so it is set here before any application code runs; ``--data-dir DIR`` moves it to
``DIR/cache/numba`` like every other folder (see ``cts_desktop/paths.py``). An explicit NUMBA_CACHE_DIR wins.
"""

import os
import sys


def _data_dir(argv):
    for i, arg in enumerate(argv):
        if arg == "--data-dir" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--data-dir="):
            return arg.split("=", 1)[1]
    return None


if not os.environ.get("NUMBA_CACHE_DIR"):
    try:
        from cts_desktop.paths import resolve_paths

        os.environ["NUMBA_CACHE_DIR"] = str(resolve_paths(_data_dir(sys.argv[1:])).numba_cache)
    except Exception:  # never stop the app from starting over a cache folder; numba then compiles in memory
        pass
