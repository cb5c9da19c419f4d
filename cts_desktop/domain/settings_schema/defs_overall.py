"""Overall and Exchange tabs: position cost, volume sizing inputs, symbol selection, exchange limits and account
defaults (DOMAIN Part 1 §1, §9, §11; Part 2 §7, §8.4–8.6, §9.1–9.3)."""

from __future__ import annotations

from cts_desktop.domain.settings_schema.builder import TabBuilder
from cts_desktop.domain.settings_schema.model import Tab

_o = TabBuilder(Tab.OVERALL)

_o.group("Main")
_o.decimal(
    "overall.position_cost", "Position cost", 0.1, 0.01, 1.0, 0.01, unit="%",
    help="The step unit as a percentage of price (0.1 % → 0.001), independent of balance. TP distance = TP "
    "factor × position cost × entry; indications count steps of this size.",
)
_o.decimal(
    "overall.default_taker_fee", "Default taker fee", 0.055, 0.0, 0.2, 0.005, unit="%",
    help="Fee charged on entry and exit of pseudo positions when the market does not report its own taker fee.",
)
_o.decimal(
    "overall.base_volume_factor", "Base volume factor", 1.0, 0.5, 10.0, 0.5, unit="×",
    help="Global multiplier of live position notional (exchange level only). It multiplies with each "
    "connection's own volume factor (Connections › Volume, the Dashboard card): neither replaces the other.",
)
_o.integer(
    "overall.loss_trigger_pct", "Range percentage (loss trigger)", 20, 5, 30, 5, unit="%",
    help="At volume factor 1 with 'positions average' positions open, an adverse move of this size would "
    "consume the whole balance; notional = balance × factors ÷ (positions average × this).",
)
_o.integer(
    "overall.positions_average", "Positions average", 50, 20, 300, 10,
    help="Expected number of concurrently open live positions, used to size each one.",
)
_o.integer(
    "overall.leverage_pct", "Leverage percentage", 100, 5, 100, 5, unit="%",
    help="Share of the symbol's maximum leverage used when 'use maximum leverage' is off.",
)
_o.integer(
    "overall.max_leverage", "Maximum leverage", 125, 1, 125, 1, unit="×",
    help="Hard cap on the leverage set for any live position.",
)
_o.flag(
    "overall.use_max_leverage", "Use maximum leverage", True,
    help="Use the symbol's maximum leverage (capped by 'maximum leverage') instead of the percentage.",
)
_o.flag(
    "overall.min_volume_enforcement", "Minimum volume enforcement", True,
    help="Raise a quantity below the market's minimum to that minimum (logged); off: skip such a trade.",
)
_o.integer(
    "overall.prehistoric_days", "Prehistoric data", 5, 1, 15, 1, unit="days",
    help="History loaded for each symbol when an engine starts, capped by the market data retention.",
)
_o.choice(
    "overall.market_timeframe_s", "Market timeframe", 1,
    [(1, "1 s"), (5, "5 s"), (15, "15 s"), (30, "30 s"), (60, "1 min"), (300, "5 min")], unit="s",
    help="Sampling interval of the per-symbol price series the Main indications are built from.",
)
_o.choice(
    "overall.trade_mode", "Trade mode", "both", [("main", "Main"), ("preset", "Preset"), ("both", "Both")],
    help="Which pipelines may place live orders.",
)

_o.group("Symbols")
_o.choice(
    "overall.symbol_order_type", "Symbol order", "volume_24h",
    [
        ("volume_24h", "24h volume"), ("price_change_24h", "24h price change"), ("volatility", "Volatility"),
        ("alphabetical", "Alphabetical"),
    ],
    help="Ranking used to pick symbols automatically: the exchange's 24 h quote volume, the size of its 24 h price "
    "change (up or down), the volatility over the volatility calculation period, or the name.",
)
_o.integer(
    "overall.symbol_count", "Number of symbols", 8, 2, 30, 1,
    help="Symbols taken from the top of the ranking (forced symbols come on top of these).",
)
_o.choice(
    "overall.quote_asset", "Quote asset", "USDT", [("USDT", "USDT"), ("USDC", "USDC")],
    help="Settlement asset of the perpetual contracts traded; appended to the base assets at use.",
)
_o.flag(
    "overall.use_main_symbols", "Use main symbols", False,
    help="Trade only the main symbols and the forced symbols instead of the ranking, on every connection. A "
    "connection can also ask for them on its own (Connections › Symbols): either one on is enough.",
)
_o.symbols(
    "overall.main_symbols", "Main symbols", ("BTC", "ETH", "BNB", "XRP", "ADA", "SOL"), max_items=100,
    help="Base assets traded when 'use main symbols' is on.",
)
_o.symbols(
    "overall.forced_symbols", "Forced symbols", ("XRP", "BCH"), max_items=50,
    help="Base assets always traded, whatever the ranking.",
)

OVERALL_SETTINGS = _o.build()

_e = TabBuilder(Tab.EXCHANGE)

_e.group("Positions")
_e.integer(
    "exchange.max_positions.bybit", "Max open positions (Bybit)", 500, 1, 500, 1,
    help="Live positions open at once on a Bybit connection; Real sets are not mirrored beyond it.",
)
_e.integer(
    "exchange.max_positions.bingx", "Max open positions (BingX)", 100, 1, 500, 1,
    help="Live positions open at once on a BingX connection; Real sets are not mirrored beyond it.",
)
_e.integer(
    "exchange.max_positions.other", "Max open positions (other exchanges)", 100, 1, 500, 1,
    help="Live positions open at once on a generic ccxt connection.",
)

EXCHANGE_SETTINGS = _e.build()
