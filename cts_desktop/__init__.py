"""CTS Desktop: a desktop trading system for USDT-perpetual futures (Bybit, BingX) built on ccxt and Qt."""

__version__ = "0.1.0"
APP_NAME = "cts-desktop"
