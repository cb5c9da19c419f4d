"""Loopback exchange simulator speaking enough Bybit V5 and BingX swap REST for ccxt to run unchanged.

Public face: :class:`SimulatorServer` (start/stop, ``market``, ``faults``), :class:`SimulatorConfig`,
:class:`FaultKind`. See ``server.py`` for an example.
"""

from cts_desktop.exchanges.simulator.faults import FaultKind, FaultRule
from cts_desktop.exchanges.simulator.market import SimMarket, SimulatorConfig
from cts_desktop.exchanges.simulator.server import SimulatorServer

__all__ = ["FaultKind", "FaultRule", "SimMarket", "SimulatorConfig", "SimulatorServer"]
