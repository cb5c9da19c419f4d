"""The application layer: one part per screen between the services and the Qt UI, no Qt here.

:class:`~cts_desktop.application.application.Application` holds the parts and gives each tab its own:

==================  ======================================================================================
part                screen / job
==================  ======================================================================================
overview            window status bar and tray: app overview, engine status, open positions, close-to-tray
dashboard           Dashboard tab and chart: engine commands, cards, tables, ticker, chart data
connections         Connections tab: list, detail, add, save, keys (``switches``: test, enable, live, delete)
settings            Settings tab: set/reset/apply, trim preview, import/export (``database``: the DB choice)
strategies          Strategies tab: history, backtest and auto-optimal runs, presets (loaded on first use)
monitoring          Monitoring tab: statistics, log pages, export, health, restarts, alerts
security            Security menu: the encrypted secrets file
==================  ======================================================================================

Each part module re-exports the types its screen shows, so ``ui/`` imports only this layer, ``domain/`` and
``events/``. Read models that run SQL live here too (``dashboard_data``, ``connection_data``).
"""
