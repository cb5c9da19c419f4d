"""Sizing: the Part 2 §7 formula, round-down to both ccxt precision modes, minimums and enforcement."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cts_desktop.domain.sizing import (
    MarketRules,
    PrecisionMode,
    VolumeSettings,
    leverage_for,
    round_down,
    size_position,
)

BTC = MarketRules(amount_precision=0.001, precision_mode=PrecisionMode.TICK_SIZE, min_amount=0.001,
                  min_notional=5.0, max_leverage=100.0)
DEFAULT = VolumeSettings()


def test_formula_example_of_the_design() -> None:
    # 1 000 USDT, factors 1, 50 positions, 20 % → 100 USDT notional; at 25 000 → 0.004 BTC exactly
    s = size_position(1000.0, 25_000.0, BTC, DEFAULT)
    assert s.quantity == Decimal("0.004") and s.notional == pytest.approx(100.0)
    assert not s.adjusted and not s.skipped and s.leverage == 100 and s.margin == pytest.approx(1.0)


def test_rounds_down_in_both_precision_modes() -> None:
    # 100 USDT at 30 000 = 0.003333… → 0.003
    assert size_position(1000.0, 30_000.0, BTC, DEFAULT).quantity == Decimal("0.003")
    places = MarketRules(amount_precision=3, precision_mode=PrecisionMode.DECIMAL_PLACES, max_leverage=50)
    assert size_position(1000.0, 30_000.0, places, DEFAULT).quantity == Decimal("0.003")
    coarse = MarketRules(amount_precision=5.0, precision_mode=PrecisionMode.TICK_SIZE)  # 5-contract lots
    assert size_position(1000.0, 0.7, coarse, DEFAULT).quantity == Decimal("140")  # 142.857… → 140
    # no float artefacts: 0.3 / 0.1 must not floor to 2
    assert round_down(0.3, Decimal("0.1")) == Decimal("0.3")
    assert round_down(0.30000000000000004, Decimal("0.1")) == Decimal("0.3")


def test_a_budget_of_three_tenths_at_a_tenth_is_three_lots_exactly() -> None:
    """Issue 14 item 5: in float 0.3 / 0.1 is 2.9999999999999996, which floored to 2.999 — one step short."""
    no_minimum = MarketRules(amount_precision=0.001, precision_mode=PrecisionMode.TICK_SIZE, max_leverage=10)
    s = size_position(3.0, 0.1, no_minimum, DEFAULT)  # 3 USDT / (50 × 20 %) = 0.3 USDT budget
    assert s.quantity == Decimal("3.000") and not s.adjusted and s.budget == Decimal("0.3")
    assert s.notional == Decimal("0.3") and s.margin == Decimal("0.03")
    decimals = size_position(Decimal("3"), Decimal("0.1"), no_minimum, DEFAULT)
    assert decimals.quantity == Decimal("3.000")
    # the same in decimal places mode and with a factor that is not exact in binary either
    places = MarketRules(amount_precision=3, precision_mode=PrecisionMode.DECIMAL_PLACES)
    assert size_position(0.7, 0.1, places, VolumeSettings(positions_average=10, risk_percent=10)).quantity == 7
    assert size_position(10.0, 0.1, places, VolumeSettings(connection_volume_factor=0.3)).quantity == 3


def test_market_numbers_are_kept_as_exact_decimals() -> None:
    rules = MarketRules(amount_precision=0.1, precision_mode=PrecisionMode.TICK_SIZE, min_notional=5.1,
                        max_amount="28740.0", max_leverage=50)
    assert rules.step == Decimal("0.1") and rules.min_notional == Decimal("5.1")
    assert rules.max_amount == Decimal("28740") and rules.max_leverage == 50
    # a minimum notional of 5.1 at 1.7 is exactly 3 contracts: no extra step "for a hair below"
    assert size_position(10.0, 1.7, rules, DEFAULT).quantity == Decimal("3.0")


def test_factors_and_contract_size() -> None:
    s = size_position(2000.0, 25_000.0, BTC, VolumeSettings(base_volume_factor=1.5, connection_volume_factor=0.5,
                                                            positions_average=100, risk_percent=10.0),
                      block_factor=2.0, dca_step_factor=1.0)
    assert s.notional == pytest.approx(2000 * 1.5 * 0.5 * 2.0 / (100 * 0.10))  # 300 USDT → 0.012
    assert s.quantity == Decimal("0.012")
    lots = MarketRules(amount_precision=1, precision_mode=PrecisionMode.TICK_SIZE, contract_size=10.0)
    assert size_position(1000.0, 2.0, lots, DEFAULT).quantity == Decimal("5")  # 100 USDT / (2 × 10)


def test_minimum_enforcement_raises_or_skips() -> None:
    small = size_position(100.0, 25_000.0, BTC, DEFAULT)  # 10 USDT → 0.0004 → below 0.001
    assert small.adjusted and not small.skipped and small.quantity == Decimal("0.001")
    assert small.calculated_quantity == Decimal("0.000") and "raised" in small.reason
    off = size_position(100.0, 25_000.0, BTC, VolumeSettings(min_volume_enforcement=False))
    assert off.skipped and off.quantity == 0 and "enforcement is off" in off.reason
    # minimum notional 5 USDT at price 3 000 → 0.001667 → 0.002 (0.001 would be 3 USDT)
    notional_min = size_position(10.0, 3_000.0, BTC, DEFAULT)
    assert notional_min.quantity == Decimal("0.002") and notional_min.notional >= 5.0


def test_leverage_rules_and_margin() -> None:
    assert leverage_for(BTC, DEFAULT) == 100
    assert leverage_for(BTC, VolumeSettings(max_leverage=20)) == 20
    assert leverage_for(BTC, VolumeSettings(use_max_leverage=False, leverage_percent=25)) == 25
    assert leverage_for(MarketRules(0.001, PrecisionMode.TICK_SIZE, max_leverage=25),
                        VolumeSettings(use_max_leverage=False, leverage_percent=10)) == 3  # 2.5 rounds up
    starved = size_position(1000.0, 25_000.0, BTC, VolumeSettings(max_leverage=10), free_margin=5.0)
    assert starved.skipped and "free margin" in starved.reason  # 100 USDT at 10× needs 10


def test_no_balance_no_trade() -> None:
    for balance in (0.0, -1.0, float("nan")):
        s = size_position(balance, 25_000.0, BTC, DEFAULT)
        assert s.skipped and s.quantity == 0
    with pytest.raises(ValueError):
        MarketRules(amount_precision=3, precision_mode=3)  # type: ignore[arg-type]  # significant digits


def test_maximum_amount_caps() -> None:
    capped_market = MarketRules(amount_precision=0.001, precision_mode=PrecisionMode.TICK_SIZE, min_amount=0.001,
                                max_amount=0.0505, max_leverage=100.0)
    s = size_position(100_000.0, 25_000.0, capped_market, DEFAULT)  # 10 000 USDT → 0.4 BTC
    assert s.adjusted and not s.skipped and s.quantity == Decimal("0.050") and "maximum" in s.reason
    assert size_position(1000.0, 25_000.0, capped_market, DEFAULT).quantity == Decimal("0.004")  # below the cap
