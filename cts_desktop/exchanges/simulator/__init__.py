"""Loopback exchange simulator speaking enough Bybit V5 and BingX swap REST for ccxt to run unchanged."""
