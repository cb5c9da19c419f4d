"""Backtest runner, auto-optimal search and presets over the shared exit simulator."""
