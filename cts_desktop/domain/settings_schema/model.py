"""The vocabulary of the settings schema: setting types, tabs, one definition per setting, and the errors.

A definition is data only (no behaviour) so the UI, the DB store and the export/import code can all read the
same facts — type, range, step, default, unit, help, tab, group — without asking a validator.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class SettingType(enum.Enum):
    """How a value is stored and checked; the UI picks its editor from it."""

    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    CHOICE = "choice"
    TEXT = "text"
    SYMBOL_LIST = "symbol_list"
    NUMBER_LIST = "number_list"


class Tab(enum.Enum):
    """The Settings page tab a setting is shown on (DOMAIN Part 2 §9)."""

    OVERALL = "Overall"
    EXCHANGE = "Exchange"
    INDICATIONS = "Indications"
    STRATEGY = "Strategy"
    SYSTEM = "System"
    MONITORING = "Monitoring"


@dataclass(frozen=True, slots=True)
class SettingDef:
    """One setting: everything needed to show, check and store it.

    Numbers: ``minimum``/``maximum`` bound the value (INT, FLOAT) or every item (NUMBER_LIST); ``step`` is the
    grid anchored at ``minimum``. TEXT: ``maximum`` is the maximum length. Lists: ``min_items``/``max_items``
    bound the length. CHOICE: ``choices`` are the allowed values, ``choice_labels`` their display texts.
    ``confirm_on_change`` is the text the UI shows before applying a risky change (see
    ``settings.confirmation_for`` for when it applies). ``keep_order`` marks a NUMBER_LIST whose items pair
    up by position with another list, so it is neither sorted nor de-duplicated. ``text_format`` names an extra
    rule for TEXT (``"database_url"``: no password may ever be part of it). ``restart_required`` tells the UI
    that the change takes effect at the next start.
    """

    key: str
    type: SettingType
    default: object
    label: str
    help: str
    tab: Tab
    group: str
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    unit: str = ""
    choices: tuple[object, ...] = ()
    confirm_on_change: str | None = None
    choice_labels: tuple[str, ...] = ()
    min_items: int = 0
    max_items: int | None = None
    keep_order: bool = False
    restart_required: bool = False
    text_format: str = ""


class SettingValidationError(ValueError):
    """A value rejected for one setting; ``str()`` names the setting (label and key) and what is allowed."""

    def __init__(self, key: str, message: str, related: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.key = key
        self.message = message
        # Every setting the error is about: the key itself plus, for a cross-field rule, the other settings.
        self.keys: tuple[str, ...] = (key, *(other for other in related if other != key))

    def __str__(self) -> str:
        return self.message


class SettingsValidationErrors(ValueError):
    """Every error found while validating a whole set of values; nothing of the set may be applied."""

    def __init__(self, errors: list[SettingValidationError]) -> None:
        self.errors = list(errors)
        lines = "\n".join(f"- {error.message}" for error in self.errors)
        count = len(self.errors)
        super().__init__(f"{count} invalid setting value{'s' if count != 1 else ''}:\n{lines}")
