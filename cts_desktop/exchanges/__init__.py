"""Exchange access through ccxt: adapter, errors, connections, connection test, symbols, live prices, simulator.

Public face (import from the submodules; nothing here imports ccxt or aiohttp):

* ``adapter.ExchangeAdapter`` — every exchange operation; ``adapter.OrderOutcomeUnknownError``;
* ``errors`` — ``ExchangeError`` and its subclasses (``TemporaryError``, ``RateLimitedError``,
  ``ExchangeUnavailableError``, ``AuthenticationError`` + ``AuthProblem``, ``InsufficientFundsError``,
  ``InvalidOrderError``, ``DuplicateClientIdError``, ``OrderUnknownError``), ``RetryPolicy``;
* ``models`` — value objects (``OrderRequest``, ``Order``, ``Position``, ``Balance``, ``Ticker``, ...);
* ``capabilities`` — the per-exchange table, ``RateLimit``;
* ``clock`` — ``ExchangeClock`` (the exchange's clock offset, applied to signed timestamps; ``adapter.clock``);
* ``connections`` — ``ConnectionConfig``, ``ConnectionStore`` / ``SecretStore`` protocols, ``ConnectionService``;
* ``connection_test.run_connection_test``; ``symbols.select_symbols`` / ``SymbolSelector``;
* ``live_prices.LivePriceFeed``; ``replay_connection.ReplayRuntime``; ``simulator.SimulatorServer``.
"""
