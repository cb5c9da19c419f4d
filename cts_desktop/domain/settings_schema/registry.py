"""The ordered list of every setting and the key lookup that all validation goes through."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from cts_desktop.domain.settings_schema.defs_indications import INDICATION_SETTINGS
from cts_desktop.domain.settings_schema.defs_monitoring import MONITORING_SETTINGS
from cts_desktop.domain.settings_schema.defs_overall import EXCHANGE_SETTINGS, OVERALL_SETTINGS
from cts_desktop.domain.settings_schema.defs_strategy import STRATEGY_SETTINGS
from cts_desktop.domain.settings_schema.defs_system import SYSTEM_SETTINGS
from cts_desktop.domain.settings_schema.model import SettingDef, SettingValidationError
from cts_desktop.domain.settings_schema.validation import check_value

# Display order: tabs in the order of ``Tab``, settings in declaration order within each tab.
SETTINGS: tuple[SettingDef, ...] = (
    OVERALL_SETTINGS
    + EXCHANGE_SETTINGS
    + INDICATION_SETTINGS
    + STRATEGY_SETTINGS
    + SYSTEM_SETTINGS
    + MONITORING_SETTINGS
)

SETTINGS_BY_KEY: Mapping[str, SettingDef] = MappingProxyType({defn.key: defn for defn in SETTINGS})

if len(SETTINGS_BY_KEY) != len(SETTINGS):  # a duplicated key would silently shadow a definition
    raise RuntimeError("duplicate setting keys in the settings schema")


def definition(key: str) -> SettingDef:
    """The definition of ``key``; an unknown key is a validation error (e.g. from an old export)."""
    try:
        return SETTINGS_BY_KEY[key]
    except (KeyError, TypeError):
        raise SettingValidationError(str(key), f"Unknown setting {key!r}") from None


def validate_value(key: str, value: object) -> object:
    """The normalised value for ``key``; raises SettingValidationError naming the setting and what it allows."""
    return check_value(definition(key), value)
