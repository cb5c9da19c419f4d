"""How exchange data reaches an engine now, as its status shows it: prices (websocket or REST polling) and, live,
the account's own fills, orders and positions (the private stream, or the REST sync alone after it failed)."""

from __future__ import annotations

from cts_desktop.events.status import StreamState
from cts_desktop.exchanges.live_prices import LivePriceFeed
from cts_desktop.exchanges.private_stream import PrivateStream


def stream_states(feed: LivePriceFeed | None, private: PrivateStream | None) -> tuple[StreamState, ...]:
    states = []
    if feed is not None and feed.mode != "idle":
        websocket = feed.mode == "websocket"
        states.append(StreamState("prices", websocket, "websocket" if websocket else
                                  f"polling REST every {feed.poll_interval_s:g} s"))
    if private is not None and private.mode != "idle":
        pushed = private.received
        if private.mode == "stream":
            states.append(StreamState("account", True, f"private stream: {pushed['trades']} fills, "
                                                       f"{pushed['orders']} order updates"))
        else:
            states.append(StreamState("account", False, f"REST sync only: {private.last_error}"))
    return tuple(states)
