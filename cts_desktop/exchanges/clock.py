"""The exchange's clock as seen from this computer: its offset, measured from the exchange's server time and applied
to the timestamp of every signed request.

An exchange refuses a signed request whose timestamp lies outside its receive window (Bybit V5: ``server −
recv_window ≤ timestamp < server + 1 s`` with recv_window 5 s, retCode 10002 "check your server timestamp"; BingX:
code 100421 "timestamp mismatch"), so a computer whose clock is a few seconds off cannot trade at all. ccxt's own
remedy (``options['adjustForTimeDifference']`` → ``load_time_difference()`` → ``options['timeDifference']``) measures
once, at ``load_markets``, takes the receive time as the server's (no round-trip correction), and only Bybit's
``nonce()`` subtracts it — BingX's ``nonce()`` is plain ``milliseconds()``. Hence this module:

* offset = server time − (t_send + t_recv) / 2, the midpoint of the round trip (error at most half the round trip);
  of ``samples`` readings the one with the shortest round trip is kept;
* measured before the first signed request, again once the reading is older than ``refresh_s``, and at once when the
  exchange refuses a request for its timestamp (see :func:`install`);
* applied by making the ccxt instance's ``milliseconds()`` the exchange's time: Bybit's ``nonce()`` (``milliseconds()
  − options['timeDifference']``, which stays 0) and BingX's (``milliseconds()``) stamp every signed REST request with
  it (``X-BAPI-TIMESTAMP`` / ``timestamp=``), in ``ccxt.async_support`` and in ``ccxt.pro`` alike (pro inherits
  ``sign()``; its private websocket login and websocket orders read ``milliseconds()`` too), and ccxt's own "now"
  defaults (BingX's ``fetch_my_trades`` ends at ``milliseconds()``: fills stamped by a clock ahead of ours were
  cut off) are the exchange's now as well;
* a skew (|offset| > 1 s; cleared at ≤ 0.8 s) is logged once per change and handed to listeners, so the engine can
  show it on its Dashboard card and raise one alert. Trading goes on with the corrected timestamps meanwhile.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cts_desktop.events.status import describe_offset
from cts_desktop.exchanges.errors import AuthenticationError, AuthProblem, CodeMap, ExchangeError, translate

log = logging.getLogger(__name__)

SKEW_MS = 1_000  # a larger offset is shown (card, log, alert)
CLEAR_MS = 800  # ... until it is back below this (no flapping around the threshold)
REFRESH_S = 300.0
RETRY_S = 30.0  # after a failed measurement
SAMPLES = 3

_MEASURING: contextvars.ContextVar[bool] = contextvars.ContextVar("cts_clock_measuring", default=False)


@dataclass(frozen=True, slots=True)
class ClockReading:
    offset_ms: int  # exchange clock − local clock: positive when this computer's clock is behind
    rtt_ms: int
    skewed: bool
    measured_at: float  # time.time() of the measurement


def wall_ms() -> int:
    """This computer's clock (ms), as ccxt's own ``milliseconds()`` reads it."""
    return int(time.time() * 1000)


Listener = Callable[[ClockReading, bool], None]  # (reading, the skew state changed)


class ExchangeClock:
    def __init__(
        self,
        exchange: str,
        server_ms: Callable[[], Awaitable[int]],
        local_ms: Callable[[], int] = wall_ms,
        *,
        refresh_s: float = REFRESH_S,
        samples: int = SAMPLES,
        logger: logging.Logger | None = None,
    ) -> None:
        self.exchange = exchange
        self.server_ms = server_ms
        self.local_ms = local_ms
        self.refresh_s = refresh_s
        self.samples = max(1, samples)
        self.log = logger or log
        self.reading: ClockReading | None = None
        self.generation = 0  # one more per measurement
        self._due = 0.0  # monotonic time of the next scheduled measurement
        self._lock = asyncio.Lock()
        self._listeners: list[Listener] = []
        self._logged_offset: int | None = None
        self._failing = False  # the last scheduled measurement failed

    @property
    def offset_ms(self) -> int:
        return 0 if self.reading is None else self.reading.offset_ms

    def now_ms(self) -> int:
        """The exchange's time now, by this computer's clock corrected with the measured offset."""
        return int(self.local_ms()) + self.offset_ms

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every measurement; returns the unsubscribe function."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    async def ensure_fresh(self) -> None:
        """Measure when a reading is due (first use, then every ``refresh_s``). A failed measurement keeps the last
        offset, is logged (once per outage) and tried again after :data:`RETRY_S`; it never fails the caller's
        request."""
        if _MEASURING.get() or time.monotonic() < self._due:
            return
        async with self._lock:
            if time.monotonic() < self._due:
                return  # measured by another request while this one waited
            try:
                await self._measure()
            except ExchangeError as error:
                self._due = time.monotonic() + min(RETRY_S, self.refresh_s)
                if not self._failing:  # an outage is told once, not every RETRY_S
                    self.log.warning("%s server time could not be read (%s); signing with the last offset %+d ms",
                                     self.exchange, type(error).__name__, self.offset_ms)
                self._failing = True

    async def correct(self, generation: int) -> None:
        """The exchange refused a request signed with the offset of ``generation`` for its timestamp: measure again
        unless another request already did since."""
        async with self._lock:
            if self.generation == generation:
                await self._measure()

    async def measure(self) -> ClockReading:
        """Measure now (the connection test, the engine at connect)."""
        async with self._lock:
            return await self._measure()

    async def _measure(self) -> ClockReading:
        token = _MEASURING.set(True)
        try:
            best: tuple[float, float] | None = None  # (round trip, offset)
            for _ in range(self.samples):
                sent = self.local_ms()
                server = await self.server_ms()
                received = self.local_ms()
                sample = (received - sent, server - (sent + received) / 2)
                if best is None or sample[0] < best[0]:
                    best = sample
        finally:
            _MEASURING.reset(token)
        assert best is not None
        offset = round(best[1])
        was = self.reading.skewed if self.reading is not None else False
        skewed = abs(offset) > (CLEAR_MS if was else SKEW_MS)
        reading = ClockReading(offset, round(best[0]), skewed, time.time())
        self.reading = reading
        self.generation += 1
        self._due = time.monotonic() + self.refresh_s
        self._failing = False
        self._report(reading, changed=skewed != was)
        return reading

    def _report(self, reading: ClockReading, *, changed: bool) -> None:
        text = (f"this computer's clock is {describe_offset(reading.offset_ms)} of {self.exchange}'s "
                f"(offset {reading.offset_ms:+d} ms, round trip {reading.rtt_ms} ms)")
        moved = self._logged_offset is None or abs(reading.offset_ms - self._logged_offset) > SKEW_MS
        if reading.skewed and (changed or moved):
            self.log.warning("%s: signed requests carry the corrected time; turn on the system's time "
                             "synchronisation", text)
        elif changed:
            self.log.info("%s: back within %d ms", text, SKEW_MS)
        elif self._logged_offset is None:
            self.log.info("%s", text)
        if changed or moved or self._logged_offset is None:
            self._logged_offset = reading.offset_ms
        for listener in list(self._listeners):
            listener(reading, changed)


def is_clock_refusal(exc: BaseException, exchange_id: str, codes: CodeMap) -> bool:
    """Did the exchange refuse the request for its timestamp (Bybit 10002, BingX 100421, ccxt ``InvalidNonce``)?"""
    error = translate(exc, exchange_id, codes)
    return isinstance(error, AuthenticationError) and error.problem is AuthProblem.CLOCK_SKEW


def install(client: Any, clock: ExchangeClock, exchange_id: str, codes: CodeMap, *, sign: bool = True) -> None:
    """Sign every request of the ccxt instance ``client`` with the exchange's time.

    Every HTTP request (``fetch2``, which signs and sends) first lets the clock measure when a reading is due. With
    ``sign`` (the exchange signs ``milliseconds()`` through ``nonce()``: Bybit, BingX) ``milliseconds()`` becomes the
    corrected clock, and a request the exchange refuses for its timestamp is signed and sent once more after a new
    measurement. That repeat is safe for an order too: the exchange checked the timestamp before anything else and
    processed nothing, and the order keeps its client id. Install this outside any per-request slot (the rate
    limiter wraps ``fetch2`` first): a measurement needs a slot of its own."""
    if sign:
        client.milliseconds = clock.now_ms
    raw_fetch2 = client.fetch2

    async def fetch2(*args: Any, **kwargs: Any) -> Any:
        await clock.ensure_fresh()
        generation = clock.generation
        try:
            return await raw_fetch2(*args, **kwargs)
        except Exception as exc:
            if not sign or _MEASURING.get() or not is_clock_refusal(exc, exchange_id, codes):
                raise
            clock.log.warning("%s refused a request for its timestamp (clock offset %+d ms): measuring again",
                              exchange_id, clock.offset_ms)
            try:
                await clock.correct(generation)
            except ExchangeError:
                raise exc from None
            return await raw_fetch2(*args, **kwargs)

    client.fetch2 = fetch2
