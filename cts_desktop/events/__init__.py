"""The event bus and every event type: the bottom layer, importing nothing else of the project.

Services publish typed, frozen dataclass events; engines, monitoring and the UI's bridge subscribe. ``bus`` holds
the bus and the base :class:`Event`, ``app`` the services' events, ``trading`` the engines' events and ``status``
the engine status snapshots they carry.
"""
