"""What an engine may do when it starts, decided from the secret store rather than the database (the coordinator asks
before every start, restart, resume and lease take-over).

* The offline Replay connection (routed to the loopback simulator, never to an exchange) moves no money: it starts,
  on paper or "live" against the simulator, as its flag says.
* Any other connection starts only with API keys readable now and a connection test that passed with exactly those
  keys (recorded beside the keys by the test itself; ``last_test`` in the database proves nothing).
* It trades live only with a valid live-trading grant (:mod:`cts_desktop.storage.live_lock`); a live flag without one
  leaves it on paper, with an alert that says why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID, ConnectionConfig, ConnectionService
from cts_desktop.storage.live_lock import LiveLock
from cts_desktop.storage.secrets import SecretStoreError

log = logging.getLogger("cts.engine.start_gate")


@dataclass(frozen=True, slots=True)
class StartDecision:
    start: bool
    live: bool
    reason: str = ""  # why it may not start, or why it trades on paper despite its live flag


def routes_to_simulator(config: ConnectionConfig) -> bool:
    """The same rule that picks the adapter (``trading.Trading.adapter_for``): these never reach an exchange."""
    return config.id == REPLAY_CONNECTION_ID or config.is_replay


class StartGate:
    def __init__(self, connections: ConnectionService, lock: LiveLock) -> None:
        self.connections = connections
        self.lock = lock

    def decide(self, config: ConnectionConfig) -> StartDecision:
        """Blocking (reads the secret store): call it in a worker thread."""
        if routes_to_simulator(config):
            return StartDecision(True, config.is_live_trade)
        try:
            credentials = self.connections.credentials(config.id)
            tested = credentials is not None and self.connections.tested_with_current_keys(config)
        except SecretStoreError as error:
            return StartDecision(False, False, f"its API keys cannot be read: {error}")
        if credentials is None:
            return StartDecision(False, False, "it has no API keys: enter them and run the connection test")
        if not tested:
            return StartDecision(False, False, "no connection test passed with its current API keys: run the "
                                               "connection test")
        if not config.is_live_trade:
            return StartDecision(True, False)
        check = self.lock.check(config.id, credentials)
        if not check.valid:
            return StartDecision(True, False, f"live trading is switched on in the database but not confirmed: "
                                              f"{check.reason}. It trades on PAPER until live trading is switched "
                                              f"on in the window or with `cts-desktop live on \"{config.name}\"`")
        return StartDecision(True, True)


__all__ = ["StartDecision", "StartGate", "routes_to_simulator"]
