"""Opening the services with every start-up failure turned into one plain message (no traceback for the user)."""

from __future__ import annotations

import logging

from cts_desktop.services import AppOptions, Services
from cts_desktop.storage.db import DatabaseDamagedError, DatabaseError
from cts_desktop.storage.secrets import SecretStoreError

log = logging.getLogger("cts.system")


class StartupError(RuntimeError):
    """The app cannot start; the message says why and what to do."""


def open_services(options: AppOptions) -> Services:
    try:
        return Services(options)
    except DatabaseDamagedError as error:
        raise StartupError(str(error)) from error  # says itself what is wrong and how to restore
    except DatabaseError as error:
        raise StartupError(f"the database could not be opened: {error}") from error
    except SecretStoreError as error:
        raise StartupError(f"the secrets store could not be opened: {error}") from error
    except OSError as error:
        raise StartupError(f"a folder or file could not be used: {error}") from error
