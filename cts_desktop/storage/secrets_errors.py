"""The single error every secret-store failure becomes.

Callers (connection dialogs, the DB URL resolver, start-up) handle one type and show its message as is. The message
is written by this package and never contains a secret value: backend exception texts are redacted before use and the
original exception is not chained, because a chained traceback would carry the backend's raw text into the logs.
"""

from __future__ import annotations


class SecretStoreError(Exception):
    """A secret could not be read, written, or deleted, or no acceptable backend exists."""
