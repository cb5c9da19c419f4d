"""The settings schema: every setting accepts exactly its documented values and rejects everything else by name.

Property tests run per setting (parametrised over ``SETTINGS``) so a new setting is covered the moment it is
declared; table tests pin the figures that DOMAIN.md Part 1 and the foundation issue fix.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cts_desktop.domain.settings import (
    SETTINGS,
    SETTINGS_BY_KEY,
    SettingDef,
    SettingsValidationErrors,
    SettingType,
    SettingValidationError,
    Tab,
    allowed_text,
    confirmation_for,
    cross_field_errors,
    decode_value,
    default_values,
    encode_value,
    groups_of,
    indication_variant_counts,
    matrix_axes,
    matrix_set_count,
    parse_list_text,
    settings_of,
    step_decimals,
    validate_many,
    validate_value,
)

PER_SETTING = settings(max_examples=25, deadline=None)
KEY_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
TAB_PREFIX = {
    Tab.OVERALL: "overall.", Tab.EXCHANGE: "exchange.", Tab.INDICATIONS: "indications.",
    Tab.STRATEGY: "strategy.", Tab.SYSTEM: "system.", Tab.MONITORING: "monitoring.",
}
ids = [defn.key for defn in SETTINGS]
by_setting = pytest.mark.parametrize("defn", SETTINGS, ids=ids)


# ---------------------------------------------------------------- value generators (independent of the code)


def _grid_size(defn: SettingDef) -> int:
    assert defn.minimum is not None and defn.maximum is not None and defn.step is not None
    return int((Decimal(str(defn.maximum)) - Decimal(str(defn.minimum))) / Decimal(str(defn.step)))


def _exact(defn: SettingDef, index: int) -> float:
    """The grid value ``index`` steps above the minimum, computed in decimal (no float noise)."""
    return float(Decimal(str(defn.minimum)) + index * Decimal(str(defn.step)))


def _noisy(defn: SettingDef, index: int) -> float:
    """The same grid value computed the naive float way (carries representation noise)."""
    assert defn.minimum is not None and defn.step is not None
    return defn.minimum + index * defn.step


def _grid_number(defn: SettingDef) -> st.SearchStrategy[tuple[float, float]]:
    """(input, expected normalised) pairs of on-grid numbers, some with float noise."""
    return st.integers(0, _grid_size(defn)).flatmap(
        lambda i: st.sampled_from([(_exact(defn, i), _exact(defn, i)), (_noisy(defn, i), _exact(defn, i))])
    )


_SQLITE_PATH = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/_.-", min_size=1, max_size=40)
_NAME = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)


def _valid_text(defn: SettingDef) -> st.SearchStrategy[tuple[object, object]]:
    assert defn.text_format == "database_url", "a new TEXT format needs its own generator here"
    urls = st.one_of(
        st.just(""),
        _SQLITE_PATH.map(lambda path: f"sqlite:///{path}"),
        st.builds(
            lambda scheme, user, host, port, db: f"{scheme}://{user}@{host}:{port}/{db}",
            st.sampled_from(["postgresql", "postgresql+psycopg"]), _NAME, _NAME, st.integers(1, 65535), _NAME,
        ),
    )
    return urls.flatmap(lambda url: st.sampled_from([(url, url), (f"  {url} ", url)]))


def valid_pairs(defn: SettingDef) -> st.SearchStrategy[tuple[object, object]]:
    """(value, the normalised value the schema must return) for in-range values of ``defn``."""
    kind = defn.type
    if kind is SettingType.INT:
        return st.integers(0, _grid_size(defn)).map(lambda i: (int(_exact(defn, i)), int(_exact(defn, i))))
    if kind is SettingType.FLOAT:
        return _grid_number(defn)
    if kind is SettingType.BOOL:
        return st.booleans().map(lambda b: (b, b))
    if kind is SettingType.CHOICE:
        return st.sampled_from(defn.choices).map(lambda c: (c, c))
    if kind is SettingType.TEXT:
        return _valid_text(defn)
    if kind is SettingType.SYMBOL_LIST:
        symbols = st.lists(
            st.from_regex(r"[A-Za-z0-9]{1,10}", fullmatch=True), unique_by=str.upper,
            min_size=defn.min_items, max_size=defn.max_items,
        )
        return symbols.flatmap(
            lambda items: st.sampled_from([list, tuple]).map(
                lambda kind: (kind(items), tuple(item.upper() for item in items))
            )
        )
    pairs = st.lists(_grid_number(defn), min_size=defn.min_items, max_size=defn.max_items)
    if not defn.keep_order:
        pairs = pairs.filter(lambda ps: len({expected for _, expected in ps}) == len(ps))
    return pairs.map(
        lambda ps: (
            [given_value for given_value, _ in ps],
            tuple(e for _, e in ps) if defn.keep_order else tuple(sorted(e for _, e in ps)),
        )
    )


_WRONG_SCALARS: st.SearchStrategy[object] = st.one_of(
    st.none(), st.text(max_size=5), st.lists(st.integers(), max_size=2), st.just({})
)


def _off_grid_number(defn: SettingDef) -> st.SearchStrategy[float]:
    """Numbers strictly inside the range but clearly between two grid points."""
    assert defn.step is not None
    return st.tuples(st.integers(0, _grid_size(defn) - 1), st.floats(0.01, 0.99)).map(
        lambda t: _exact(defn, t[0]) + t[1] * defn.step  # type: ignore[operator]
    )


def _outside_number(defn: SettingDef) -> st.SearchStrategy[float]:
    assert defn.minimum is not None and defn.maximum is not None
    margin = max(1e-6, abs(defn.maximum) * 1e-6)
    return st.one_of(
        st.floats(max_value=defn.minimum - margin, allow_nan=False, allow_infinity=False),
        st.floats(min_value=defn.maximum + margin, allow_nan=False, allow_infinity=False),
        st.sampled_from([math.nan, math.inf, -math.inf]),
    )


def invalid_values(defn: SettingDef) -> st.SearchStrategy[object]:
    """Out-of-range, off-step or wrong-typed values for ``defn``."""
    kind = defn.type
    if kind is SettingType.INT:
        assert defn.minimum is not None and defn.maximum is not None and defn.step is not None
        low, high, step = int(defn.minimum), int(defn.maximum), int(defn.step)
        options = [
            st.integers(1, 10**12).map(lambda d: low - d),
            st.integers(1, 10**12).map(lambda d: high + d),
            st.integers(low, high).map(float),  # 250.0 is not a whole-number setting value
            st.booleans(),
            st.floats(allow_nan=True),
            _WRONG_SCALARS,
        ]
        if step > 1:
            options.append(st.integers(low, high).filter(lambda v: (v - low) % step != 0))
        return st.one_of(options)
    if kind is SettingType.FLOAT:
        return st.one_of(_outside_number(defn), _off_grid_number(defn), st.booleans(), _WRONG_SCALARS)
    if kind is SettingType.BOOL:
        return st.one_of(st.integers(), st.floats(), st.sampled_from(["true", "false", "yes"]), _WRONG_SCALARS)
    if kind is SettingType.CHOICE:
        as_text = [str(choice) for choice in defn.choices if not isinstance(choice, str)]
        return st.one_of(
            st.integers().filter(lambda v: v not in defn.choices),
            st.text(max_size=12).filter(lambda v: v not in defn.choices),
            st.sampled_from(as_text or ["?"]),
            st.booleans(),
            st.none(),
            st.floats(),
        )
    if kind is SettingType.TEXT:
        return st.one_of(
            st.integers(), st.none(), st.booleans(), st.lists(st.text(), max_size=2),
            st.builds(lambda u, p, h: f"postgresql://{u}:{p}@{h}/db", _NAME, _NAME, _NAME),
            st.builds(lambda h: f"postgresql://{h}/db?password=hunter2", _NAME),
            st.sampled_from(["mysql://root@localhost/db", "http://example.org", "sqlite3:///x.db"]),
            st.just("sqlite:///" + "a" * int(defn.maximum or 0)),
        )
    if kind is SettingType.SYMBOL_LIST:
        max_items = defn.max_items or 0
        return st.one_of(
            st.text(max_size=10), st.integers(), st.none(),
            st.lists(st.sampled_from(["BTC-USDT", "", "B TC", "ÄTH", "X" * 21]), min_size=1, max_size=3),
            st.lists(st.one_of(st.integers(), st.none(), st.booleans()), min_size=1, max_size=3),
            st.just([f"S{i}" for i in range(max_items + 1)]),
        )
    assert defn.max_items is not None
    too_many = [_exact(defn, i % (_grid_size(defn) + 1)) for i in range(defn.max_items + 1)]
    bad_item = st.one_of(_outside_number(defn), _off_grid_number(defn), st.booleans(), st.text(max_size=3))
    return st.one_of(
        st.integers(), st.none(), st.text(max_size=5),
        st.lists(bad_item, min_size=1, max_size=3),
        st.just(list[object]()) if defn.min_items > 0 else st.nothing(),
        st.just(too_many) if defn.keep_order else st.nothing(),
    )


def _formatted(number: float, integer: bool) -> str:
    return str(int(number)) if integer else f"{number:g}"


def assert_names_setting_and_range(defn: SettingDef, message: str) -> None:
    assert f"{defn.label} ({defn.key})" in message
    if defn.type in (SettingType.INT, SettingType.FLOAT, SettingType.NUMBER_LIST):
        assert defn.minimum is not None and defn.maximum is not None and defn.step is not None
        integer = defn.type is SettingType.INT
        expected = f"between {_formatted(defn.minimum, integer)} and {_formatted(defn.maximum, integer)}"
        assert expected in message
        assert f"in steps of {_formatted(defn.step, integer)}" in message
    elif defn.type is SettingType.CHOICE:
        for choice in defn.choices:
            assert repr(choice) in message
    elif defn.type is SettingType.BOOL:
        assert "true or false" in message
    assert allowed_text(defn.key) in message


# ---------------------------------------------------------------- per-setting properties


@by_setting
def test_in_range_values_are_accepted_and_round_trip(defn: SettingDef) -> None:
    @PER_SETTING
    @given(valid_pairs(defn))
    def check(pair: tuple[object, object]) -> None:
        value, expected = pair
        normalised = validate_value(defn.key, value)
        assert normalised == expected
        assert type(normalised) is type(expected)
        text = encode_value(defn.key, value)
        json.loads(text)  # the DB row holds plain JSON
        decoded = decode_value(defn.key, text)
        assert decoded == normalised and type(decoded) is type(normalised)

    check()


@by_setting
def test_out_of_range_off_step_and_wrong_typed_values_are_rejected_by_name(defn: SettingDef) -> None:
    @PER_SETTING
    @given(invalid_values(defn))
    def check(value: object) -> None:
        with pytest.raises(SettingValidationError) as caught:
            validate_value(defn.key, value)
        assert caught.value.key == defn.key
        assert_names_setting_and_range(defn, str(caught.value))
        with pytest.raises(SettingValidationError):
            encode_value(defn.key, value)

    check()


@by_setting
def test_default_is_valid_and_already_normalised(defn: SettingDef) -> None:
    normalised = validate_value(defn.key, defn.default)
    assert normalised == defn.default and type(normalised) is type(defn.default)
    assert decode_value(defn.key, encode_value(defn.key, defn.default)) == defn.default


@by_setting
def test_definition_is_well_formed(defn: SettingDef) -> None:
    assert KEY_RE.fullmatch(defn.key), defn.key
    assert defn.key.startswith(TAB_PREFIX[defn.tab])
    assert defn.label and defn.help and defn.group
    if defn.type in (SettingType.INT, SettingType.FLOAT, SettingType.NUMBER_LIST):
        assert defn.minimum is not None and defn.maximum is not None and defn.step is not None
        assert defn.minimum < defn.maximum and 0 < defn.step <= defn.maximum - defn.minimum
    if defn.type is SettingType.CHOICE:
        assert len(defn.choices) >= 2 and len(defn.choice_labels) == len(defn.choices)
        assert len({type(choice) for choice in defn.choices}) == 1 and not isinstance(defn.choices[0], float)
        assert defn.default in defn.choices
    if defn.type in (SettingType.SYMBOL_LIST, SettingType.NUMBER_LIST):
        assert defn.max_items is not None and defn.min_items <= defn.max_items
    for word in ("password", "secret", "api_key", "apikey", "token", "passphrase"):
        assert word not in defn.key, "secrets live in the keyring, never in settings"


# ---------------------------------------------------------------- whole-schema facts


def test_schema_is_unique_and_every_tab_has_groups() -> None:
    assert len(SETTINGS_BY_KEY) == len(SETTINGS)
    assert list(SETTINGS_BY_KEY) == [defn.key for defn in SETTINGS]
    for tab in Tab:
        assert settings_of(tab) and groups_of(tab)
    ordered_tabs = [defn.tab for defn in SETTINGS]
    assert ordered_tabs == sorted(ordered_tabs, key=list(Tab).index), "tabs are contiguous in display order"


def test_defaults_validate_as_a_whole_and_satisfy_cross_field_rules() -> None:
    defaults = default_values()
    assert set(defaults) == set(SETTINGS_BY_KEY)
    assert validate_many(defaults) == defaults
    assert cross_field_errors(defaults) == []


@pytest.mark.parametrize(
    ("key", "kind", "low", "high", "step", "default"),
    [
        ("system.position_length", SettingType.INT, 50, 500, 50, 250),
        ("system.position_threshold_pct", SettingType.INT, 10, 50, 5, 20),
        ("system.max_database_size_gb", SettingType.INT, 5, 50, 5, 20),
        ("system.volatility_period_hours", SettingType.INT, 1, 24, 1, 1),
        ("overall.position_cost", SettingType.FLOAT, 0.01, 1.0, 0.01, 0.1),
        ("overall.base_volume_factor", SettingType.FLOAT, 0.5, 10.0, 0.5, 1.0),
        ("overall.loss_trigger_pct", SettingType.INT, 5, 30, 5, 20),
        ("overall.positions_average", SettingType.INT, 20, 300, 10, 50),
        ("overall.leverage_pct", SettingType.INT, 5, 100, 5, 100),
        ("overall.max_leverage", SettingType.INT, 1, 125, 1, 125),
        ("overall.prehistoric_days", SettingType.INT, 1, 15, 1, 5),
        ("strategy.max_positions_per_set_direction", SettingType.INT, 1, 5, 1, 2),
        ("strategy.validation_timeout_s", SettingType.INT, 1, 60, 1, 15),
        ("strategy.real_min_avg_pf", SettingType.FLOAT, 0.1, 2.0, 0.1, 0.6),
        ("monitoring.restart_cooldown_min", SettingType.INT, 1, 30, 1, 5),
        ("monitoring.max_restart_attempts", SettingType.INT, 1, 10, 1, 3),
        ("monitoring.metrics_retention_days", SettingType.INT, 7, 90, 1, 30),
    ],
)
def test_documented_ranges_and_defaults(
    key: str, kind: SettingType, low: float, high: float, step: float, default: object
) -> None:
    defn = SETTINGS_BY_KEY[key]
    assert (defn.type, defn.minimum, defn.maximum, defn.step, defn.default) == (kind, low, high, step, default)


@pytest.mark.parametrize(
    ("key", "default"),
    [
        ("strategy.phase1_count", 10), ("strategy.phase1_min_win_rate", 40), ("strategy.phase2_count", 50),
        ("strategy.phase2_min_win_rate", 45), ("strategy.phase2_min_win_loss_ratio", 1.2),
        ("strategy.production_pause_win_rate", 38), ("strategy.production_max_drawdown_pct", 30),
        ("strategy.production_resume_win_rate", 43), ("strategy.main_window", 10), ("strategy.real_window", 20),
        ("strategy.exchange_window", 30), ("strategy.max_drawdown_time_hours", 12),
        ("strategy.position_cooldown_ms", 1000), ("monitoring.auto_restart", True),
        ("system.main_engine_enabled", True), ("system.preset_engine_enabled", True),
        ("overall.use_max_leverage", True), ("overall.min_volume_enforcement", True),
        ("overall.quote_asset", "USDT"), ("overall.forced_symbols", ("XRP", "BCH")),
        ("overall.main_symbols", ("BTC", "ETH", "BNB", "XRP", "ADA", "SOL")),
        ("indications.direction.range_min", 3), ("indications.direction.range_max", 30),
        ("indications.activity.enabled", True), ("indications.optimal.enabled", False),
    ],
)
def test_part_one_defaults(key: str, default: object) -> None:
    assert SETTINGS_BY_KEY[key].default == default


def test_symbol_update_interval_choices() -> None:
    defn = SETTINGS_BY_KEY["system.symbol_update_interval_min"]
    assert defn.choices == (15, 30, 60, 120, 360) and defn.default == 60
    assert defn.choice_labels == ("15 min", "30 min", "1 h", "2 h", "6 h")


def test_message_matches_the_documented_form() -> None:
    with pytest.raises(SettingValidationError) as caught:
        validate_value("system.position_length", 525)
    assert str(caught.value) == (
        "Database position length (system.position_length) must be between 50 and 500 in steps of 50, got 525"
    )
    assert caught.value.key == "system.position_length" and caught.value.message == str(caught.value)


def test_float_steps_tolerate_representation_but_not_typos() -> None:
    assert validate_value("overall.position_cost", 0.1 + 0.2) == 0.3
    assert validate_value("strategy.sl_ratios", [0.1 + 0.2, 0.7 * 3]) == (0.3, 2.1)
    assert validate_value("overall.position_cost", 1) == 1.0  # an int is a valid FLOAT value
    for typo in (0.100001, 0.105, 1.0000001):
        with pytest.raises(SettingValidationError):
            validate_value("overall.position_cost", typo)


def test_unknown_key_and_non_json_rows_are_errors() -> None:
    with pytest.raises(SettingValidationError, match=re.escape("Unknown setting 'system.nope'")):
        validate_value("system.nope", 1)
    with pytest.raises(SettingValidationError, match=r"Database position length \(system.position_length\)"):
        decode_value("system.position_length", "two hundred")
    with pytest.raises(SettingValidationError, match=re.escape("between 0.01 and 1")):
        decode_value("overall.position_cost", "NaN")
    with pytest.raises(SettingValidationError):
        decode_value("system.position_length", "250.0")


def test_symbols_are_upper_cased_base_assets() -> None:
    assert validate_value("overall.main_symbols", ["btc", " eth ", "BTC/USDT:USDT", "1000pepe"]) == (
        "BTC", "ETH", "1000PEPE",
    )
    assert parse_list_text("overall.forced_symbols", "xrp, bch;  sol") == ("XRP", "BCH", "SOL")
    assert parse_list_text("strategy.tp_factors", "6 2, 4") == (2.0, 4.0, 6.0)
    with pytest.raises(SettingValidationError, match=r"Take-profit factors \(strategy.tp_factors\)"):
        parse_list_text("strategy.tp_factors", "2 four")


def test_database_url_never_holds_a_password() -> None:
    assert validate_value("system.database_url", "postgresql+psycopg://cts@db.local:5432/cts") == (
        "postgresql+psycopg://cts@db.local:5432/cts"
    )
    with pytest.raises(SettingValidationError, match="password") as caught:
        validate_value("system.database_url", "postgresql://cts:s3cr3t-pw@db.local/cts")
    assert "s3cr3t-pw" not in str(caught.value)


# ---------------------------------------------------------------- whole-set validation


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_validate_many_is_all_or_nothing_and_reports_every_error(data: st.DataObject) -> None:
    bad = data.draw(st.lists(st.sampled_from(SETTINGS), min_size=1, max_size=8, unique_by=lambda d: d.key))
    good = data.draw(st.lists(st.sampled_from(SETTINGS), max_size=8, unique_by=lambda d: d.key))
    values: dict[str, object] = {defn.key: defn.default for defn in good}
    for defn in bad:
        values[defn.key] = data.draw(invalid_values(defn))
    with pytest.raises(SettingsValidationErrors) as caught:
        validate_many(values)
    reported = [error.key for error in caught.value.errors]
    assert sorted(reported) == sorted(defn.key for defn in bad)
    for defn in bad:
        assert f"({defn.key})" in str(caught.value)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_validate_many_returns_every_value_normalised(data: st.DataObject) -> None:
    chosen = data.draw(st.lists(st.sampled_from(SETTINGS), max_size=10, unique_by=lambda d: d.key))
    pairs = {defn.key: data.draw(valid_pairs(defn)) for defn in chosen}
    expected = {key: normalised for key, (_, normalised) in pairs.items()}
    # Values valid one by one may still break a rule that ties settings together; exactly those are reported.
    conflicts = [error.message for error in cross_field_errors(expected) if set(expected) & set(error.keys)]
    if conflicts:
        with pytest.raises(SettingsValidationErrors) as caught:
            validate_many({key: value for key, (value, _) in pairs.items()})
        assert [error.message for error in caught.value.errors] == conflicts
    else:
        assert validate_many({key: value for key, (value, _) in pairs.items()}) == expected


def test_cross_field_rules_name_both_settings() -> None:
    with pytest.raises(SettingsValidationErrors) as caught:
        validate_many({"indications.direction.range_min": 20, "indications.direction.range_max": 10})
    (error,) = caught.value.errors
    assert error.key == "indications.direction.range_max"
    assert set(error.keys) == {"indications.direction.range_min", "indications.direction.range_max"}
    assert "(indications.direction.range_min)" in error.message and "got 10" in error.message


def test_partial_update_is_checked_against_the_stored_values() -> None:
    stored = {**default_values(), "system.position_length": 50}
    with pytest.raises(SettingsValidationErrors, match=r"system.position_length"):
        validate_many({"strategy.real_window": 60}, base=stored)
    assert validate_many({"strategy.real_window": 50}, base=stored) == {"strategy.real_window": 50}
    broken = {**stored, "strategy.phase2_count": 100}  # a conflict the update does not touch
    assert validate_many({"system.log_level": "debug"}, base=broken) == {"system.log_level": "debug"}
    stale = {**stored, "system.retired_key": 1, "strategy.phase1_count": "ten"}  # rows from an older schema
    assert validate_many({"strategy.phase2_count": 20}, base=stale) == {"strategy.phase2_count": 20}


@pytest.mark.parametrize(
    "values",
    [
        {"indications.activity.deactivation_pct": 0.3},
        {"strategy.phase1_count": 50},
        {"strategy.production_resume_win_rate": 30},
        {"strategy.block_enable_win_rate": 20},
        {"strategy.trailing_stops": (0.1, 0.2)},
        {"strategy.trailing_starts": (0.3, 0.3, 0.3), "strategy.trailing_stops": (0.1, 0.1, 0.3)},
        {"strategy.trailing_enabled": False, "strategy.trailing_only": True},
        {"strategy.dca_step_distances": (2.0, 1.0, 1.5, 0.5)},
        {"strategy.dca_max_steps": 4, "strategy.dca_step_sizes": (1.5, 2.0)},
        {"overall.use_main_symbols": True, "overall.main_symbols": (), "overall.forced_symbols": ()},
    ],
)
def test_cross_field_violations_are_found(values: dict[str, object]) -> None:
    errors = cross_field_errors(values)
    assert errors and all(set(values) & set(error.keys) for error in errors)


# ---------------------------------------------------------------- matrix and confirmations


def test_matrix_set_count_at_defaults_is_924() -> None:
    assert matrix_set_count(default_values()) == 924
    assert matrix_set_count({}) == 924
    axes = matrix_axes({})
    assert (len(axes.tp_factors), len(axes.sl_ratios), len(axes.trailing)) == (11, 21, 4)
    assert axes.trailing == (None, (0.3, 0.1), (0.6, 0.2), (1.0, 0.3))


def test_matrix_set_count_follows_the_narrowed_axes() -> None:
    narrowed = {"strategy.tp_factors": [2, 4, 6], "strategy.sl_ratios": [0.5, 1.0]}
    assert matrix_set_count({**narrowed, "strategy.trailing_enabled": False}) == 6
    assert matrix_set_count({**narrowed, "strategy.trailing_only": True}) == 18
    assert matrix_set_count(narrowed) == 24
    with pytest.raises(SettingValidationError, match="pair up by position"):
        matrix_set_count({"strategy.trailing_stops": [0.1]})


def test_indication_counts() -> None:
    assert indication_variant_counts({}) == {"direction": 28, "move": 28, "active": 10 * 9 * 9}
    with_optimal = indication_variant_counts({"indications.optimal.enabled": True})
    assert with_optimal["optimal"] == 28 * 5 * 5 * 4


def test_editor_decimals_follow_the_step() -> None:
    assert step_decimals("overall.position_cost") == 2
    assert step_decimals("indications.activity.min_volatility_pct") == 2
    assert step_decimals("system.position_length") == 0
    with pytest.raises(SettingValidationError):
        step_decimals("system.nope")


def test_confirmations_on_disable_and_on_lowering() -> None:
    assert confirmation_for("system.main_engine_enabled", True, False)
    assert confirmation_for("system.preset_engine_enabled", True, False)
    assert confirmation_for("system.main_engine_enabled", False, True) is None
    assert confirmation_for("system.position_length", 250, 200)
    assert confirmation_for("system.position_length", 250, 300) is None
    assert confirmation_for("system.log_level", "info", "debug") is None
