"""Exchange access through ccxt: adapter, errors, connections, connection test, simulator."""
