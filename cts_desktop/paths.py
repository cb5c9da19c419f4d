"""Where the app keeps its files: data, config, logs and cache folders (platformdirs, app name ``cts-desktop``).

Nothing is created at import time; :func:`resolve_paths` computes the folders and :meth:`AppPaths.ensure` creates
them. ``--data-dir`` moves all four under one root so tests and portable installs never touch the real home.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cts_desktop import APP_NAME


@dataclass(frozen=True, slots=True)
class AppPaths:
    data: Path
    config: Path
    logs: Path
    cache: Path

    @property
    def sqlite_file(self) -> Path:
        return self.data / "cts.sqlite3"

    @property
    def log_file(self) -> Path:
        return self.logs / "cts-desktop.log"

    @property
    def numba_cache(self) -> Path:
        return self.cache / "numba"

    def ensure(self) -> AppPaths:
        for folder in (self.data, self.config, self.logs, self.cache):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def resolve_paths(data_dir: str | Path | None = None) -> AppPaths:
    """Folders for this user, or all under ``data_dir`` when one is given."""
    if data_dir is not None:
        root = Path(data_dir).expanduser().resolve()
        return AppPaths(data=root / "data", config=root / "config", logs=root / "logs", cache=root / "cache")
    import platformdirs

    return AppPaths(
        data=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        config=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        logs=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
        cache=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
    )
