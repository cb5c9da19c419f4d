"""Which settings keys product code reads: a recorder over :class:`SettingsStore` (issue 16 item 7).

Every mapping :meth:`SettingsStore.values` hands out records each key looked up in it, with the module that looked
it up (``SettingsStore.get`` too). Reads by the schema itself, its validation and the settings page's display are
not readers: they show and check a value, they do not act on it.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from cts_desktop.storage.settings_store import SettingsStore

NOT_READERS = (  # modules that show, check, store or test a value without acting on it
    "cts_desktop.storage.settings_store", "cts_desktop.ui.tabs.settings", "cts_desktop.ui.settings_editors",
    "cts_desktop.ui.settings_matrix", "cts_desktop.application.settings", "tests.",
)
HELPERS = ("cts_desktop.domain.settings",)  # the schema's pure functions: whoever called them is the reader


class Reads:
    def __init__(self) -> None:
        self.by_key: dict[str, set[str]] = defaultdict(set)

    def note(self, key: object, depth: int) -> None:
        """The reader is the first frame up the stack in the app's code that is not one of the schema's helpers;
        none (or a display, validation or test frame first): not a read."""
        if not isinstance(key, str):
            return
        frame = sys._getframe(depth)
        while frame is not None:
            module = str(frame.f_globals.get("__name__", ""))
            if module.startswith(NOT_READERS):
                return
            if module.startswith("cts_desktop.") and not module.startswith(HELPERS):
                self.by_key[key].add(module)
                return
            frame = frame.f_back  # type: ignore[assignment]


class RecordingValues(dict[str, object]):
    reads: Reads

    def __getitem__(self, key: str) -> object:
        self.reads.note(key, 2)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.reads.note(key, 2)
        return super().get(key, default)


@contextmanager
def recording(monkeypatch: pytest.MonkeyPatch) -> Iterator[Reads]:
    reads = Reads()
    original_values, original_get = SettingsStore.values, SettingsStore.get

    def values(self: SettingsStore) -> dict[str, object]:
        out = RecordingValues(original_values(self))
        out.reads = reads
        return out

    def get(self: SettingsStore, key: str) -> Any:
        reads.note(key, 2)
        return original_get(self, key)

    monkeypatch.setattr(SettingsStore, "values", values)
    monkeypatch.setattr(SettingsStore, "get", get)
    yield reads
