"""The parts ``cts_desktop.facade.AppFacade`` is composed of, one job each (see facade.py)."""
